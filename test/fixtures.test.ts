/**
 * The synthetic SAM 1 split fixtures: the oracle pair behaves as documented in test/fixtures/oracle.ts, the
 * random-weights pair has the real contract, is deterministic, and batches once its batch dim is made symbolic.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeModel, encodeModel } from '../src/model/onnx/proto.js';
import { modelIo, setInputDim, setOutputDim } from '../src/model/onnx/graph.js';
import { pruneToOutputs } from '../src/model/onnx/prune.js';
import {
  ORACLE_IOUS,
  ORACLE_TOLERANCES,
  SAM1_MEAN,
  SAM1_STD,
  oracleDecoder,
  oracleEncoderHwc,
  oracleEncoderPlain,
  randomSamDecoder,
  randomSamEncoder,
  writeFixtures,
  FIXTURE_NAMES,
} from './fixtures/index.js';

// ---- Synthetic image ------------------------------------------------------------------------------------------

const H = 200;
const W = 300;
type Rgb = [number, number, number];
const BG: Rgb = [230, 230, 230];
const RED: Rgb = [200, 40, 40];
const GREEN: Rgb = [40, 180, 60];
const BLUE: Rgb = [40, 60, 200];
/** Red rectangle: x in [30, 90), y in [40, 110). */
const inRed = (x: number, y: number) => x >= 30 && x < 90 && y >= 40 && y < 110;
const inGreen = (x: number, y: number) => (x - 170) ** 2 + (y - 100) ** 2 < 35 ** 2;
const inBlue = (x: number, y: number) => x >= 220 && x < 280 && y >= 120 && y < 185;

/** HWC float RGB image of three flat shapes on a flat background. */
function syntheticImage(): Float32Array {
  const img = new Float32Array(H * W * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const c = inRed(x, y) ? RED : inGreen(x, y) ? GREEN : inBlue(x, y) ? BLUE : BG;
      img.set(c, (y * W + x) * 3);
    }
  }
  return img;
}

/** SAM's get_preprocess_shape. */
function preprocessShape(h: number, w: number): [number, number] {
  const scale = 1024 / Math.max(h, w);
  return [Math.floor(h * scale + 0.5), Math.floor(w * scale + 0.5)];
}

/** Nearest-neighbour resize of an HWC RGB image (good enough for these tests). */
function resizeNearest(src: Float32Array, h: number, w: number, nh: number, nw: number): Float32Array {
  const out = new Float32Array(nh * nw * 3);
  for (let y = 0; y < nh; y++) {
    const sy = Math.min(h - 1, Math.floor((y * h) / nh));
    for (let x = 0; x < nw; x++) {
      const sx = Math.min(w - 1, Math.floor((x * w) / nw));
      out.set(src.subarray((sy * w + sx) * 3, (sy * w + sx) * 3 + 3), (y * nw + x) * 3);
    }
  }
  return out;
}

/** Host-side plain preprocessing: normalise, CHW, zero-pad to 1024² after normalisation. */
function normalisePadChw(hwc: Float32Array, h: number, w: number): Float32Array {
  const out = new Float32Array(3 * 1024 * 1024);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) out[c * 1024 * 1024 + y * 1024 + x] = (hwc[(y * w + x) * 3 + c]! - SAM1_MEAN[c]) / SAM1_STD[c];
    }
  }
  return out;
}

const [NH, NW] = preprocessShape(H, W); // 683 × 1024
const resized = resizeNearest(syntheticImage(), H, W, NH, NW);

// ---- ORT helpers ------------------------------------------------------------------------------------------------

const f32 = (data: Float32Array | number[], dims: number[]) => new ort.Tensor('float32', Float32Array.from(data), dims);
const session = (bytes: Uint8Array) => ort.InferenceSession.create(Buffer.from(bytes));

/** Decoder feeds for points given in ORIGINAL image pixels (mapped to the resized frame here). */
function decoderFeeds(emb: ort.Tensor, points: [number, number][], labels: number[], batch = 1): Record<string, ort.Tensor> {
  const coords = points.flatMap(([x, y]) => [(x * NW) / W, (y * NH) / H]);
  const rep = <T>(a: T[]) => Array.from({ length: batch }, () => a).flat();
  return {
    image_embeddings: emb,
    point_coords: f32(rep(coords), [batch, points.length, 2]),
    point_labels: f32(rep(labels), [batch, labels.length]),
    mask_input: f32(new Float32Array(256 * 256), [1, 1, 256, 256]),
    has_mask_input: f32([0], [1]),
    orig_im_size: f32([H, W], [2]),
  };
}

