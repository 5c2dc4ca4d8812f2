/**
 * Adapter for the samexporter SAM 2 / 2.1 contract ("sx-sam2", `../shared/spec/model-contracts.md` §2.2): the
 * encoder/decoder pairs of the AnyLabeling SAM 2 / 2.1 zips, X-AnyLabeling's v2.5.0 assets and their mirrors.
 *
 * - Encode: official SAM 2 preprocessing (`sam2Preprocess`: ToTensor, antialiased bilinear square stretch to
 *   1024², ImageNet mean/std), then the encoder's three outputs are kept as the image state.
 * - Decode: each prompt is one point with label 1 in the stretched 1024² frame (`x/W·1024`, `y/H·1024` in
 *   float32, SAM 2's `transform_coords`); NO padding point, because the exported graph appends it itself.
 *   Prompts are batched along dim 0 (`num_labels`); `has_mask_input` is always passed with shape `[1]`, since
 *   `[N]` broadcasts wrongly inside the real graph.
 * - The export bakes in `multimask_output=True`: only tokens 1..3 come out. For `multimask: false` this returns the
 *   best of the three by predicted IoU; SAM 2's own single-mask path (token 0, with its dynamic fallback to the
 *   best multimask output when token 0 is unstable) cannot be reproduced because token 0 is not exported.
 */
import * as ort from 'onnxruntime-node';
import { sam2Preprocess, SAM2_IMAGE_SIZE } from '../amg/resize-float.js';
import { stretchCoordsFloat32 } from '../amg/transforms.js';
import { batchMatchesSingles, readModelFile } from './batch-check.js';
import { prepareDecoder } from './onnx/decoder-prep.js';
import { createSession, describeIo, inputShape, type RuntimeOptions } from './session.js';
import { emptyModelStats, type DecodedMasks, type DecodeOptions, type EncodedImage, type MaskModel, type ModelInfo } from './types.js';

/** Side of SAM 2's low-res mask logits. */
export const SX_SAM2_LOW_RES = 256;
/** Masks per prompt the export returns (multimask tokens 1..3). */
export const SX_SAM2_TOKENS = 3;
/** Default prompts per decoder call (X-AnyLabeling's AMG uses 64). */
export const SX_SAM2_DEFAULT_PROMPTS_PER_CALL = 64;

