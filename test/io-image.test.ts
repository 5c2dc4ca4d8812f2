import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImageFile, ImageDecodeError } from '../src/io/image.js';
import { discoverInputs, globToRegExp } from '../src/io/discover.js';
import { repoRoot } from './helpers/golden.js';

const bad = join(repoRoot, 'test', 'data', 'bad-inputs');

/** Mean absolute difference of two RGB buffers of equal size. */
function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

describe('decodeImageFile on ../shared/bad-inputs (copied under test/data)', async () => {
  // Every decodable file in the set is the same 451×300 photo in another container; rgba.png with its alpha
  // dropped is the reference content.
  const reference = await decodeImageFile(join(bad, 'rgba.png'));

  it.each([
    'UPPERCASE-EXT.JPG',
    'animated.gif',
    'cmyk.jpg',
    'exif-rotate6.jpg',
    'palette.png',
    'tiff-image.tiff',
    'webp-image.webp',
    'ünïcødé 图像 name.png',
  ])('%s decodes to upright 8-bit RGB with the same content', async (name) => {
    const img = await decodeImageFile(join(bad, name));
    expect([img.width, img.height]).toEqual([451, 300]);
    expect(img.data.length).toBe(451 * 300 * 3);
    // A wrong orientation, channel order or colour conversion gives differences of 40+ levels.
    expect(meanAbsDiff(img.data, reference.data)).toBeLessThan(10);
  });

  it('reads 16-bit grey as 8-bit RGB with equal channels', async () => {
    const img = await decodeImageFile(join(bad, 'gray16.png'));
    expect([img.width, img.height]).toEqual([451, 300]);
    for (let i = 0; i < img.data.length; i += 3 * 97) {
      expect(img.data[i + 1]).toBe(img.data[i]);
      expect(img.data[i + 2]).toBe(img.data[i]);
    }
    // Same scene: the grey level follows the colour photo's luminance.
    let s = 0;
    for (let i = 0; i < img.data.length; i += 3) {
      const y = 0.299 * reference.data[i]! + 0.587 * reference.data[i + 1]! + 0.114 * reference.data[i + 2]!;
      s += Math.abs(img.data[i]! - y);
    }
    expect(s / (img.data.length / 3)).toBeLessThan(12);
  });

  it('keeps tiny and extreme aspect ratios', async () => {
    const tiny = await decodeImageFile(join(bad, 'tiny-1x1.png'));
    expect([tiny.width, tiny.height, tiny.data.length]).toEqual([1, 1, 3]);
    const wide = await decodeImageFile(join(bad, 'wide-4000x16.png'));
    expect([wide.width, wide.height]).toEqual([4000, 16]);
  });

  it.each([
    ['empty.jpg', /empty file/],
    ['not-an-image.png', /not a supported image/],
    ['truncated.jpg', /truncated or corrupt/],
  ])('rejects %s with a one-line reason', async (name, reason) => {
    const p = decodeImageFile(join(bad, name));
    await expect(p).rejects.toBeInstanceOf(ImageDecodeError);
    await expect(p).rejects.toThrow(reason);
    const msg = await p.catch((e: Error) => e.message);
    expect(msg).not.toContain('\n');
  });

  it('refuses images over the pixel limit before decoding them, naming the flag', async () => {
    await expect(decodeImageFile(join(bad, 'rgba.png'), { maxPixels: 451 * 300 - 1 })).rejects.toThrow(/--max-pixels/);
    await expect(decodeImageFile(join(bad, 'rgba.png'), { maxPixels: 451 * 300 })).resolves.toBeTruthy();
  });

  it('does not render SVG (which could reference other files)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sam-amg-svg-'));
    const svg = join(dir, 'x.png');
    writeFileSync(svg, `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="/etc/passwd"/></svg>`);
    await expect(decodeImageFile(svg)).rejects.toThrow(/unsupported format 'svg'|not a supported image/);
  });

  it('names a missing file', async () => {
    await expect(decodeImageFile(join(bad, 'nope.png'))).rejects.toThrow('no such file');
  });
});

describe('discoverInputs', () => {
  const root = mkdtempSync(join(tmpdir(), 'sam-amg-discover-'));
  for (const p of ['b.png', 'a.JPG', 'notes.txt', 'sub/z.webp', 'sub/deeper/y.TIFF', 'sub/readme.md', 'empty/.keep']) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), 'x');
  }

  it('walks folders recursively, sorted, image extensions case-insensitively, names relative to the folder', () => {
    const r = discoverInputs([root]);
    expect(r.files.map((f) => f.fileName)).toEqual(['a.JPG', 'b.png', 'sub/deeper/y.TIFF', 'sub/z.webp']);
    expect(r.missing).toEqual([]);
  });

  it('takes named files whatever their extension, once each, in argument order', () => {
    const r = discoverInputs([join(root, 'notes.txt'), join(root, 'b.png'), root]);
    expect(r.files.map((f) => f.fileName)).toEqual(['notes.txt', 'b.png', 'a.JPG', 'sub/deeper/y.TIFF', 'sub/z.webp']);
  });

  it('expands globs relative to their base folder', () => {
    expect(discoverInputs([`${root}/**/*.webp`]).files.map((f) => f.fileName)).toEqual(['sub/z.webp']);
    expect(discoverInputs([`${root}/*.png`]).files.map((f) => f.fileName)).toEqual(['b.png']);
    expect(discoverInputs(['sub/**/*'], root).files.map((f) => f.fileName)).toEqual(['deeper/y.TIFF', 'z.webp']);
  });

  it('reports inputs that match nothing', () => {
    const r = discoverInputs([join(root, 'missing.png'), join(root, 'empty'), `${root}/*.gif`]);
    expect(r.files).toEqual([]);
    expect(r.missing.map((m) => m.reason)).toEqual([
      'no such file or folder',
      'folder holds no image files',
      'pattern matches no image files',
    ]);
  });

  it('translates glob syntax', () => {
    expect(globToRegExp('**/*.png').test('a/b/c.png')).toBe(true);
    expect(globToRegExp('**/*.png').test('c.png')).toBe(true);
    expect(globToRegExp('*.png').test('a/c.png')).toBe(false);
    expect(globToRegExp('img?.[jp]*').test('img1.jpg')).toBe(true);
    expect(globToRegExp('img?.[!j]*').test('img1.jpg')).toBe(false);
    expect(globToRegExp('a+b(1).png').test('a+b(1).png')).toBe(true);
  });
});