const data = (t: ort.Tensor | undefined) => t!.data as Float32Array;

/** PyTorch/ONNX half_pixel bilinear sample of a [h,w] plane at output pixel (oy, ox) of an (oh, ow) resize. */
function bilinearAt(sample: (y: number, x: number) => number, h: number, w: number, oh: number, ow: number, oy: number, ox: number): number {
  const sy = Math.min(Math.max((oy + 0.5) * (h / oh) - 0.5, 0), h - 1);
  const sx = Math.min(Math.max((ox + 0.5) * (w / ow) - 0.5, 0), w - 1);
  const y0 = Math.floor(sy), x0 = Math.floor(sx);
  const y1 = Math.min(y0 + 1, h - 1), x1 = Math.min(x0 + 1, w - 1);
  const fy = sy - y0, fx = sx - x0;
  return (
    (1 - fy) * ((1 - fx) * sample(y0, x0) + fx * sample(y0, x1)) +
    fy * ((1 - fx) * sample(y1, x0) + fx * sample(y1, x1))
  );
}

/** Meta's mask_postprocessing at one output pixel, host-side, for token plane `plane` of [256,256]. */
function upscaledAt(plane: Float32Array, oy: number, ox: number): number {
  const low = (y: number, x: number) => plane[y * 256 + x]!;
  const big = (y: number, x: number) => bilinearAt(low, 256, 256, 1024, 1024, y, x);
  return bilinearAt(big, NH, NW, H, W, oy, ox); // cropped to [NH, NW] then resized to [H, W]
}

// ---- Oracle -----------------------------------------------------------------------------------------------------

