/**
 * The `sx-sam2` adapter (samexporter SAM 2 / 2.1 exports) on the sx-sam2 oracle fixture pair
 * (test/fixtures/sx-sam2.ts): stretched coordinates, no padding point, batching along dim 0, `has_mask_input` of
 * shape [1], mask-to-mask refinement, single-mask selection, simplified (static batch) decoders, name checks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sam2Preprocess } from '../src/amg/resize-float.js';
import { stretchCoordsFloat32 } from '../src/amg/transforms.js';
import { SxSam2Model } from '../src/model/sx-sam2.js';
import type { DecodedMasks, EncodedImage } from '../src/model/types.js';
import { SX_SAM2_IOUS, SX_SAM2_MEAN, SX_SAM2_STD, sxSam2Logit, writeFixtures } from './fixtures/index.js';
import { drawScene, type Rgb, type Shape } from './helpers/synth.js';

// ---- Scene: 512×256, so the stretch to 1024² is ×2 in x and ×4 in y (a letterbox would be ×2 in both) ------------

const W = 512;
const H = 256;
const LOW = 256;
const PLANE = LOW * LOW;
const RECTS = [
  { name: 'red', colour: [200, 40, 40], kind: 'rect', x0: 32, y0: 32, x1: 160, y1: 112 },
  { name: 'green', colour: [40, 180, 60], kind: 'rect', x0: 200, y0: 144, x1: 320, y1: 232 },
  { name: 'blue', colour: [40, 60, 200], kind: 'rect', x0: 360, y0: 40, x1: 480, y1: 200 },
] as const satisfies readonly Shape[];
/** One prompt inside each rectangle (pixels of the original image). */
const POINTS = Float64Array.from([96, 72, 260, 188, 420, 120]);
const scene = drawScene(W, H, [230, 230, 230] as Rgb, [...RECTS]);

let dir: string;
let paths: Awaited<ReturnType<typeof writeFixtures>>;
let model: SxSam2Model;
let image: EncodedImage;
let base: DecodedMasks;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sx-sam2-'));
  paths = await writeFixtures(dir, ['sx-sam2-encoder', 'sx-sam2-decoder', 'sx-sam2-decoder-static', 'oracle-decoder-m4']);
  model = await SxSam2Model.load({ encoder: paths['sx-sam2-encoder']!, decoder: paths['sx-sam2-decoder']!, threads: 2 });
  image = await model.encode(scene.rgb, H, W);
  base = await model.decode(image, POINTS);
});