const ENCODER_INPUT = 'image';
const ENCODER_OUTPUTS = ['high_res_feats_0', 'high_res_feats_1', 'image_embed'] as const;
const DECODER_INPUTS = ['image_embed', 'high_res_feats_0', 'high_res_feats_1', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input'];
const DECODER_OUTPUTS = ['masks', 'iou_predictions'];
/** Decoder inputs whose dim 0 is the prompt batch (`has_mask_input` is not: it is always `[1]`). */
const BATCH_INPUTS = ['point_coords', 'point_labels', 'mask_input'];

export interface SxSam2LoadOptions extends RuntimeOptions {
  /** Path of the `*.encoder.onnx` file. */
  encoder: string;
  /** Path of the `*.decoder.onnx` file. */
  decoder: string;
  /** Prompts per decoder call (default 64). A decoder whose batch dim was simplified to 1 is made dynamic and
   * checked numerically; if that fails it runs one prompt per call. */
  promptsPerCall?: number;
}

/** Encoder outputs kept per image: the decoder's three feature inputs. */
interface SxSam2State {
  highRes0: ort.Tensor;
  highRes1: ort.Tensor;
  imageEmbed: ort.Tensor;
}

export class SxSam2Model implements MaskModel {
  readonly info: ModelInfo;
  readonly stats = emptyModelStats();
  /** Zero `mask_input` tensors by batch size (the last batch of a call is usually smaller). */
  private readonly zeroMasks = new Map<number, ort.Tensor>();

  private constructor(
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    private readonly batch: number,
    details: Record<string, string | number | boolean>,
  ) {
    this.info = {
      contract: 'sx-sam2',
      family: 'sam2',
      promptsPerCall: batch,
      acceptsMaskInput: true,
      details: { imageSize: SAM2_IMAGE_SIZE, masksPerCall: SX_SAM2_TOKENS, ...details },
    };
  }

  /** Loads and checks both files; throws a one-line error naming the file, what is missing and what it has. */
  static async load(opts: SxSam2LoadOptions): Promise<SxSam2Model> {
    const encoder = await createSession(opts.encoder, opts.encoder, opts);
    try {
      checkEncoder(encoder, opts.encoder);
      const { session, batch, details } = await loadDecoder(opts);
      return new SxSam2Model(encoder, session, batch, details);
    } catch (err) {
      await encoder.release();
      throw err;
    }
  }

  async encode(rgb: Uint8Array, height: number, width: number): Promise<EncodedImage> {
    let t = performance.now();
    const input = new ort.Tensor('float32', sam2Preprocess(rgb, height, width, SAM2_IMAGE_SIZE), [1, 3, SAM2_IMAGE_SIZE, SAM2_IMAGE_SIZE]);
    this.stats.preprocessMs += performance.now() - t;
    t = performance.now();
    const out = await this.encoder.run({ [ENCODER_INPUT]: input }, [...ENCODER_OUTPUTS]);
    this.stats.encoderMs += performance.now() - t;
    this.stats.encoderCalls++;
    const state: SxSam2State = { highRes0: out.high_res_feats_0!, highRes1: out.high_res_feats_1!, imageEmbed: out.image_embed! };
    return { height, width, frame: { kind: 'stretch' }, state };
  }

  /**
   * @param points interleaved `[x, y]` float64 pixels of the encoded image
   * @param options `maskInput`: `[B,256,256]` low-res logits fed back per prompt (m2m); `multimask: false`: the
   *   best of the three outputs by IoU (ties: the lowest index)
   * @returns `[B,K,256,256]` logits and `[B,K]` IoUs, K = 3 (or 1)
   */
  async decode(image: EncodedImage, points: Float64Array, options: DecodeOptions = {}): Promise<DecodedMasks> {
    const t0 = performance.now();
    const n = points.length >> 1;
    const plane = SX_SAM2_LOW_RES * SX_SAM2_LOW_RES;
    if (options.maskInput && options.maskInput.length !== n * plane) {
      throw new Error(`maskInput has ${options.maskInput.length} values; expected ${n} prompts × ${SX_SAM2_LOW_RES}² = ${n * plane}`);
    }
    const k = options.multimask === false ? 1 : SX_SAM2_TOKENS;
    const lowRes = new Float32Array(n * k * plane);
    const iou = new Float32Array(n * k);
    const coords = stretchCoordsFloat32(points, image.height, image.width, SAM2_IMAGE_SIZE);
    const state = image.state as SxSam2State;
    // Shape [1] for every batch size: inside the real graph a [b] tensor broadcasts against the last axis of the
    // [b,256,64,64] mask embedding and fails (or, for b = 64, silently mixes prompts).
    const hasMask = new ort.Tensor('float32', new Float32Array([options.maskInput ? 1 : 0]), [1]);
    for (let start = 0; start < n; start += this.batch) {
      const b = Math.min(this.batch, n - start);
      const feeds: Record<string, ort.Tensor> = {
        image_embed: state.imageEmbed,
        high_res_feats_0: state.highRes0,
        high_res_feats_1: state.highRes1,
        // One point per prompt, label 1; the graph appends the (0,0)/−1 padding point itself.
        point_coords: new ort.Tensor('float32', coords.slice(start * 2, (start + b) * 2), [b, 1, 2]),
        point_labels: new ort.Tensor('float32', new Float32Array(b).fill(1), [b, 1]),
        mask_input: options.maskInput
          ? new ort.Tensor('float32', options.maskInput.slice(start * plane, (start + b) * plane), [b, 1, SX_SAM2_LOW_RES, SX_SAM2_LOW_RES])
          : this.zeroMask(b),
        has_mask_input: hasMask,
      };
      const out = await this.decoder.run(feeds, DECODER_OUTPUTS);
      this.stats.decoderCalls++;
      const masks = out.masks!;
      if (masks.dims[1] !== SX_SAM2_TOKENS || masks.dims[2] !== SX_SAM2_LOW_RES) {
        throw new Error(`decoder returned masks of shape [${masks.dims.join(',')}]; expected [${b},3,256,256] (sx-sam2 contract)`);
      }
      copyOut(masks.data as Float32Array, out.iou_predictions!.data as Float32Array, b, start, k, lowRes, iou);
    }
    this.stats.decoderMs += performance.now() - t0;
    return { prompts: n, masksPerPrompt: k, lowResSize: SX_SAM2_LOW_RES, lowRes, iou };
  }

  async dispose(): Promise<void> {
    this.zeroMasks.clear();
    await this.encoder.release();
    await this.decoder.release();
  }

  private zeroMask(b: number): ort.Tensor {
    let t = this.zeroMasks.get(b);
    if (!t) {
      t = new ort.Tensor('float32', new Float32Array(b * SX_SAM2_LOW_RES * SX_SAM2_LOW_RES), [b, 1, SX_SAM2_LOW_RES, SX_SAM2_LOW_RES]);
      this.zeroMasks.set(b, t);
    }
    return t;
  }
}

/**
 * Copies one batch's outputs (`masks [b,3,256,256]`, `iou [b,3]`) into the call's result at prompt `start`,
 * keeping all three tokens (k = 3) or the best by IoU (k = 1; the first wins ties).
 */
function copyOut(masks: Float32Array, ious: Float32Array, b: number, start: number, k: number, lowRes: Float32Array, iou: Float32Array): void {
  const plane = SX_SAM2_LOW_RES * SX_SAM2_LOW_RES;
  if (k === SX_SAM2_TOKENS) {
    lowRes.set(masks.subarray(0, b * k * plane), start * k * plane);
    iou.set(ious.subarray(0, b * k), start * k);
    return;
  }
  for (let i = 0; i < b; i++) {
    let best = 0;
    for (let t = 1; t < SX_SAM2_TOKENS; t++) if (ious[i * SX_SAM2_TOKENS + t]! > ious[i * SX_SAM2_TOKENS + best]!) best = t;
    const src = i * SX_SAM2_TOKENS + best;
    iou[start + i] = ious[src]!;
    lowRes.set(masks.subarray(src * plane, (src + 1) * plane), (start + i) * plane);
  }
}

function checkEncoder(session: ort.InferenceSession, label: string): void {
  const shape = inputShape(session, ENCODER_INPUT);
  const missing = ENCODER_OUTPUTS.filter((o) => !session.outputNames.includes(o));
  if (!shape || missing.length > 0) {
    throw new Error(
      `${label} is not a samexporter SAM 2 encoder: expected input 'image' [1,3,1024,1024] and outputs ` +
        `${ENCODER_OUTPUTS.join(', ')}; found ${describeIo(session)}`,
    );
  }
  const fixed = shape.slice(1).map((d) => (typeof d === 'number' ? d : null));
  if (shape.length !== 4 || fixed.some((d, i) => d !== null && d !== [3, SAM2_IMAGE_SIZE, SAM2_IMAGE_SIZE][i])) {
    throw new Error(`${label}: input 'image' has shape [${shape.join(',')}]; expected [1,3,1024,1024]`);
  }
}

/**
 * Checks the decoder's names and makes its prompt batch usable: an export with a symbolic `num_labels` is used
 * as is; one whose batch dim was simplified to 1 gets a symbolic dim, kept only if it passes {@link verifyBatching}.
 */
async function loadDecoder(opts: SxSam2LoadOptions): Promise<{ session: ort.InferenceSession; batch: number; details: Record<string, string | number | boolean> }> {
  const wanted = Math.max(1, Math.floor(opts.promptsPerCall ?? SX_SAM2_DEFAULT_PROMPTS_PER_CALL));
  const prepared = prepareDecoder(readModelFile(opts.decoder), {
    label: opts.decoder,
    requiredInputs: DECODER_INPUTS,
    keepOutputs: null,
    batchInputs: BATCH_INPUTS,
    batchOutputs: DECODER_OUTPUTS,
    wantDynamicBatch: wanted > 1,
  });
  if (!Number.isNaN(prepared.maskTokens) && prepared.maskTokens !== SX_SAM2_TOKENS) {
    throw new Error(`${opts.decoder}: 'masks' has ${prepared.maskTokens} masks per prompt; the sx-sam2 export has ${SX_SAM2_TOKENS}`);
  }
  if (prepared.dynamic === prepared.fixed) {
    // Exported with a symbolic batch dim: load the file itself (keeps any external-data sidecar working).
    return { session: await createSession(opts.decoder, opts.decoder, opts), batch: wanted, details: { dynamicBatch: 'exported' } };
  }
  if (prepared.dynamic) {
    const dyn = await createSession(prepared.dynamic, opts.decoder, opts, true);
    const ok = await verifyBatching(dyn);
    if (ok === true) return { session: dyn, batch: wanted, details: { dynamicBatch: 'verified' } };
    await dyn.release();
    const session = await createSession(opts.decoder, opts.decoder, opts);
    return { session, batch: 1, details: { dynamicBatch: `rejected (${ok})` } };
  }
  const session = await createSession(opts.decoder, opts.decoder, opts);
  const dim0 = inputShape(session, 'point_coords')?.[0];
  if (typeof dim0 === 'number' && dim0 !== 1) {
    await session.release();
    throw new Error(`${opts.decoder}: 'point_coords' has a fixed batch of ${dim0}; only 1 or a symbolic batch is supported`);
  }
  return { session, batch: 1, details: { dynamicBatch: wanted > 1 ? 'not possible' : 'not requested' } };
}

/**
 * Checks that a decoder whose batch dim was made symbolic gives, for 2 prompts in one call, the same results as
 * two single-prompt calls, with and without a mask input. Returns true or the reason it does not.
 */
async function verifyBatching(session: ort.InferenceSession): Promise<true | string> {
  const wave = (n: number, f: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * f) * 0.5);
  const plane = SX_SAM2_LOW_RES * SX_SAM2_LOW_RES;
  const common = {
    image_embed: new ort.Tensor('float32', wave(256 * 64 * 64, 0.37), [1, 256, 64, 64]),
    high_res_feats_0: new ort.Tensor('float32', wave(32 * 256 * 256, 0.11), [1, 32, 256, 256]),
    high_res_feats_1: new ort.Tensor('float32', wave(64 * 128 * 128, 0.23), [1, 64, 128, 128]),
  };
  const pts = [
    [200.5, 300.25],
    [700, 90],
  ] as const;
  const masks = wave(2 * plane, 0.013).map((v) => v * 8);
  const run = (idx: number[], has: 0 | 1) =>
    session.run(
      {
        ...common,
        point_coords: new ort.Tensor('float32', Float32Array.from(idx.flatMap((i) => [...pts[i]!])), [idx.length, 1, 2]),
        point_labels: new ort.Tensor('float32', new Float32Array(idx.length).fill(1), [idx.length, 1]),
        mask_input: new ort.Tensor('float32', Float32Array.from(idx.flatMap((i) => Array.from(masks.subarray(i * plane, (i + 1) * plane)))), [idx.length, 1, SX_SAM2_LOW_RES, SX_SAM2_LOW_RES]),
        has_mask_input: new ort.Tensor('float32', new Float32Array([has]), [1]),
      },
      DECODER_OUTPUTS,
    );
  for (const has of [0, 1] as const) {
    const ok = await batchMatchesSingles((idx) => run(idx, has), DECODER_OUTPUTS);
    if (ok !== true) return `${ok} (has_mask_input ${has})`;
  }
  return true;
}

