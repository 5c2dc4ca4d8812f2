/**
 * The `hf-sam2` adapter (onnx-community SAM 2 / 2.1 exports) on the hf-sam2 oracle fixture pair: both
 * preprocessing frames (letterbox + pad, stretch), object scores, batching, and contract checks.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resizeBilinearPil } from '../src/amg/resize.js';
import { rleToMask } from '../src/amg/rle.js';
import { hfTransformPoints, loadHfPreprocessConfig } from '../src/model/hf-preprocess.js';
import { HfSam2Model } from '../src/model/hf-sam2.js';
import { modelIo } from '../src/model/onnx/graph.js';
import { decodeModel } from '../src/model/onnx/proto.js';
import type { DecodedMasks } from '../src/model/types.js';
import { MaskGenerator } from '../src/pipeline/generator.js';
import {
  HF_IOUS,
  HF_SAM2_OBJECT_SCORE,
  hfOracleExpectedMasks,
  hfOracleLowRes,
  hfSam2Decoder,
  hfSam2Encoder,
  writeFixtures,
  writeHfPreprocessorConfig,
} from './fixtures/index.js';
import { drawScene, type Rgb, type Shape } from './helpers/synth.js';

// ---- Scene: 1024×768; x edges at multiples of 4, y edges at multiples of 12 (4 px blocks in both frames) ------------

const W = 1024;
const H = 768;
const BG: Rgb = [230, 230, 230];
const RECTS = [
  { name: 'red', colour: [200, 40, 40], kind: 'rect', x0: 96, y0: 96, x1: 352, y1: 336 },
  { name: 'green', colour: [40, 180, 60], kind: 'rect', x0: 448, y0: 120, x1: 704, y1: 480 },
  { name: 'blue', colour: [40, 60, 200], kind: 'rect', x0: 768, y0: 504, x1: 960, y1: 720 },
  { name: 'yellow', colour: [220, 200, 30], kind: 'rect', x0: 96, y0: 504, x1: 384, y1: 720 },
  /** Pure black: the fixture's "no object" colour. */
  { name: 'black', colour: [0, 0, 0], kind: 'rect', x0: 448, y0: 540, x1: 704, y1: 720 },
] as const satisfies readonly Shape[];
const scene = drawScene(W, H, BG, [...RECTS]);
/**
 * One prompt per rectangle, then one on the background. Frame mix-ups land elsewhere: red (200,120) read in a
 * stretched image without scaling hits original row 90 (background); blue (860,700) scaled ×4/3 on a letterboxed
 * image hits the padding.
 */
const POINTS = Float64Array.from([200, 120, 600, 200, 860, 700, 240, 600, 560, 630, 600, 510]);
const PROMPT_RECT = ['red', 'green', 'blue', 'yellow', 'black', null] as const;
const N = PROMPT_RECT.length;
const PLANE = 256 * 256;

function positive(d: DecodedMasks, p: number, t: number): Uint8Array {
  const off = (p * d.masksPerPrompt + t) * PLANE;
  return Uint8Array.from(d.lowRes.subarray(off, off + PLANE), (v) => (v > 0 ? 1 : 0));
}

