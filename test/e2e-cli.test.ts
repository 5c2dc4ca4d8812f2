/**
 * End to end: `sam-amg run` on synthetic scenes with the oracle fixture models, whose masks are known
 * (test/fixtures/oracle.ts): a prompt inside a flat shape gives exactly that shape's colour region.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateCropBoxes } from '../src/amg/crops.js';
import { writeFixtures } from './fixtures/index.js';
import { fixturesDir, runCli } from './helpers/cli.js';
import { repoRoot } from './helpers/golden.js';
import {
  decodeCocoCounts,
  drawScene,
  maskArea,
  maskExtentXywh,
  maskIou,
  writePng,
  type Scene,
  type Shape,
} from './helpers/synth.js';

let enc = '';
let dec = '';
let encPlain = '';
let decM1 = '';
const work = mkdtempSync(join(tmpdir(), 'sam-amg-e2e-'));

/** 1024×768: no resize, and every edge on the 4-px blocks of the oracle's low-res frame, so masks are exact.
 * Edges sit on multiples of 64 (x) and 48 (y), midway between the 16×16 grid's points (32 + 64k, 24 + 48k). */
const SHAPES: Shape[] = [
  { name: 'red', colour: [220, 30, 30], kind: 'rect', x0: 64, y0: 48, x1: 320, y1: 240 },
  { name: 'blue', colour: [30, 40, 210], kind: 'rect', x0: 448, y0: 96, x1: 704, y1: 336 },
  { name: 'green', colour: [20, 170, 40], kind: 'rect', x0: 128, y0: 480, x1: 896, y1: 672 },
  { name: 'yellow', colour: [240, 220, 20], kind: 'disk', cx: 896, cy: 192, r: 90, block: 4 },
];
const BG: [number, number, number] = [200, 200, 200];

interface Coco {
  info: Record<string, unknown>;
  images: { id: number; file_name: string; width: number; height: number }[];
  annotations: {
    id: number;
    image_id: number;
    category_id: number;
    segmentation: { size: [number, number]; counts: string };
    area: number;
    bbox: number[];
    iscrowd: number;
    predicted_iou: number;
    stability_score: number;
    point_coords: number[][];
    crop_box: number[];
  }[];
  categories: { id: number; name: string }[];
  failures: { image_index: number; file_name: string; error: string }[];
}

const readCoco = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Coco;

/** Decodes every annotation of an image and checks the record's own consistency. */
function masksOf(coco: Coco, imageId: number): Uint8Array[] {
  const img = coco.images.find((i) => i.id === imageId)!;
  return coco.annotations
    .filter((a) => a.image_id === imageId)
    .map((a) => {
      expect(a.segmentation.size).toEqual([img.height, img.width]);
      const m = decodeCocoCounts(a.segmentation.counts, img.height, img.width);
      expect(a.area).toBe(maskArea(m));
      expect(a.bbox).toEqual(maskExtentXywh(m, img.height, img.width));
      expect(a.category_id).toBe(1);
      expect(a.iscrowd).toBe(0);
      const [[px, py]] = a.point_coords as [[number, number]];
      expect(m[Math.floor(py!) * img.width + Math.floor(px!)], 'the prompt point lies in its mask').toBe(1);
      return m;
    });
}

function bestMatch(masks: Uint8Array[], target: Uint8Array): number {
  return Math.max(0, ...masks.map((m) => maskIou(m, target)));
}

/** Fewest pixels by which any mask differs from `target`. The bilinear upscale of ±12 logits rounds each
 * corner of a block-aligned shape: the corner pixel itself sees 0.625² of the inside and flips sign (the
 * reference does the same), so an exact rectangle comes back without its 4 corner pixels. */
function fewestDifferent(masks: Uint8Array[], target: Uint8Array): number {
  return Math.min(...masks.map((m) => m.reduce((n, v, i) => n + (v !== target[i] ? 1 : 0), 0)));
}

async function scene(name: string, s: Scene): Promise<string> {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  await writePng(join(dir, 'scene.png'), s);
  return dir;
}

const model = () => ['--encoder', enc, '--decoder', dec];

