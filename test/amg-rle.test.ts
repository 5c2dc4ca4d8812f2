/**
 * Golden tests for COCO RLE (`rle.json`): uncompressed counts, the compressed COCO string, area,
 * decoding, and pycocotools' toBbox; plus round-trip and streaming property tests on random masks.
 *
 * The golden file is checked from the full shared set when present, and additionally from the
 * committed subset under test/golden/, so that the subset is known to pass too.
 */
import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';
import { maskToBox } from '../src/amg/boxes.js';
import {
  RleEncoder,
  maskToRle,
  rleArea,
  rleEquals,
  rleFromString,
  rleToBboxXywh,
  rleToMask,
  rleToString,
} from '../src/amg/rle.js';
import type { Rle } from '../src/amg/types.js';
import { decodeMask, goldenSource, type GoldenFile, goldenVariants, rng } from './helpers/golden.js';

/** Expected pycocotools toBbox from the inclusive mask box: pixel extent, zeros when empty. */
function cocoBboxFromMask(mask: Uint8Array, h: number, w: number): [number, number, number, number] {
  if (!mask.some((v) => v !== 0)) return [0, 0, 0, 0];
  const [x0, y0, x1, y1] = maskToBox(mask, h, w);
  return [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
}

/** Encode by streaming the column-major pixels into an encoder, mixing pushBit and push runs. */
function encodeStreaming(enc: RleEncoder, mask: Uint8Array, h: number, w: number, r: () => number): Rle {
  enc.reset();
  let pending: 0 | 1 = 0;
  let pendingCount = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = mask[y * w + x] ? 1 : 0;
      if (r() < 0.5) {
        // flush pending run (possibly merged with the same value), then push one bit
        enc.push(pending, pendingCount);
        pendingCount = 0;
        enc.pushBit(v);
      } else if (v === pending) {
        pendingCount++;
      } else {
        enc.push(pending, pendingCount);
        if (r() < 0.2) enc.push(v, 0); // a zero-length push must change nothing
        pending = v;
        pendingCount = 1;
      }
    }
  }
  enc.push(pending, pendingCount);
  return enc.finish();
}

function checkRle(g: GoldenFile): void {
  for (const c of g.cases) {
    describe(`case ${c.id} ${c.h}x${c.w}${c.large ? ' (large)' : ''}`, () => {
      c.items.forEach((item: any, k: number) => {
        it(`item ${k}`, () => {
          const [h, w] = item.expected_size as [number, number];
          expect([h, w]).toEqual([c.h, c.w]);
          const expCounts = Uint32Array.from(item.expected_counts as number[]);
          const expRle: Rle = { size: [h, w], counts: expCounts };
          let mask: Uint8Array;
          if (c.large) {
            // Only outputs are given: decode the counts and check the mask's hash.
            mask = rleToMask(expRle);
            expect(createHash('sha256').update(mask).digest('hex')).toBe(item.mask_sha256_rowmajor_u8);
            expect(maskToBox(mask, h, w)).toEqual(item.expected_box_xyxy);
          } else {
            mask = decodeMask(item.mask);
            expect(Buffer.from(rleToMask(expRle)).equals(Buffer.from(mask))).toBe(true);
          }
          const rle = maskToRle(mask, h, w);
          expect(rle.size).toEqual([h, w]);
          expect(Array.from(rle.counts)).toEqual(item.expected_counts);
          expect(rleEquals(rle, expRle)).toBe(true);
          expect(rleToString(rle.counts)).toBe(item.expected_coco_counts);
          expect(rleToString(item.expected_counts as number[])).toBe(item.expected_coco_counts);
          expect(rleEquals(rleFromString(item.expected_coco_counts, h, w), expRle)).toBe(true);
          expect(rleArea(rle)).toBe(item.expected_area);
          expect(rleToBboxXywh(rle)).toEqual(cocoBboxFromMask(mask, h, w));
          const enc = new RleEncoder(h, w);
          expect(rleEquals(encodeStreaming(enc, mask, h, w, rng(k + 1)), expRle)).toBe(true);
        });
      });
    });
  }
  it('coco_string_only', () => {
    const cases = g.coco_string_only as Array<{ counts: number[]; expected_coco_counts: string }>;
    expect(cases.length).toBeGreaterThan(0);
    for (const { counts, expected_coco_counts: s } of cases) {
      expect(rleToString(counts)).toBe(s);
      expect(rleToString(Uint32Array.from(counts))).toBe(s);
      const total = counts.reduce((a, b) => a + b, 0);
      expect(Array.from(rleFromString(s, 1, total).counts)).toEqual(counts);
    }
  });
}