function same(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function diff(a: Uint8Array, b: Uint8Array): number {
  let n = Math.abs(a.length - b.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) n += a[i] !== b[i] ? 1 : 0;
  return n;
}

/**
 * Blocks that must be in / out of the mask of rectangle r when the model frame scales y by `sy` (x by 1): blocks
 * wholly inside the mapped rectangle shrunk by one block must be set; blocks outside it grown by one block must not.
 * Independent of the host-side oracle, so a shared mistake cannot hide. @returns the number of violations
 */
function rectViolations(mask: Uint8Array, r: (typeof RECTS)[number], sy: number): number {
  const [bx0, bx1] = [r.x0 / 4, r.x1 / 4];
  const [by0, by1] = [(r.y0 * sy) / 4, (r.y1 * sy) / 4];
  let bad = 0;
  for (let y = 0; y < 256; y++) {
    for (let x = 0; x < 256; x++) {
      const inner = x >= bx0 + 1 && x < bx1 - 1 && y >= by0 + 1 && y < by1 - 1;
      const outer = x >= bx0 - 1 && x < bx1 + 1 && y >= by0 - 1 && y < by1 + 1;
      const v = mask[y * 256 + x]!;
      if ((inner && !v) || (!outer && v)) bad++;
    }
  }
  return bad;
}

let dir: string;
let paths: Awaited<ReturnType<typeof writeFixtures>>;
let letterboxCfg: string;
let stretchCfg: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hf-sam2-'));
  paths = await writeFixtures(dir, ['hf-sam2-encoder', 'hf-sam2-decoder', 'hf-sam-encoder', 'hf-sam-decoder']);
  letterboxCfg = writeHfPreprocessorConfig(dir, 'hf-sam2-letterbox');
  stretchCfg = writeHfPreprocessorConfig(dir, 'hf-sam2-stretch');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const load = (extra: Partial<Parameters<typeof HfSam2Model.load>[0]> = {}) =>
  HfSam2Model.load({ encoder: paths['hf-sam2-encoder']!, decoder: paths['hf-sam2-decoder']!, threads: 2, ...extra });

describe('HfSam2Model on the hf-sam2 oracle', () => {
  it('the fixtures have the exact hf-sam2 I/O (names, order, dtypes, dims)', () => {
    const io = (bytes: Uint8Array) => {
      const { inputs, outputs } = modelIo(decodeModel(bytes));
      const f = (v: (typeof inputs)[number]) => `${v.name}:${v.dtype}[${v.dims!.join(',')}]`;
      return { inputs: inputs.map(f), outputs: outputs.map(f) };
    };
    const levels = ['image_embeddings.0:float32[batch_size,32,256,256]', 'image_embeddings.1:float32[batch_size,64,128,128]', 'image_embeddings.2:float32[batch_size,256,64,64]'];
    expect(io(hfSam2Encoder())).toEqual({ inputs: ['pixel_values:float32[batch_size,3,1024,1024]'], outputs: levels });
    expect(io(hfSam2Decoder())).toEqual({
      inputs: [
        ...levels,
        'input_points:float32[batch_size,point_batch_size,nb_points_per_image,2]',
        'input_labels:int64[batch_size,point_batch_size,nb_points_per_image]',
        'input_boxes:float32[batch_size,nb_boxes,4]',
      ],
      outputs: [
        'iou_scores:float32[batch_size,point_batch_size,3]',
        'pred_masks:float32[batch_size,point_batch_size,3,256,256]',
        'object_score_logits:float32[batch_size,point_batch_size,1]',
      ],
    });
  });

  it('loads with the contract details; no config = stretch', async () => {
    const m = await load();
    expect(m.info).toMatchObject({ contract: 'hf-sam2', family: 'sam2', promptsPerCall: 64, acceptsMaskInput: false });
    expect(m.info.details).toMatchObject({ frame: 'stretch', featureLevels: 3, boxesInput: true, objectScores: true, labelType: 'int64' });
    expect(String(m.info.details.preprocessorConfig)).toMatch(/^default \(hf-sam2/);
    await m.dispose();
  });

  for (const frame of ['letterbox', 'stretch'] as const) {
    it(`${frame} config: exact IoUs, object scores, masks where the oracle puts them on a non-square image`, async () => {
      const m = await load({ preprocessorConfig: frame === 'letterbox' ? letterboxCfg : stretchCfg });
      expect(m.info.details.frame).toBe(frame);
      const enc = await m.encode(scene.rgb, H, W);
      expect(enc.frame).toEqual(frame === 'letterbox' ? { kind: 'letterbox', inputH: 768, inputW: 1024, padSize: 1024 } : { kind: 'stretch' });
      const d = await m.decode(enc, POINTS);
      expect(d).toMatchObject({ prompts: N, masksPerPrompt: 3, lowResSize: 256 });
      expect(Array.from(d.iou)).toEqual(Array.from({ length: N }, () => HF_IOUS.map(Math.fround)).flat());
      expect(Array.from(d.objectScores!)).toEqual(PROMPT_RECT.map((r) => (r === 'black' ? -1 : 1) * HF_SAM2_OBJECT_SCORE));

      // Exact: the host-side oracle on the model-frame image.
      const cfg = loadHfPreprocessConfig(frame === 'letterbox' ? letterboxCfg : stretchCfg, 'hf-sam2');
      const lowRes = frame === 'letterbox' ? hfOracleLowRes(scene.rgb, H, W) : hfOracleLowRes(resizeBilinearPil(scene.rgb, H, W, 1024, 1024), 1024, 1024);
      const model = hfTransformPoints(POINTS, H, W, cfg);
      for (let p = 0; p < N; p++) {
        const want = hfOracleExpectedMasks(lowRes, model[2 * p]!, model[2 * p + 1]!);
        for (let t = 0; t < 3; t++) expect(diff(positive(d, p, t), want[t]!), `prompt ${p} token ${t}`).toBe(0);
      }
      // Independent: each prompt's masks sit on its drawn rectangle.
      PROMPT_RECT.forEach((name, p) => {
        if (name === null) return;
        const r = RECTS.find((x) => x.name === name)!;
        for (let t = 0; t < 3; t++) expect(rectViolations(positive(d, p, t), r, frame === 'stretch' ? 4 / 3 : 1), `${name} token ${t}`).toBe(0);
      });
      expect(m.stats).toMatchObject({ encoderCalls: 1, decoderCalls: 1 });
      await m.dispose();
    });
  }

  it('gives the same results for N prompts in one call, in chunks, and one by one', async () => {
    const m = await load({ promptsPerCall: 4 });
    const enc = await m.encode(scene.rgb, H, W);
    const chunked = await m.decode(enc, POINTS);
    expect(m.stats.decoderCalls).toBe(2);
    const ref = await load();
    const whole = await ref.decode(enc, POINTS);
    await ref.dispose();
    expect(same(chunked.lowRes, whole.lowRes) && same(chunked.iou, whole.iou) && same(chunked.objectScores!, whole.objectScores!)).toBe(true);
    for (let p = 0; p < N; p++) {
      const one = await m.decode(enc, POINTS.subarray(2 * p, 2 * p + 2));
      expect(same(one.lowRes, whole.lowRes.subarray(p * 3 * PLANE, (p + 1) * 3 * PLANE)), `prompt ${p}`).toBe(true);
      expect(same(one.iou, whole.iou.subarray(p * 3, p * 3 + 3))).toBe(true);
      expect(one.objectScores![0]).toBe(whole.objectScores![p]);
    }
    await m.dispose();
  });

  it('multimask=false returns the highest-IoU token, keeping object scores; maskInput is refused', async () => {
    const m = await load();
    const enc = await m.encode(scene.rgb, H, W);
    const all = await m.decode(enc, POINTS);
    const one = await m.decode(enc, POINTS, { multimask: false });
    expect(one).toMatchObject({ prompts: N, masksPerPrompt: 1 });
    expect(same(one.objectScores!, all.objectScores!)).toBe(true);
    for (let p = 0; p < N; p++) {
      expect(one.iou[p]).toBe(all.iou[p * 3]);
      expect(same(one.lowRes.subarray(p * PLANE, (p + 1) * PLANE), all.lowRes.subarray(p * 3 * PLANE, (p * 3 + 1) * PLANE))).toBe(true);
    }
    await expect(m.decode(enc, POINTS, { maskInput: new Float32Array(N * PLANE) })).rejects.toThrow(/hf-sam2 decoders have no mask input/);
    await m.dispose();
  });

  it('feeds input_boxes only when the decoder declares it', async () => {
    const noBoxes = join(dir, 'hf-sam2-decoder-noboxes.onnx');
    writeFileSync(noBoxes, hfSam2Decoder({ boxes: false }));
    const m = await load({ decoder: noBoxes });
    expect(m.info.details.boxesInput).toBe(false);
    const d = await m.decode(await m.encode(scene.rgb, H, W), POINTS);
    expect(Array.from(d.iou)).toEqual(Array.from({ length: N }, () => HF_IOUS.map(Math.fround)).flat());
    await m.dispose();
  });

  it('rejects mismatched files, listing the names it found', async () => {
    await expect(load({ decoder: paths['hf-sam-decoder']! })).rejects.toThrow(
      /is not a hf-sam2 decoder: missing an input matching \/\^image_embeddings\\\.\\d\+\$\/; found inputs image_embeddings:float32\[batch_size,256,64,64\] image_positional_embeddings/,
    );
    await expect(load({ encoder: paths['hf-sam-encoder']! })).rejects.toThrow(
      /decoder input\(s\) image_embeddings\.0, image_embeddings\.1, image_embeddings\.2 are not outputs of the encoder \(encoder outputs: image_embeddings, image_positional_embeddings\)/,
    );
  });

  it('the fixture: IoU 0 with a −1 label or with boxes, object score −5 on black', async () => {
    const enc = await ort.InferenceSession.create(paths['hf-sam2-encoder']!);
    const dec = await ort.InferenceSession.create(paths['hf-sam2-decoder']!);
    // Normalised zeros = the ImageNet mean colour; a black square needs (0 − mean)/std.
    const px = new Float32Array(3 * 1024 * 1024);
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    for (let c = 0; c < 3; c++) for (let y = 0; y < 64; y++) px.fill(-mean[c]! / std[c]!, c * 1024 * 1024 + y * 1024, c * 1024 * 1024 + y * 1024 + 64);
    const e = await enc.run({ pixel_values: new ort.Tensor('float32', px, [1, 3, 1024, 1024]) });
    expect(Object.keys(e)).toEqual(['image_embeddings.0', 'image_embeddings.1', 'image_embeddings.2']);
    const run = (labels: bigint[], boxes: number) =>
      dec.run({
        ...e,
        input_points: new ort.Tensor('float32', Float32Array.from([20, 20, 0, 0, 500, 500, 0, 0]), [1, 2, 2, 2]),
        input_labels: new ort.Tensor('int64', BigInt64Array.from(labels), [1, 2, 2]),
        input_boxes: new ort.Tensor('float32', new Float32Array(boxes * 4), [1, boxes, 4]),
      });
    const ok = await run([1n, -10n, 1n, -1n], 0);
    expect(Array.from(ok.iou_scores!.data as Float32Array)).toEqual([...HF_IOUS.map(Math.fround), 0, 0, 0]);
    expect(Array.from(ok.object_score_logits!.data as Float32Array)).toEqual([-5, 5]);
    expect(ok.object_score_logits!.dims).toEqual([1, 2, 1]);
    const boxed = await run([1n, -10n, 1n, -10n], 1);
    expect(Array.from(boxed.iou_scores!.data as Float32Array)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});

describe('MaskGenerator over HfSam2Model', () => {
  for (const frame of ['letterbox', 'stretch'] as const) {
    it(`finds each coloured rectangle (${frame})`, async () => {
      const m = await load({ preprocessorConfig: frame === 'letterbox' ? letterboxCfg : stretchCfg });
      const records = await new MaskGenerator(m, { pointsPerSide: 8 }).generate({ data: scene.rgb, width: W, height: H });
      const masks = records.map((r) => rleToMask(r.segmentation));
      for (const r of RECTS.filter((x) => x.name !== 'black')) {
        const drawn = scene.masks.get(r.name)!;
        const best = Math.max(
          ...masks.map((mask) => {
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
  }
});