afterAll(async () => {
  await model?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Asserts two float arrays are identical (vitest's deep equality is slow on arrays of 10⁵–10⁶ values). */
function expectSame(a: Float32Array, b: Float32Array, what: string): void {
  expect(a.length, `${what}: length`).toBe(b.length);
  let differ = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      differ++;
      if (first < 0) first = i;
    }
  }
  expect(differ, `${what}: values differing (first at ${first}: ${a[first]} vs ${b[first]})`).toBe(0);
}

/** Logit of prompt `p`, output `t`, low-res cell (row, col). */
const logit = (d: DecodedMasks, p: number, t: number, r: number, c: number) => d.lowRes[((p * d.masksPerPrompt + t) * LOW + r) * LOW + c]!;

/**
 * Low-res cells classified against rectangle `rect`: cell (r, c) covers original x ∈ [2c, 2c+2), y ∈ [r, r+1); the
 * bilinear upscale blends each output pixel with its neighbours up to 1 input pixel away, so a cell is "inside"
 * when that region grown by 1 px lies in the rectangle and "outside" when it does not touch it.
 */
function classify(rect: (typeof RECTS)[number], r: number, c: number): 'inside' | 'outside' | 'edge' {
  const [x0, x1, y0, y1] = [2 * c - 1, 2 * c + 3, r - 1, r + 2];
  if (x0 >= rect.x0 && x1 <= rect.x1 && y0 >= rect.y0 && y1 <= rect.y1) return 'inside';
  if (x1 <= rect.x0 || x0 >= rect.x1 || y1 <= rect.y0 || y0 >= rect.y1) return 'outside';
  return 'edge';
}

describe('SxSam2Model on the sx-sam2 oracle fixture', () => {
  it('reports the contract', () => {
    expect(model.info).toMatchObject({ contract: 'sx-sam2', family: 'sam2', promptsPerCall: 64, acceptsMaskInput: true });
    expect(model.info.details.dynamicBatch).toBe('exported');
    expect(image.frame).toEqual({ kind: 'stretch' });
    expect([image.height, image.width]).toEqual([H, W]);
    expect(model.stats.encoderCalls).toBe(1);
  });

  it('decodes all prompts in one call; IoUs are the fixture constants, so no padding point was added', async () => {
    const calls = model.stats.decoderCalls;
    const d = await model.decode(image, POINTS);
    expect(model.stats.decoderCalls).toBe(calls + 1);
    expect([d.prompts, d.masksPerPrompt, d.lowResSize]).toEqual([3, 3, LOW]);
    expect(Array.from(d.iou)).toEqual([...SX_SAM2_IOUS, ...SX_SAM2_IOUS, ...SX_SAM2_IOUS].map(Math.fround));
    expect(d.objectScores).toBeUndefined();
  });

  it('low-res logits > 0 cover each rectangle in the stretched frame and nothing else', () => {
    // A letterbox mapping (×2 in y too) would put the green prompt at original y 94, on the background.
    const at = (x: number, y: number) => Array.from(scene.rgb.subarray((y * W + x) * 3, (y * W + x) * 3 + 3));
    expect(at(260, 94)).toEqual([230, 230, 230]);
    RECTS.forEach((rect, p) => {
      for (const t of [0, 1]) {
        let inside = 0;
        let outside = 0;
        const wrong: string[] = [];
        for (let r = 0; r < LOW; r++) {
          for (let c = 0; c < LOW; c++) {
            const k = classify(rect, r, c);
            const v = logit(base, p, t, r, c);
            if (k === 'inside') inside++;
            if (k === 'outside') outside++;
            if ((k === 'inside' && !(v > 0)) || (k === 'outside' && !(v < 0))) wrong.push(`(${r},${c}) ${k} ${v}`);
          }
        }
        expect(wrong.slice(0, 5), `${rect.name} token ${t + 1}: ${wrong.length} cells wrong`).toEqual([]);
        expect(inside).toBeGreaterThan(1500);
        expect(outside).toBeGreaterThan(50000);
      }
    });
  });

  it('logits equal a host-side reference computed from sam2Preprocess (the encoder saw exactly that tensor)', () => {
    const x = sam2Preprocess(scene.rgb, H, W);
    const low = new Float64Array(3 * PLANE);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 1024; y++) {
        for (let xx = 0; xx < 1024; xx++) {
          const v = (x[(c * 1024 + y) * 1024 + xx]! * SX_SAM2_STD[c]! + SX_SAM2_MEAN[c]!) * 255;
          low[c * PLANE + (y >> 2) * LOW + (xx >> 2)] += v / 16;
        }
      }
    }
    const pts = stretchCoordsFloat32(POINTS, H, W, 1024);
    let worst = 0;
    for (let p = 0; p < 3; p++) {
      const cell = Math.floor(pts[2 * p + 1]! / 4) * LOW + Math.floor(pts[2 * p]! / 4);
      const colour = [0, 1, 2].map((c) => low[c * PLANE + cell]!);
      for (let i = 0; i < PLANE; i++) {
        const dist = Math.hypot(low[i]! - colour[0]!, low[PLANE + i]! - colour[1]!, low[2 * PLANE + i]! - colour[2]!);
        for (const t of [0, 1, 2] as const) worst = Math.max(worst, Math.abs(base.lowRes[(p * 3 + t) * PLANE + i]! - sxSam2Logit(t, dist)));
      }
    }
    expect(worst).toBeLessThan(5e-3);
  });

  it('a batch of N equals N single calls, also across chunk boundaries', async () => {
    const chunked = await SxSam2Model.load({ encoder: paths['sx-sam2-encoder']!, decoder: paths['sx-sam2-decoder']!, promptsPerCall: 2 });
    try {
      const img = await chunked.encode(scene.rgb, H, W);
      const all = await chunked.decode(img, POINTS);
      expect(chunked.stats.decoderCalls).toBe(2);
      expect(Array.from(all.iou)).toEqual(Array.from(base.iou));
      expectSame(all.lowRes, base.lowRes, 'chunks of 2');
      for (let p = 0; p < 3; p++) {
        const one = await model.decode(image, POINTS.slice(2 * p, 2 * p + 2));
        expectSame(one.lowRes, base.lowRes.subarray(p * 3 * PLANE, (p + 1) * 3 * PLANE), `prompt ${p} alone`);
        expect(Array.from(one.iou)).toEqual(Array.from(base.iou.subarray(3 * p, 3 * p + 3)));
      }
    } finally {
      await chunked.dispose();
    }
  });

  it('maskInput (m2m) is fed per prompt with has_mask_input [1] = 1 and shifts that prompt’s logits', async () => {
    // Prompt p gets its own pattern, with values large enough to hit the ±32 clamp; promptsPerCall 2 splits the
    // prompts over two calls, so a misaligned slice would show.
    const chunked = await SxSam2Model.load({ encoder: paths['sx-sam2-encoder']!, decoder: paths['sx-sam2-decoder']!, promptsPerCall: 2 });
    try {
      const img = await chunked.encode(scene.rgb, H, W);
      const mask = new Float32Array(3 * PLANE);
      for (let p = 0; p < 3; p++) for (let i = 0; i < PLANE; i++) mask[p * PLANE + i] = (p + 1) * (((i * 7 + (i >> 8)) % 13) - 6) * 2;
      const d = await chunked.decode(img, POINTS, { maskInput: mask });
      expect(Array.from(d.iou)).toEqual(Array.from(base.iou));
      let clamped = 0;
      for (let p = 0; p < 3; p++) {
        for (let t = 0; t < 3; t++) {
          for (let i = 0; i < PLANE; i++) {
            const want = Math.min(32, Math.max(-32, base.lowRes[(p * 3 + t) * PLANE + i]! + mask[p * PLANE + i]!));
            if (Math.abs(want) === 32) clamped++;
            const got = d.lowRes[(p * 3 + t) * PLANE + i]!;
            if (Math.abs(got - want) > 1e-5) expect(got, `prompt ${p} token ${t + 1} pixel ${i}`).toBe(want);
          }
        }
      }
      expect(clamped).toBeGreaterThan(0);
      await expect(chunked.decode(img, POINTS, { maskInput: mask.subarray(0, PLANE) })).rejects.toThrow(/maskInput has 65536 values; expected 3 prompts/);
    } finally {
      await chunked.dispose();
    }
  });

  it('multimask: false returns the top-IoU output per prompt (SAM token 1 here)', async () => {
    const d = await model.decode(image, POINTS, { multimask: false });
    expect([d.prompts, d.masksPerPrompt]).toEqual([3, 1]);
    expect(Array.from(d.iou)).toEqual([0.96, 0.96, 0.96].map(Math.fround));
    for (let p = 0; p < 3; p++) expectSame(d.lowRes.subarray(p * PLANE, (p + 1) * PLANE), base.lowRes.subarray(p * 3 * PLANE, (p * 3 + 1) * PLANE), `prompt ${p}`);
  });

  it('a decoder simplified to a static batch of 1 is made dynamic and verified; results are unchanged', async () => {
    const s = await SxSam2Model.load({ encoder: paths['sx-sam2-encoder']!, decoder: paths['sx-sam2-decoder-static']! });
    try {
      expect(s.info.details.dynamicBatch).toBe('verified');
      expect(s.info.promptsPerCall).toBe(64);
      const d = await s.decode(await s.encode(scene.rgb, H, W), POINTS);
      expect(s.stats.decoderCalls).toBe(1);
      expectSame(d.lowRes, base.lowRes, 'made-dynamic static decoder');
      expect(Array.from(d.iou)).toEqual(Array.from(base.iou));
    } finally {
      await s.dispose();
    }
    const one = await SxSam2Model.load({ encoder: paths['sx-sam2-encoder']!, decoder: paths['sx-sam2-decoder-static']!, promptsPerCall: 1 });
    try {
      expect([one.info.promptsPerCall, one.info.details.dynamicBatch]).toEqual([1, 'not requested']);
      const d = await one.decode(await one.encode(scene.rgb, H, W), POINTS);
      expect(one.stats.decoderCalls).toBe(3);
      expectSame(d.lowRes, base.lowRes, 'static decoder, one prompt per call');
    } finally {
      await one.dispose();
    }
  });

  it('wrong files fail with one-line errors that list what the file has', async () => {
    const wrongDecoder = SxSam2Model.load({ encoder: paths['sx-sam2-encoder']!, decoder: paths['oracle-decoder-m4']! });
    await expect(wrongDecoder).rejects.toThrow(/does not match the expected decoder contract: missing image_embed, high_res_feats_0, high_res_feats_1; it has inputs image_embeddings/);
    const wrongEncoder = SxSam2Model.load({ encoder: paths['sx-sam2-decoder']!, decoder: paths['sx-sam2-decoder']! });
    await expect(wrongEncoder).rejects.toThrow(/is not a samexporter SAM 2 encoder: expected input 'image' .* found inputs image_embed:/);
    await expect(wrongEncoder).rejects.not.toThrow(/\n/);
    await expect(SxSam2Model.load({ encoder: paths['sx-sam2-encoder']!, decoder: join(dir, 'nope.onnx') })).rejects.toThrow(/cannot read model file .*nope\.onnx: no such file/);
  });
});

