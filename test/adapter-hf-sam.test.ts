/**
 * The `hf-sam` adapter (Xenova SAM / SlimSAM split exports) on the hf-sam oracle fixture pair, and
 * `preprocessor_config.json` parsing (src/model/hf-preprocess.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resizeBilinearPil } from '../src/amg/resize.js';
import { rleToMask } from '../src/amg/rle.js';
import {
  HF_SAM2_DEFAULT_PREPROCESSOR,
  HF_SAM_DEFAULT_PREPROCESSOR,
  hfPreprocessImage,
  hfTransformPoints,
  loadHfPreprocessConfig,
  parseHfPreprocessConfig,
} from '../src/model/hf-preprocess.js';
import { HfSamModel } from '../src/model/hf-sam.js';
import { modelIo } from '../src/model/onnx/graph.js';
import { decodeModel } from '../src/model/onnx/proto.js';
import type { DecodedMasks } from '../src/model/types.js';
import { MaskGenerator } from '../src/pipeline/generator.js';
import {
  HF_IOUS,
  HF_SAM_PREPROCESSOR_CONFIG,
  hfOracleExpectedMasks,
  hfOracleLowRes,
  hfSamDecoder,
  hfSamEncoder,
  writeFixtures,
  writeHfPreprocessorConfig,
} from './fixtures/index.js';
import { drawScene, type Rgb, type Shape } from './helpers/synth.js';

// ---- Scene: 1024×768, rectangle edges at multiples of 4 px (letterbox frame = image frame, so 4×4 blocks are pure) --

const W = 1024;
const H = 768;
const BG: Rgb = [230, 230, 230];
const RECTS = [
  { name: 'red', colour: [200, 40, 40], kind: 'rect', x0: 96, y0: 96, x1: 352, y1: 336 },
  { name: 'green', colour: [40, 180, 60], kind: 'rect', x0: 448, y0: 120, x1: 704, y1: 480 },
  { name: 'blue', colour: [40, 60, 200], kind: 'rect', x0: 768, y0: 504, x1: 960, y1: 720 },
  { name: 'yellow', colour: [220, 200, 30], kind: 'rect', x0: 96, y0: 504, x1: 384, y1: 720 },
] as const satisfies readonly Shape[];
const scene = drawScene(W, H, BG, [...RECTS]);
/** One prompt inside each rectangle, then one on the background. Chosen so that a stretch (y·4/3) mapping lands
 * on another colour: red (200,300) → y 400 is background; blue (860,700) → y 933 is padding. */
const POINTS = Float64Array.from([200, 300, 600, 200, 860, 700, 240, 600, 600, 650]);
const PROMPT_RECT = ['red', 'green', 'blue', 'yellow', null] as const;

/** Low-res (256²) blocks covered by rectangle `r` in the 1024-wide letterbox frame (scale 1 here). */
function rectBlocks(r: (typeof RECTS)[number]): Uint8Array {
  const m = new Uint8Array(256 * 256);
  for (let y = r.y0 / 4; y < r.y1 / 4; y++) for (let x = r.x0 / 4; x < r.x1 / 4; x++) m[y * 256 + x] = 1;
  return m;
}

/** 0/1 mask of `lowRes > 0` for prompt p, token t. */
function positive(d: DecodedMasks, p: number, t: number): Uint8Array {
  const plane = d.lowResSize * d.lowResSize;
  const off = (p * d.masksPerPrompt + t) * plane;
  return Uint8Array.from(d.lowRes.subarray(off, off + plane), (v) => (v > 0 ? 1 : 0));
}