describe('oracle fixture pair', async () => {
  const enc = await session(oracleEncoderHwc());
  const dec4 = await session(oracleDecoder({ m: 4 }));
  const dec1 = await session(oracleDecoder({ m: 1 }));
  const emb = (await enc.run({ input_image: f32(resized, [NH, NW, 3]) })).image_embeddings!;
  const redPoint: [number, number] = [60, 75];
  const withPad = await dec4.run(decoderFeeds(emb, [redPoint, [0, 0]], [1, -1]));

  it('has the exact SAM 1 split I/O', () => {
    expect(enc.inputNames).toEqual(['input_image']);
    expect(enc.outputNames).toEqual(['image_embeddings']);
    expect(dec4.inputNames).toEqual(['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input', 'orig_im_size']);
    expect(dec4.outputNames).toEqual(['masks', 'iou_predictions', 'low_res_masks']);
    const io = modelIo(decodeModel(oracleDecoder({ m: 4 })));
    expect(io.inputs.map((i) => i.dims)).toEqual([[1, 256, 64, 64], [1, 'num_points', 2], [1, 'num_points'], [1, 1, 256, 256], [1], [2]]);
    expect(io.outputs.map((o) => o.dims)).toEqual([[1, 4, 'masks_height', 'masks_width'], [1, 4], [1, 4, 256, 256]]);
    expect(io.inputs.every((i) => i.dtype === 'float32')).toBe(true);
    expect(modelIo(decodeModel(oracleEncoderHwc())).inputs[0]!.dims).toEqual(['image_height', 'image_width', 3]);
    expect(emb.dims).toEqual([1, 256, 64, 64]);
  });

  it('low_res_masks > 0 covers the prompted shape (token 1, tolerance 8)', () => {
    const low = data(withPad.low_res_masks);
    expect(withPad.low_res_masks!.dims).toEqual([1, 4, 256, 256]);
    let inside = 0;
    let outside = 0;
    for (let r = 0; r < 256; r++) {
      for (let c = 0; c < 256; c++) {
        // A low-res pixel is the 4×4 block of the resized frame; classify blocks that are all red / all not red.
        let red = 0;
        for (let dy = 0; dy < 4; dy++) {
          for (let dx = 0; dx < 4; dx++) {
            const y = 4 * r + dy, x = 4 * c + dx;
            if (y < NH && x < NW && resized[(y * NW + x) * 3] === RED[0] && resized[(y * NW + x) * 3 + 1] === RED[1]) red++;
          }
        }
        const v = low[1 * 65536 + r * 256 + c]!;
        if (red === 16) { inside++; expect(v).toBeGreaterThan(0); }
        if (red === 0) { outside++; expect(v).toBeLessThan(0); }
      }
    }
    expect(inside).toBeGreaterThan(200);
    expect(outside).toBeGreaterThan(40000);
  });

  it('returns the documented IoUs with the pad point and zeros without it', async () => {
    expect(Array.from(data(withPad.iou_predictions))).toEqual(ORACLE_IOUS.map((v) => Math.fround(v)));
    const noPad = await dec4.run(decoderFeeds(emb, [redPoint], [1]));
    expect(Array.from(data(noPad.iou_predictions))).toEqual([0, 0, 0, 0]);
  });

  it('upscales masks to [1,M,H,W] exactly like Meta mask_postprocessing', () => {
    const masks = withPad.masks!;
    expect(masks.dims).toEqual([1, 4, H, W]);
    const low = data(withPad.low_res_masks);
    const m = data(masks);
    for (const t of [0, 1, 3]) {
      for (const [oy, ox] of [[0, 0], [75, 60], [39, 29], [110, 90], [150, 171], [199, 299], [123, 222]] as const) {
        const expected = upscaledAt(low.subarray(t * 65536, (t + 1) * 65536), oy, ox);
        expect(Math.abs(m[t * H * W + oy * W + ox]! - expected)).toBeLessThan(1e-3);
      }
    }
    // masks[1] > 0 is the red rectangle in the original frame.
    let inter = 0, union = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const a = m[1 * H * W + y * W + x]! > 0;
        const b = inRed(x, y);
        if (a && b) inter++;
        if (a || b) union++;
      }
    }
    expect(inter / union).toBeGreaterThan(0.95);
  });

  it('token 3 (tolerance 64) is wider than token 1 where colours are close', () => {
    expect(ORACLE_TOLERANCES[3]).toBeGreaterThan(ORACLE_TOLERANCES[1]);
    const m = data(withPad.masks);
    const count = (t: number) => m.subarray(t * H * W, (t + 1) * H * W).reduce((n, v) => n + (v > 0 ? 1 : 0), 0);
    expect(count(3)).toBeGreaterThanOrEqual(count(1));
  });

  it('gives stable masks (AMG stability score, offset 1) for flat shapes with tokens 0..2', async () => {
    const stability = (m: Float32Array, t: number) => {
      let hi = 0, lo = 0;
      for (const v of m.subarray(t * H * W, (t + 1) * H * W)) {
        if (v > 1) hi++;
        if (v > -1) lo++;
      }
      return hi / lo;
    };
    for (const p of [redPoint, [170, 100], [250, 150], [150, 20]] as [number, number][]) {
      const out = p === redPoint ? withPad : await dec4.run(decoderFeeds(emb, [p, [0, 0]], [1, -1]));
      const s = [0, 1, 2, 3].map((t) => stability(data(out.masks), t));
      console.log(`stability at (${p.join(',')}): ${s.map((v) => v.toFixed(4)).join(' ')}`);
      for (const t of [0, 1, 2]) expect(s[t]).toBeGreaterThanOrEqual(0.95);
    }
  });

  it('crops (does not fail) when an HWC side exceeds 1024, like the real pad-by-Shape graph', async () => {
    const tall = await enc.run({ input_image: f32(new Float32Array(1100 * 40 * 3).fill(7), [1100, 40, 3]) });
    expect(tall.image_embeddings!.dims).toEqual([1, 256, 64, 64]);
  });

  it('rejects a prompt batch of 2 (batch dim is static 1)', async () => {
    await expect(dec4.run(decoderFeeds(emb, [redPoint, [0, 0]], [1, -1], 2))).rejects.toThrow();
  });

  it('M=1 picks token 1 for one click + pad, token 0 for two clicks + pad', async () => {
    const one = await dec1.run(decoderFeeds(emb, [redPoint, [0, 0]], [1, -1]));
    expect(one.low_res_masks!.dims).toEqual([1, 1, 256, 256]);
    expect(one.masks!.dims).toEqual([1, 1, H, W]);
    expect(Array.from(data(one.iou_predictions))).toEqual([Math.fround(ORACLE_IOUS[1])]);
    expect(data(one.low_res_masks)).toEqual(data(withPad.low_res_masks).subarray(65536, 2 * 65536));
    const two = await dec1.run(decoderFeeds(emb, [redPoint, [170, 100], [0, 0]], [1, 1, -1]));
    expect(Array.from(data(two.iou_predictions))).toEqual([Math.fround(ORACLE_IOUS[0])]);
  });

  it('the plain encoder sees the same colours as the HWC encoder inside the image', async () => {
    const plain = await session(oracleEncoderPlain());
    const e2 = (await plain.run({ input_image: f32(normalisePadChw(resized, NH, NW), [1, 3, 1024, 1024]) })).image_embeddings!;
    const a = data(emb), b = data(e2);
    // Blocks fully inside the resized frame: 64×64 grid cells whose 16×16 source rows are < NH.
    for (let ch = 0; ch < 48; ch++) {
      for (let y = 0; y < Math.floor(NH / 16); y++) {
        for (let x = 0; x < 64; x++) {
          const i = ch * 4096 + y * 64 + x;
          expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-3);
        }
      }
    }
    // Padding: −1000 in the HWC variant, the mean colour in the plain one.
    expect(a[63 * 64]).toBeCloseTo(-1000, 3);
    expect(b[63 * 64]).toBeCloseTo(SAM1_MEAN[0], 3);
  });
});