for (const [src, g] of goldenVariants('rle.json')) describe(`rle.json (${src})`, () => checkRle(g));

describe('golden files are present', () => {
  it('rle.json', () => expect(goldenSource('rle.json')).not.toBeNull());
});

describe('rle properties', () => {
  it('random masks: encode → string → decode → mask round trip; streaming equals batch; bbox', () => {
    const r = rng(42);
    const enc = new RleEncoder(40, 40);
    for (let t = 0; t < 400; t++) {
      const h = 1 + Math.floor(r() * 40);
      const w = 1 + Math.floor(r() * 40);
      const mask = new Uint8Array(h * w);
      const kind = t % 4;
      if (kind === 0) {
        for (let i = 0; i < mask.length; i++) mask[i] = r() < 0.5 ? 1 : 0;
      } else if (kind === 1) {
        // blobby: a random rectangle, maybe a second one
        for (let b = 0; b < 2; b++) {
          const x0 = Math.floor(r() * w);
          const y0 = Math.floor(r() * h);
          const x1 = x0 + Math.floor(r() * (w - x0));
          const y1 = y0 + Math.floor(r() * (h - y0));
          for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) mask[y * w + x] = 1;
        }
      } else if (kind === 2) {
        mask.fill(t % 8 === 2 ? 1 : 0);
      } else {
        for (let i = 0; i < mask.length; i++) mask[i] = r() < 0.03 ? 1 : 0;
      }
      const rle = maskToRle(mask, h, w);
      // Canonical form: starts with a 0-run, only the first run may be 0, sums to h*w.
      expect(rle.counts.slice(1).every((c) => c > 0)).toBe(true);
      expect(rle.counts.reduce((a, b) => a + b, 0)).toBe(h * w);
      expect(rle.counts[0] === 0).toBe(mask[0] === 1);
      const s = rleToString(rle.counts);
      expect(s).toMatch(/^[0-o]*$/);
      const back = rleFromString(s, h, w);
      expect(rleEquals(back, rle)).toBe(true);
      expect(Buffer.from(rleToMask(back)).equals(Buffer.from(mask))).toBe(true);
      expect(rleArea(rle)).toBe(mask.reduce((a, b) => a + b, 0));
      expect(rleToBboxXywh(rle)).toEqual(cocoBboxFromMask(mask, h, w));
      const e = h === 40 && w === 40 ? enc : new RleEncoder(h, w); // reuse when the size matches
      expect(rleEquals(encodeStreaming(e, mask, h, w, r), rle)).toBe(true);
      // The counts returned by finish() are a copy: further use of the encoder leaves them alone.
      const first = encodeStreaming(e, mask, h, w, r);
      const snapshot = Array.from(first.counts);
      e.reset();
      e.push(1, h * w);
      e.finish();
      expect(Array.from(first.counts)).toEqual(snapshot);
    }
  });

  it('RleEncoder: leading 0-run, merging, growth, pixel-count validation, reuse', () => {
    const enc = new RleEncoder(3, 1000);
    enc.push(1, 2);
    enc.push(1, 3);
    enc.push(0, 0);
    for (let i = 0; i < 2995; i++) enc.pushBit((i & 1) as 0 | 1);
    const rle = enc.finish();
    expect(rle.size).toEqual([3, 1000]);
    // [0, 5] then one run per alternating bit.
    expect(rle.counts.length).toBe(2 + 2995);
    expect(Array.from(rle.counts.slice(0, 4))).toEqual([0, 5, 1, 1]);
    enc.reset();
    expect(() => enc.finish()).toThrow(/0 pixels/);
    enc.push(0, 2999);
    expect(() => enc.finish()).toThrow();
    enc.pushBit(0);
    expect(Array.from(enc.finish().counts)).toEqual([3000]);
    enc.pushBit(1);
    expect(() => enc.finish()).toThrow(/3001 pixels/);
    const empty = new RleEncoder(0, 5);
    expect(Array.from(empty.finish().counts)).toEqual([0]);
    expect(() => new RleEncoder(65536, 65536)).toThrow(RangeError);
  });

  it('compressed strings of counts >= 2^31 and large negative deltas', () => {
    // 2^32 - 1 = six full 5-bit groups ('o' = 31 | 0x20, + 48) then 3.
    expect(rleToString([0xffffffff])).toBe('oooooo3');
    for (const counts of [
      [0xffffffff],
      [0, 0x80000000, 0x7fffffff],
      [5, 0xfffffff0, 3, 1, 0xffffff00, 2],
      [1, 2, 3, 0xffffffff, 1, 0, 0xfffffffe],
    ]) {
      const s = rleToString(counts);
      expect(Array.from(rleFromString(s, 1, 1).counts)).toEqual(counts);
    }
    expect(() => rleToString([-1])).toThrow(RangeError);
    expect(() => rleToString([2 ** 32])).toThrow(RangeError);
    expect(() => rleToString([1.5])).toThrow(RangeError);
  });

  it('rleFromString rejects malformed strings', () => {
    expect(() => rleFromString('0P', 1, 1)).toThrow(/cut off/); // 'P' has the continuation flag
    expect(() => rleFromString('0 ', 1, 1)).toThrow(/invalid character/);
    expect(() => rleFromString('p', 1, 1)).toThrow(/invalid character/);
    expect(() => rleFromString('ooooooooo0', 1, 1)).toThrow(/groups/);
  });

  it('rleToMask rejects counts that do not cover the mask', () => {
    expect(() => rleToMask({ size: [2, 2], counts: Uint32Array.from([1, 2]) })).toThrow(RangeError);
    // h=2, w=3: column-major pixels 1 and 2 are (x=0, y=1) and (x=1, y=0).
    expect(Array.from(rleToMask({ size: [2, 3], counts: Uint32Array.from([1, 2, 3]) }))).toEqual([0, 1, 0, 1, 0, 0]);
  });

  it('rleToBboxXywh: runs across columns span every row; odd trailing 0-run ignored', () => {
    // 4x3, column-major: pixel (x=0,y=3) and (x=1,y=0) form one 1-run crossing a column boundary.
    const rle: Rle = { size: [4, 3], counts: Uint32Array.from([3, 2, 7]) };
    expect(rleToBboxXywh(rle)).toEqual([0, 0, 2, 4]);
    expect(rleToBboxXywh({ size: [4, 3], counts: Uint32Array.from([12]) })).toEqual([0, 0, 0, 0]);
    expect(rleToBboxXywh({ size: [4, 3], counts: Uint32Array.from([5, 1, 6]) })).toEqual([1, 1, 1, 1]);
  });

  it('rleEquals compares size and counts', () => {
    const a: Rle = { size: [2, 3], counts: Uint32Array.from([1, 2, 3]) };
    expect(rleEquals(a, { size: [2, 3], counts: Uint32Array.from([1, 2, 3]) })).toBe(true);
    expect(rleEquals(a, { size: [3, 2], counts: Uint32Array.from([1, 2, 3]) })).toBe(false);
    expect(rleEquals(a, { size: [2, 3], counts: Uint32Array.from([1, 2, 2, 1]) })).toBe(false);
  });
});