/** Bitwise equality of two typed arrays (vitest's deep equality is slow on millions of elements). */
function same(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Number of differing elements of two 0/1 masks (0 when equal; a count is a readable failure). */
function diff(a: Uint8Array, b: Uint8Array): number {
  let n = Math.abs(a.length - b.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) n += a[i] !== b[i] ? 1 : 0;
  return n;
}

let dir: string;
let paths: Awaited<ReturnType<typeof writeFixtures>>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hf-sam-'));
  paths = await writeFixtures(dir, ['hf-sam-encoder', 'hf-sam-decoder', 'oracle-decoder-m4', 'hf-sam2-decoder']);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const load = (extra: Partial<Parameters<typeof HfSamModel.load>[0]> = {}) =>
  HfSamModel.load({ encoder: paths['hf-sam-encoder']!, decoder: paths['hf-sam-decoder']!, threads: 2, ...extra });

// ---- preprocessor_config.json ---------------------------------------------------------------------------------------

describe('hf-preprocess', () => {
  it('parses the Xenova letterbox config', () => {
    const c = parseHfPreprocessConfig(HF_SAM_PREPROCESSOR_CONFIG, 'x.json');
    expect(c).toEqual({ kind: 'letterbox', size: 1024, rescaleFactor: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], source: 'x.json' });
  });

  it('parses a stretch config (size height/width, no pad) and the family defaults', () => {
    expect(parseHfPreprocessConfig(HF_SAM2_DEFAULT_PREPROCESSOR, 's').kind).toBe('stretch');
    expect(loadHfPreprocessConfig(undefined, 'hf-sam').kind).toBe('letterbox');
    expect(loadHfPreprocessConfig(undefined, 'hf-sam2').kind).toBe('stretch');
    expect(loadHfPreprocessConfig(undefined, 'hf-sam2').source).toMatch(/^default/);
    expect(parseHfPreprocessConfig(HF_SAM_DEFAULT_PREPROCESSOR, 'd')).toEqual(parseHfPreprocessConfig(HF_SAM_PREPROCESSOR_CONFIG, 'd'));
  });

  it('honours do_rescale / do_normalize / scalar mean', () => {
    const c = parseHfPreprocessConfig({ ...HF_SAM_PREPROCESSOR_CONFIG, do_normalize: false, do_rescale: false }, 'n');
    expect(c).toMatchObject({ rescaleFactor: 1, mean: [0, 0, 0], std: [1, 1, 1] });
    const px = hfPreprocessImage(Uint8Array.from([10, 20, 30]), 1, 1, c).pixels;
    expect([px[0], px[1024 * 1024], px[2 * 1024 * 1024]]).toEqual([10, 20, 30]);
    expect(parseHfPreprocessConfig({ ...HF_SAM_PREPROCESSOR_CONFIG, image_mean: 0.5, image_std: 0.5 }, 's').mean).toEqual([0.5, 0.5, 0.5]);
  });

  it('rejects what it cannot reproduce, naming the file and field', () => {
    const bad = (patch: object) => () => parseHfPreprocessConfig({ ...HF_SAM_PREPROCESSOR_CONFIG, ...patch }, 'cfg.json');
    expect(bad({ resample: 3 })).toThrow(/^cfg\.json: resample 3 is not supported \(only 2 = bilinear\)$/);
    expect(bad({ size: { longest_edge: 512 } })).toThrow(/longest_edge is 512/);
    expect(bad({ do_pad: false })).toThrow(/without do_pad/);
    expect(bad({ pad_size: { height: 1024, width: 768 } })).toThrow(/pad_size/);
    expect(bad({ size: { height: 1024, width: 768 } })).toThrow(/size is/);
    expect(bad({ size: { shortest_edge: 1024 } })).toThrow(/not supported/);
    expect(bad({ do_resize: false })).toThrow(/do_resize/);
    expect(bad({ image_std: [1, 2] })).toThrow(/image_std/);
    expect(() => loadHfPreprocessConfig(join(tmpdir(), 'no-such-dir-hf', 'preprocessor_config.json'), 'hf-sam')).toThrow(/no such file/);
  });

  it('reads a file written by the fixture writer', () => {
    const p = writeHfPreprocessorConfig(dir, 'hf-sam2-stretch');
    expect(loadHfPreprocessConfig(p, 'hf-sam')).toMatchObject({ kind: 'stretch', source: p });
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{');
    expect(() => loadHfPreprocessConfig(broken, 'hf-sam')).toThrow(/not valid JSON/);
  });

  it('maps points: letterbox x·newW/w, stretch x/w·1024 (float32)', () => {
    const lb = parseHfPreprocessConfig(HF_SAM_PREPROCESSOR_CONFIG, 'l');
    const st = parseHfPreprocessConfig(HF_SAM2_DEFAULT_PREPROCESSOR, 's');
    const p = Float64Array.from([100, 300, 511.5, 0.25]);
    // 512×384 → letterbox 1024×768 (×2); stretch ×2 in x, ×8/3 in y.
    expect(Array.from(hfTransformPoints(p, 384, 512, lb))).toEqual([200, 600, 1023, 0.5]);
    expect(Array.from(hfTransformPoints(p, 384, 512, st))).toEqual([200, 800, 1023, Math.fround(Math.fround(0.25 / 384) * 1024)]);
  });
});

// ---- Adapter ---------------------------------------------------------------------------------------------------------

describe('HfSamModel on the hf-sam oracle', async () => {
  it('the fixtures have the exact hf-sam I/O (names, order, dtypes, dims)', () => {
    const io = (bytes: Uint8Array) => {
      const { inputs, outputs } = modelIo(decodeModel(bytes));
      const f = (v: (typeof inputs)[number]) => `${v.name}:${v.dtype}[${v.dims!.join(',')}]`;
      return { inputs: inputs.map(f), outputs: outputs.map(f) };
    };
    const emb = 'float32[batch_size,256,64,64]';
    expect(io(hfSamEncoder())).toEqual({
      inputs: ['pixel_values:float32[batch_size,3,1024,1024]'],
      outputs: [`image_embeddings:${emb}`, `image_positional_embeddings:${emb}`],
    });
    expect(io(hfSamDecoder())).toEqual({
      inputs: [
        `image_embeddings:${emb}`,
        `image_positional_embeddings:${emb}`,
        'input_points:float32[batch_size,point_batch_size,nb_points_per_image,2]',
        'input_labels:int64[batch_size,point_batch_size,nb_points_per_image]',
      ],
      outputs: ['iou_scores:float32[batch_size,point_batch_size,3]', 'pred_masks:float32[batch_size,point_batch_size,3,256,256]'],
    });
  });

  it('loads with the contract details', async () => {
    const m = await load();
    expect(m.info).toMatchObject({ contract: 'hf-sam', family: 'sam1', promptsPerCall: 64, acceptsMaskInput: false });
    expect(m.info.details).toMatchObject({ frame: 'letterbox', pointBatch: 'dynamic', labelType: 'int64' });
    expect(String(m.info.details.preprocessorConfig)).toMatch(/^default \(hf-sam/);
    await m.dispose();
  });

  it('decodes a batch: exact IoUs (no pad point added) and masks covering exactly each rectangle', async () => {
    const m = await load({ preprocessorConfig: writeHfPreprocessorConfig(dir, 'hf-sam') });
    const enc = await m.encode(scene.rgb, H, W);
    expect(enc.frame).toEqual({ kind: 'letterbox', inputH: 768, inputW: 1024, padSize: 1024 });
    const d = await m.decode(enc, POINTS);
    expect(d).toMatchObject({ prompts: 5, masksPerPrompt: 3, lowResSize: 256 });
    expect(d.objectScores).toBeUndefined();
    expect(Array.from(d.iou)).toEqual(Array.from({ length: 5 }, () => HF_IOUS.map(Math.fround)).flat());
    PROMPT_RECT.forEach((name, p) => {
      if (name === null) return;
      const want = rectBlocks(RECTS.find((r) => r.name === name)!);
      for (let t = 0; t < 3; t++) expect(diff(positive(d, p, t), want), `${name} token ${t}`).toBe(0);
    });
    // Background prompt: the image area minus the rectangles; the padding rows (y ≥ 768) are another colour.
    const bg = positive(d, 4, 0);
    const wantBg = new Uint8Array(256 * 256);
    for (let i = 0; i < 192 * 256; i++) wantBg[i] = 1;
    for (const r of RECTS) rectBlocks(r).forEach((v, i) => v && (wantBg[i] = 0));
    expect(diff(bg, wantBg)).toBe(0);
    expect(m.stats).toMatchObject({ encoderCalls: 1, decoderCalls: 1 });
    expect(m.stats.preprocessMs).toBeGreaterThan(0);
    expect(m.stats.decoderMs).toBeGreaterThan(0);
    await m.dispose();
  });

  it('matches the host-side oracle on a non-square image that needs resizing (512×384 → 1024×768)', async () => {
    const small = drawScene(512, 384, BG, RECTS.map((r) => ({ ...r, x0: r.x0 / 2, y0: r.y0 / 2, x1: r.x1 / 2, y1: r.y1 / 2 })));
    const m = await load();
    const enc = await m.encode(small.rgb, 384, 512);
    const pts = POINTS.map((v) => v / 2);
    const d = await m.decode(enc, pts);
    const lowRes = hfOracleLowRes(resizeBilinearPil(small.rgb, 384, 512, 768, 1024), 768, 1024);
    const model = pts.map((v) => v * 2); // letterbox scale 1024/512
    for (let p = 0; p < 5; p++) {
      const want = hfOracleExpectedMasks(lowRes, model[2 * p]!, model[2 * p + 1]!);
      for (let t = 0; t < 3; t++) expect(diff(positive(d, p, t), want[t]!), `prompt ${p} token ${t}`).toBe(0);
    }
    await m.dispose();
  });

  it('gives the same results for N prompts in one call, in chunks, and one by one', async () => {
    const m = await load({ promptsPerCall: 2 });
    const enc = await m.encode(scene.rgb, H, W);
    const chunked = await m.decode(enc, POINTS);
    expect(m.stats.decoderCalls).toBe(3);
    const ref = await load();
    const whole = await ref.decode(enc, POINTS);
    await ref.dispose();
    expect(same(chunked.lowRes, whole.lowRes)).toBe(true);
    expect(same(chunked.iou, whole.iou)).toBe(true);
    const plane = 256 * 256;
    for (let p = 0; p < 5; p++) {
      const one = await m.decode(enc, POINTS.subarray(2 * p, 2 * p + 2));
      expect(same(one.lowRes, whole.lowRes.subarray(p * 3 * plane, (p + 1) * 3 * plane))).toBe(true);
      expect(same(one.iou, whole.iou.subarray(p * 3, p * 3 + 3))).toBe(true);
    }
    expect((await m.decode(enc, new Float64Array(0))).prompts).toBe(0);
    await m.dispose();
  });

  it('handles decoders whose point_batch_size or nb_points_per_image is fixed', async () => {
    const ref = await load();
    const want = await ref.decode(await ref.encode(scene.rgb, H, W), POINTS);
    await ref.dispose();
    const cases = [
      { opts: { pointBatch: 1 }, batch: 1, calls: 5, points: 1 },
      // 5 prompts in fixed batches of 2: the last call repeats prompt 4 and drops its copy.
      { opts: { pointBatch: 2, pointsPerPrompt: 2 }, batch: 2, calls: 3, points: 2 },
    ];
    for (const c of cases) {
      const file = join(dir, `hf-sam-decoder-n${c.batch}-p${c.points}.onnx`);
      writeFileSync(file, hfSamDecoder(c.opts));
      const m = await load({ decoder: file, promptsPerCall: 64 });
      expect(m.info.promptsPerCall).toBe(c.batch);
      expect(m.info.details).toMatchObject({ pointBatch: `fixed ${c.batch}`, pointsPerPrompt: c.points });
      const d = await m.decode(await m.encode(scene.rgb, H, W), POINTS);
      expect(m.stats.decoderCalls).toBe(c.calls);
      // Extra points carry label −10 (not −1), so the IoUs stay those of an unpadded prompt.
      expect(same(d.lowRes, want.lowRes) && same(d.iou, want.iou), JSON.stringify(c.opts)).toBe(true);
      await m.dispose();
    }
  });

  it('multimask=false returns the highest-IoU token per prompt', async () => {
    const m = await load();
    const enc = await m.encode(scene.rgb, H, W);
    const all = await m.decode(enc, POINTS);
    const one = await m.decode(enc, POINTS, { multimask: false });
    expect(one).toMatchObject({ prompts: 5, masksPerPrompt: 1 });
    const plane = 256 * 256;
    for (let p = 0; p < 5; p++) {
      // HF_IOUS = [0.96, 0.92, 0.84]: token 0 wins.
      expect(one.iou[p]).toBe(all.iou[p * 3]);
      expect(same(one.lowRes.subarray(p * plane, (p + 1) * plane), all.lowRes.subarray(p * 3 * plane, (p * 3 + 1) * plane))).toBe(true);
    }
    await expect(m.decode(enc, POINTS, { maskInput: new Float32Array(5 * plane) })).rejects.toThrow(/no mask input/);
    await m.dispose();
  });

  it('rejects a decoder of another contract, listing the names it found', async () => {
    await expect(load({ decoder: paths['oracle-decoder-m4']! })).rejects.toThrow(
      /is not a hf-sam decoder: missing image_positional_embeddings, input_points, input_labels, output iou_scores, output pred_masks; found inputs image_embeddings:float32\[1,256,64,64\] point_coords/,
    );
    await expect(load({ decoder: paths['hf-sam2-decoder']! })).rejects.toThrow(/missing image_embeddings, image_positional_embeddings; found inputs image_embeddings\.0/);
    await expect(load({ encoder: paths['oracle-decoder-m4']! })).rejects.toThrow(/expected input 'pixel_values', found inputs image_embeddings/);
  });

  it('the fixture zeroes IoUs of prompts with a −1 label and rejects float labels', async () => {
    const enc = await ort.InferenceSession.create(paths['hf-sam-encoder']!);
    const dec = await ort.InferenceSession.create(paths['hf-sam-decoder']!);
    const px = new ort.Tensor('float32', new Float32Array(3 * 1024 * 1024), [1, 3, 1024, 1024]);
    const e = await enc.run({ pixel_values: px });
    const pts = new ort.Tensor('float32', Float32Array.from([100, 100, 0, 0, 500, 500, 0, 0]), [1, 2, 2, 2]);
    // Prompt 0: click + the (0,0)/−1 pad point (what an adapter must NOT send); prompt 1: click + −10 padding.
    const labels = new ort.Tensor('int64', BigInt64Array.from([1n, -1n, 1n, -10n]), [1, 2, 2]);
    const out = await dec.run({ ...e, input_points: pts, input_labels: labels });
    expect(Array.from(out.iou_scores!.data as Float32Array)).toEqual([0, 0, 0, ...HF_IOUS.map(Math.fround)]);
    const floatLabels = new ort.Tensor('float32', Float32Array.from([1, -1, 1, -10]), [1, 2, 2]);
    await expect(dec.run({ ...e, input_points: pts, input_labels: floatLabels })).rejects.toThrow(/type/i);
  });
});

describe('MaskGenerator over HfSamModel', () => {
  it('finds each rectangle', async () => {
    const m = await load();
    const records = await new MaskGenerator(m, { pointsPerSide: 8 }).generate({ data: scene.rgb, width: W, height: H });
    for (const r of RECTS) {
      const drawn = scene.masks.get(r.name)!;
      const best = Math.max(
        ...records.map((rec) => {
          const mask = rleToMask(rec.segmentation);
          let inter = 0;
          let union = 0;
          for (let i = 0; i < mask.length; i++) {
            inter += mask[i]! & drawn[i]!;
            union += mask[i]! | drawn[i]!;
          }
          return inter / union;
        }),
      );
      expect(best, r.name).toBeGreaterThanOrEqual(0.95);
    }
    await m.dispose();
  });
});