// ---- Random weights -------------------------------------------------------------------------------------------------

describe('random-weights fixture pair', async () => {
  const encBytes = randomSamEncoder({ variant: 'hwc', dim: 32, seed: 7 });
  const decBytes = randomSamDecoder({ m: 4, dim: 32, seed: 7 });

  it('is deterministic (same options, same bytes)', () => {
    // Buffer.equals: vitest's deep equality is slow on megabyte arrays.
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
    expect(same(randomSamEncoder({ variant: 'hwc', dim: 32, seed: 7 }), encBytes)).toBe(true);
    expect(same(randomSamDecoder({ m: 4, dim: 32, seed: 7 }), decBytes)).toBe(true);
    expect(same(randomSamDecoder({ m: 4, dim: 32, seed: 8 }), decBytes)).toBe(false);
  });

  it('has the real shapes and dtypes for every output', async () => {
    const enc = await session(encBytes);
    const plain = await session(randomSamEncoder({ variant: 'plain', dim: 32, seed: 7 }));
    const emb = (await enc.run({ input_image: f32(resized, [NH, NW, 3]) })).image_embeddings!;
    expect(emb.type).toBe('float32');
    expect(emb.dims).toEqual([1, 256, 64, 64]);
    const emb2 = (await plain.run({ input_image: f32(normalisePadChw(resized, NH, NW), [1, 3, 1024, 1024]) })).image_embeddings!;
    expect(emb2.dims).toEqual([1, 256, 64, 64]);
    // Same weights and the same normalised, padded input: the two encoder variants agree.
    const a = data(emb), b = data(emb2);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    expect(maxDiff).toBeLessThan(1e-3);

    for (const m of [4, 1] as const) {
      const dec = await session(randomSamDecoder({ m, dim: 32, seed: 7 }));
      expect(dec.inputNames).toEqual(['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input', 'orig_im_size']);
      expect(dec.outputNames).toEqual(['masks', 'iou_predictions', 'low_res_masks']);
      const out = await dec.run(decoderFeeds(emb, [[60, 75], [0, 0]], [1, -1]));
      expect(out.masks!.dims).toEqual([1, m, H, W]);
      expect(out.iou_predictions!.dims).toEqual([1, m]);
      expect(out.low_res_masks!.dims).toEqual([1, m, 256, 256]);
      for (const t of Object.values(out)) expect(t.type).toBe('float32');
      for (const v of data(out.iou_predictions)) expect(v > 0 && v < 1).toBe(true);
      expect(data(out.low_res_masks).every(Number.isFinite)).toBe(true);
    }
  });

  it('batches prompts once dim 0 is made symbolic, matching single runs', async () => {
    let model = decodeModel(decBytes);
    for (const n of ['point_coords', 'point_labels']) model = setInputDim(model, n, 0, 'batch');
    for (const n of ['masks', 'iou_predictions', 'low_res_masks']) model = setOutputDim(model, n, 0, 'batch');
    expect(modelIo(model).inputs[1]!.dims).toEqual(['batch', 'num_points', 2]);
    const batched = await session(encodeModel(model));
    const single = await session(decBytes);
    const emb = f32(Float32Array.from({ length: 256 * 4096 }, (_, i) => Math.sin(i * 0.37)), [1, 256, 64, 64]);
    const prompts: [number, number][][] = [[[60, 75], [0, 0]], [[170, 100], [0, 0]]];
    const feeds = decoderFeeds(emb, prompts[0]!, [1, -1]);
    feeds.point_coords = f32(prompts.flatMap((ps) => ps.flatMap(([x, y]) => [(x * NW) / W, (y * NH) / H])), [2, 2, 2]);
    feeds.point_labels = f32([1, -1, 1, -1], [2, 2]);
    const both = await batched.run(feeds);
    expect(both.masks!.dims).toEqual([2, 4, H, W]);
    for (let i = 0; i < 2; i++) {
      const one = await single.run(decoderFeeds(emb, prompts[i]!, [1, -1]));
      for (const name of ['masks', 'iou_predictions', 'low_res_masks'] as const) {
        const a = data(one[name]);
        const b = data(both[name]).subarray(i * a.length, (i + 1) * a.length);
        let maxDiff = 0;
        for (let k = 0; k < a.length; k++) maxDiff = Math.max(maxDiff, Math.abs(a[k]! - b[k]!));
        expect(maxDiff, name).toBeLessThan(1e-5);
      }
    }
  });

  it('decoder call time, full and pruned to iou/low-res (dim 32 and dim 256; informational)', async () => {
    const emb = f32(new Float32Array(256 * 4096).fill(0.1), [1, 256, 64, 64]);
    const feeds = decoderFeeds(emb, [[60, 75], [0, 0]], [1, -1]);
    const perCall = async (s: ort.InferenceSession, n: number) => {
      await s.run(feeds);
      const t0 = performance.now();
      for (let i = 0; i < n; i++) await s.run(feeds);
      return (performance.now() - t0) / n;
    };
    for (const dim of [32, 256]) {
      const bytes = randomSamDecoder({ m: 4, dim, seed: 1 });
      const full = await session(bytes);
      const pruned = await session(encodeModel(pruneToOutputs(decodeModel(bytes), ['iou_predictions', 'low_res_masks'])));
      const n = dim === 32 ? 10 : 4;
      const tFull = await perCall(full, n);
      const tPruned = await perCall(pruned, n);
      console.log(`random decoder dim ${dim} (orig ${H}×${W}): full ${tFull.toFixed(1)} ms/call, pruned ${tPruned.toFixed(1)} ms/call`);
    }
  });
});

describe('writeFixtures', () => {
  it('writes every fixture once and leaves identical files alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sam-amg-fixtures-'));
    try {
      const paths = await writeFixtures(dir);
      expect(Object.keys(paths).sort()).toEqual([...FIXTURE_NAMES].sort());
      expect(basename(paths['oracle-decoder-m4']!)).toBe('oracle-decoder-m4.onnx');
      expect(Buffer.from(readFileSync(paths['oracle-decoder-m1']!)).equals(Buffer.from(oracleDecoder({ m: 1 })))).toBe(true);
      const mtimes = Object.values(paths).map((p) => statSync(p!).mtimeMs);
      await new Promise((r) => setTimeout(r, 20));
      const again = await writeFixtures(dir, ['random-decoder-m4', 'oracle-encoder-hwc']);
      expect(Object.keys(again)).toEqual(['random-decoder-m4', 'oracle-encoder-hwc']);
      expect(Object.values(paths).map((p) => statSync(p!).mtimeMs)).toEqual(mtimes);
      const wide = await writeFixtures(dir, { which: ['random-decoder-m1'], randomDim: 64 });
      expect(basename(wide['random-decoder-m1']!)).toBe('random-decoder-m1-d64.onnx');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