beforeAll(async () => {
  const f = await writeFixtures(fixturesDir, ['oracle-encoder-hwc', 'oracle-decoder-m4', 'oracle-encoder-plain', 'oracle-decoder-m1']);
  enc = f['oracle-encoder-hwc']!;
  dec = f['oracle-decoder-m4']!;
  encPlain = f['oracle-encoder-plain']!;
  decM1 = f['oracle-decoder-m1']!;
});

describe('sam-amg run (oracle fixtures, SAM 1 split contract)', () => {
  const s = drawScene(1024, 768, BG, SHAPES);

  it('finds every drawn shape exactly, once, and writes a consistent COCO file', async () => {
    const dir = await scene('exact', s);
    const out = join(work, 'exact.json');
    const r = await runCli(['run', dir, '--out', out, '--points-per-side', '16', ...model()]);
    expect(r.stderr).toContain('1 ok, 0 failed');
    expect(r.code).toBe(0);
    const coco = readCoco(out);
    expect(coco.images).toEqual([{ id: 1, file_name: 'scene.png', width: 1024, height: 768 }]);
    expect(coco.categories).toEqual([{ id: 1, name: 'object', supercategory: 'object' }]);
    expect(coco.failures).toEqual([]);
    const masks = masksOf(coco, 1);
    // Four shapes and the background; duplicates from tokens 1 and 2 and from many grid points removed by NMS.
    expect(masks).toHaveLength(5);
    for (const name of ['red', 'blue', 'green']) expect(fewestDifferent(masks, s.masks.get(name)!), name).toBe(4);
    // The block disk has 4 corner pixels per convex step of its outline; the background gains them.
    expect(bestMatch(masks, s.masks.get('yellow')!)).toBeGreaterThan(0.995);
    expect(bestMatch(masks, s.masks.get('background')!)).toBeGreaterThan(0.999);
    expect(coco.annotations.map((a) => a.id)).toEqual([1, 2, 3, 4, 5]);
    for (const a of coco.annotations) {
      expect(a.predicted_iou).toBe(Math.fround(0.96)); // token 1 wins NMS over token 2 (0.92)
      expect(a.stability_score).toBeGreaterThanOrEqual(0.95);
      expect(a.crop_box).toEqual([0, 0, 1024, 768]);
    }
    const red = coco.annotations[masks.findIndex((m) => maskIou(m, s.masks.get('red')!) > 0.999)]!;
    expect(red.bbox).toEqual([64, 48, 256, 192]); // COCO extent; the reference record would say 255×191
    // Output order is the reference's: descending predicted IoU (all tie here), ties in grid order.
    const firstPointOrder = coco.annotations.map((a) => a.point_coords[0]![1]! * 1024 + a.point_coords[0]![0]!);
    expect([...firstPointOrder].sort((x, y) => x - y)).toEqual(firstPointOrder);
    expect(readdirSync(work).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('gives the same masks with the plain [1,3,1024,1024] encoder and a single-mask (M=1) decoder', async () => {
    const dir = await scene('plain', s);
    const out = join(work, 'plain.json');
    const r = await runCli(['run', dir, '--out', out, '--points-per-side', '16', '--encoder', encPlain, '--decoder', decM1]);
    expect(r.code).toBe(0);
    const masks = masksOf(readCoco(out), 1);
    expect(masks).toHaveLength(5);
    for (const name of ['red', 'blue', 'green']) expect(fewestDifferent(masks, s.masks.get(name)!), name).toBe(4);
    for (const [name, target] of s.masks) expect(bestMatch(masks, target), name).toBeGreaterThan(0.995);
  });

  it('applies the thresholds given as flags', async () => {
    const dir = await scene('thresh', s);
    const out = join(work, 'thresh.json');
    // Only token 1 (0.96) clears 0.95; nothing clears 0.97.
    let r = await runCli(['run', dir, '--out', out, '--points-per-side', '16', '--pred-iou-thresh', '0.95', ...model()]);
    expect(r.code).toBe(0);
    expect(readCoco(out).annotations.every((a) => a.predicted_iou === Math.fround(0.96))).toBe(true);
    r = await runCli(['run', dir, '--out', out, '--points-per-side', '16', '--pred-iou-thresh', '0.97', ...model()]);
    expect(readCoco(out).annotations).toHaveLength(0);
    // With NMS off (threshold 1), every grid point inside a shape keeps its own copy of the mask.
    r = await runCli(['run', dir, '--out', out, '--points-per-side', '16', '--box-nms-thresh', '1', '--pred-iou-thresh', '0.95', ...model()]);
    const n = readCoco(out).annotations.length;
    expect(n).toBeGreaterThan(50);
  });

  it('handles an image that is resized to the 1024 frame', async () => {
    // 400×300 → 1024×768 (×2.56); edges on multiples of 40/30, midway between the 10×10 grid's points.
    const small = drawScene(400, 300, BG, [
      { name: 'red', colour: [220, 30, 30], kind: 'rect', x0: 40, y0: 30, x1: 160, y1: 120 },
      { name: 'blue', colour: [30, 40, 210], kind: 'rect', x0: 200, y0: 60, x1: 360, y1: 270 },
    ]);
    const dir = await scene('resized', small);
    const out = join(work, 'resized.json');
    const r = await runCli(['run', dir, '--out', out, '--points-per-side', '10', ...model()]);
    expect(r.code).toBe(0);
    const masks = masksOf(readCoco(out), 1);
    expect(masks).toHaveLength(3);
    for (const [name, target] of small.masks) expect(bestMatch(masks, target), name).toBeGreaterThan(0.95);
  });

  it('runs zoomed crop layers and merges them with cross-crop NMS', async () => {
    const dir = await scene('crops', s);
    const out = join(work, 'crops.json');
    const r = await runCli(['run', dir, '--out', out, '--points-per-side', '16', '--crop-n-layers', '1', ...model()]);
    expect(r.code).toBe(0);
    const coco = readCoco(out);
    const masks = masksOf(coco, 1);
    for (const [name, target] of s.masks) expect(bestMatch(masks, target), name).toBeGreaterThan(0.95);
    const valid = generateCropBoxes(768, 1024, 1, 512 / 1500).boxes.map(([x0, y0, x1, y1]) => [x0, y0, x1 - x0, y1 - y0]);
    for (const a of coco.annotations) expect(valid).toContainEqual(a.crop_box);
    // Shapes that fit inside a zoomed crop come from it: smaller crops win the cross-crop NMS.
    expect(coco.annotations.some((a) => a.crop_box[2] !== 1024)).toBe(true);
  });

  it('fills small holes and removes small islands with --min-mask-region-area', async () => {
    const holes = drawScene(1024, 768, BG, [
      { name: 'red', colour: [220, 30, 30], kind: 'rect', x0: 64, y0: 48, x1: 448, y1: 336 },
      // an 8×8 hole of background colour inside the red rectangle, away from grid points
      { name: 'hole', colour: BG, kind: 'rect', x0: 200, y0: 100, x1: 208, y1: 108 },
      // an 8×8 island of the red colour far from the rectangle
      { name: 'island', colour: [220, 30, 30], kind: 'rect', x0: 840, y0: 600, x1: 848, y1: 608 },
    ]);
    const redDrawn = holes.masks.get('red')!; // rectangle minus hole
    const redIsland = holes.masks.get('island')!;
    const filled = drawScene(1024, 768, BG, [{ name: 'red', colour: [220, 30, 30], kind: 'rect', x0: 64, y0: 48, x1: 448, y1: 336 }]).masks.get('red')!;
    const dir = await scene('holes', holes);
    const raw = join(work, 'holes-raw.json');
    const clean = join(work, 'holes-clean.json');
    await runCli(['run', dir, '--out', raw, '--points-per-side', '16', ...model()]);
    const r = await runCli(['run', dir, '--out', clean, '--points-per-side', '16', '--min-mask-region-area', '100', ...model()]);
    expect(r.code).toBe(0);
    const rawMasks = masksOf(readCoco(raw), 1);
    const redWithIsland = redDrawn.map((v, i) => v | redIsland[i]!);
    // Rounded corners (see fewestDifferent): 4 on the rectangle, 4 on the island, 4 hole corners that stay red.
    expect(fewestDifferent(rawMasks, redWithIsland), 'without cleanup: hole open, island kept').toBe(12);
    const cleanMasks = masksOf(readCoco(clean), 1);
    expect(fewestDifferent(cleanMasks, filled), 'with cleanup: hole filled, island gone').toBe(4);
    const bgClean = filled.map((v) => 1 - v);
    expect(fewestDifferent(cleanMasks, bgClean), 'background loses the 64-px hole component').toBe(4);
    expect(fewestDifferent(rawMasks, bgClean), 'before cleanup the background still holds the hole').toBeGreaterThan(50);
  });

  it('survives every bad input, keeps the good images, names each failure on one line, exits 1', async () => {
    const dir = join(work, 'bad');
    mkdirSync(dir, { recursive: true });
    const badDir = join(repoRoot, 'test', 'data', 'bad-inputs');
    for (const f of readdirSync(badDir)) copyFileSync(join(badDir, f), join(dir, f));
    await writePng(join(dir, 'zz-scene.png'), s);
    const out = join(work, 'bad.json');
    const r = await runCli(['run', dir, '--out', out, '--points-per-side', '4', '--concurrency', '2', ...model()]);
    expect(r.code).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('sam-amg: error: '));
    expect(errors).toHaveLength(3);
    for (const name of ['empty.jpg', 'not-an-image.png', 'truncated.jpg']) {
      expect(errors.some((l) => l.includes(join(dir, name)))).toBe(true);
    }
    const coco = readCoco(out);
    expect(coco.images.map((i) => i.file_name)).toContain('zz-scene.png');
    expect(coco.images).toHaveLength(13);
    expect(coco.failures.map((f) => f.file_name).sort()).toEqual(['empty.jpg', 'not-an-image.png', 'truncated.jpg']);
    const rotated = coco.images.find((i) => i.file_name === 'exif-rotate6.jpg')!;
    expect([rotated.width, rotated.height]).toEqual([451, 300]);
    const sceneId = coco.images.find((i) => i.file_name === 'zz-scene.png')!.id;
    expect(masksOf(coco, sceneId).length).toBeGreaterThan(0);
    for (const img of coco.images) masksOf(coco, img.id);
  });

  it('is deterministic across concurrency levels and names files relative to the folder', async () => {
    const dir = join(work, 'multi');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    await writePng(join(dir, 'b.png'), s);
    await writePng(join(dir, 'a.png'), drawScene(256, 192, BG, [{ name: 'r', colour: [220, 30, 30], kind: 'rect', x0: 32, y0: 32, x1: 160, y1: 128 }]));
    await writePng(join(dir, 'sub', 'c.png'), drawScene(192, 256, BG, [{ name: 'g', colour: [20, 170, 40], kind: 'rect', x0: 32, y0: 64, x1: 128, y1: 192 }]));
    const out1 = join(work, 'multi-1.json');
    const out3 = join(work, 'nested', 'dir', 'multi-3.json');
    const r1 = await runCli(['run', dir, '--out', out1, '--points-per-side', '8', '--concurrency', '1', ...model()]);
    const r3 = await runCli(['run', dir, '--out', out3, '--points-per-side', '8', '--concurrency', '3', ...model()]);
    expect([r1.code, r3.code]).toEqual([0, 0]);
    const c1 = readCoco(out1);
    const c3 = readCoco(out3);
    expect(c1.images.map((i) => i.file_name)).toEqual(['a.png', 'b.png', 'sub/c.png']);
    expect(c3.images).toEqual(c1.images);
    expect(c3.annotations).toEqual(c1.annotations);
  });
});

describe('sam-amg run (random-weights fixtures, batched decoder)', () => {
  it('gives identical output whether prompts go one per call or 64 per verified dynamic batch', async () => {
    const f = await writeFixtures(fixturesDir, ['random-encoder-hwc', 'random-decoder-m4']);
    const dir = await scene('random', drawScene(320, 240, BG, SHAPES.slice(0, 1)));
    // Random IoUs sit near 0.5, so switch the filters off to push every candidate through the pipeline.
    const common = ['--points-per-side', '6', '--pred-iou-thresh', '0', '--stability-score-thresh', '0', '-v'];
    const model = ['--encoder', f['random-encoder-hwc']!, '--decoder', f['random-decoder-m4']!];
    const one = join(work, 'random-1.json');
    const many = join(work, 'random-64.json');
    const r1 = await runCli(['run', dir, '--out', one, '--points-per-batch', '1', ...common, ...model]);
    const r64 = await runCli(['run', dir, '--out', many, '--points-per-batch', '64', ...common, ...model]);
    expect([r1.code, r64.code]).toEqual([0, 0]);
    expect(r1.stderr).toContain('1 prompt(s) per decoder call');
    expect(r64.stderr).toContain('64 prompt(s) per decoder call');
    expect(r64.stderr).toContain('dynamicBatch=verified');
    const a = readCoco(one).annotations;
    const b = readCoco(many).annotations;
    expect(a.length).toBeGreaterThan(0);
    expect(b.map((x) => [x.segmentation, x.bbox, x.point_coords])).toEqual(a.map((x) => [x.segmentation, x.bbox, x.point_coords]));
    b.forEach((x, i) => expect(x.predicted_iou).toBeCloseTo(a[i]!.predicted_iou, 5));
  });
});

describe('sam-amg command line', () => {
  it('documents every flag with its default in --help', async () => {
    const r = await runCli(['run', '--help']);
    expect(r.code).toBe(0);
    for (const [flag, def] of [
      ['--points-per-side', '32'],
      ['--points-per-batch', '64'],
      ['--pred-iou-thresh', '0.88'],
      ['--stability-score-thresh', '0.95'],
      ['--stability-score-offset', '1'],
      ['--mask-threshold', '0'],
      ['--box-nms-thresh', '0.7'],
      ['--crop-n-layers', '0'],
      ['--crop-nms-thresh', '0.7'],
      ['--crop-overlap-ratio', String(512 / 1500)],
      ['--crop-n-points-downscale-factor', '1'],
      ['--min-mask-region-area', '0'],
      ['--concurrency', '1'],
      ['--threads', '0'],
      ['--max-pixels', '100000000'],
    ]) {
      expect(r.stdout.replace(/\s+/g, " ")).toMatch(new RegExp(`${flag} <[a-z]+>[\\s\\S]*?\\(default: ${def!.replace('.', '\\.')}\\)`));
    }
  });

  it('takes a fractional --crop-overlap-ratio (the reference CLI cannot) and rejects non-numbers', async () => {
    const r = await runCli(['run', 'x.png', '--out', 'o.json', '--encoder', 'e', '--decoder', 'd', '--crop-overlap-ratio', 'abc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'abc' is not a number");
  });

  it('names a missing model file and exits 2 without writing output', async () => {
    const dir = await scene('missing-model', drawScene(64, 64, BG, []));
    const out = join(work, 'never.json');
    const r = await runCli(['run', dir, '--out', out, '--encoder', enc, '--decoder', join(work, 'nope.onnx')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.onnx.*no such file/);
    expect(() => readFileSync(out)).toThrow();
  });

  it('rejects a decoder of another contract with the names it found', async () => {
    const dir = await scene('wrong-contract', drawScene(64, 64, BG, []));
    const r = await runCli(['run', dir, '--out', join(work, 'w.json'), '--encoder', enc, '--decoder', enc]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/input_image/);
  });

  it('says how to get CUDA when it is asked for and not installed; runs on the CPU by name', async () => {
    const dir = await scene('device', drawScene(64, 64, BG, []));
    const cuda = await runCli(['run', dir, '--out', join(work, 'cuda.json'), '--device', 'cuda', ...model()]);
    expect(cuda.code).toBe(2);
    expect(cuda.stderr).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci');
    const cpu = await runCli(['run', dir, '--out', join(work, 'cpu.json'), '--device', 'cpu', '--points-per-side', '2', ...model()]);
    expect(cpu.code).toBe(0);
    expect(cpu.stderr).toContain('on cpu');
    expect((JSON.parse(readFileSync(join(work, 'cpu.json'), 'utf8')) as Coco).info.model).toMatchObject({ device: 'cpu' });
  });

  it('reports inputs that match nothing and exits 2 when there is nothing to do', async () => {
    const r = await runCli(['run', join(work, 'no-such-dir'), '--out', join(work, 'n.json'), ...model()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no such file or folder');
  });
});