describe('sx-sam2 oracle decoder (contract details the adapter relies on)', () => {
  let session: ort.InferenceSession;
  const feeds = (n: number, labels: number[], hasShape: number[]) => {
    const zeros = (dims: number[]) => new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
    return {
      image_embed: zeros([1, 256, 64, 64]),
      high_res_feats_0: zeros([1, 32, 256, 256]),
      high_res_feats_1: zeros([1, 64, 128, 128]),
      point_coords: new ort.Tensor('float32', new Float32Array(n * 2 * (labels.length / n)).fill(500), [n, labels.length / n, 2]),
      point_labels: new ort.Tensor('float32', Float32Array.from(labels), [n, labels.length / n]),
      mask_input: zeros([n, 1, 256, 256]),
      has_mask_input: new ort.Tensor('float32', new Float32Array(hasShape[0]!), hasShape),
    };
  };
  beforeAll(async () => {
    // Fatal-only logging: one test expects a failed run, whose error onnxruntime would also print.
    session = await ort.InferenceSession.create(paths['sx-sam2-decoder']!, { logSeverityLevel: 4 });
  });
  afterAll(async () => {
    await session?.release();
  });

  it('has the exact I/O names in contract order', () => {
    expect(session.inputNames).toEqual(['image_embed', 'high_res_feats_0', 'high_res_feats_1', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input']);
    expect(session.outputNames).toEqual(['masks', 'iou_predictions']);
  });

  it('gives IoU 0 to prompts that contain a −1 label (the real graph adds the padding point itself)', async () => {
    const out = await session.run(feeds(2, [1, -1, 1, 1], [1]));
    expect(Array.from(out.iou_predictions!.data as Float32Array)).toEqual([0, 0, 0, ...SX_SAM2_IOUS].map(Math.fround));
    expect(out.masks!.dims).toEqual([2, 3, 256, 256]);
  });

  it('has_mask_input must be [1]: [N] broadcasts against the last axis, as in the real export', async () => {
    await expect(session.run(feeds(3, [1, 1, 1], [3]))).rejects.toThrow();
    await expect(session.run(feeds(3, [1, 1, 1], [1]))).resolves.toBeDefined();
  });
});
