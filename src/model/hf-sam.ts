/**
 * Adapter for the `hf-sam` contract: transformers.js / optimum "split" exports of SAM 1 (`Xenova/sam-vit-*`,
 * `Xenova/slimsam-*`), `onnx/vision_encoder*.onnx` + `onnx/prompt_encoder_mask_decoder*.onnx`
 * (`../shared/spec/model-contracts.md` §3.1). Also home of {@link HfModelBase}, the machinery shared with
 * `hf-sam2` (same processor, same prompt layout, same outputs).
 *
 * Encoder: `pixel_values f32 [B,3,1024,1024]` (host-preprocessed per `preprocessor_config.json`, see
 * `hf-preprocess.ts`) → `image_embeddings`, `image_positional_embeddings` `[B,256,64,64]`.
 * Decoder: the encoder outputs, `input_points f32 [B,N,P,2]`, `input_labels i64 [B,N,P]` → `iou_scores [B,N,3]`,
 * `pred_masks [B,N,3,256,256]` (low-res logits of the 3 multimask tokens).
 *
 * Prompts are batched along N (`point_batch_size`), one image per call (B = 1), one point per prompt with
 * label 1. NO (0,0)/−1 padding point is added: HF's prompt encoder appends it itself when no box is given
 * (`pad = input_boxes is None`). Ragged prompts would be padded with label −10 (zeroed embedding); a single
 * point per prompt never needs it, except for decoders whose P dim is fixed above 1 (see {@link planDecoder}).
 */
import * as ort from 'onnxruntime-node';
import { hfPreprocessImage, hfTransformPoints, loadHfPreprocessConfig, HF_IMAGE_SIZE, type HfPreprocessConfig } from './hf-preprocess.js';
import { createSession, describeIo, inputShape, type RuntimeOptions } from './session.js';
import { emptyModelStats, type DecodedMasks, type DecodeOptions, type EncodedImage, type MaskModel, type ModelInfo } from './types.js';

/** Prompts per decoder call when the caller does not say (a 32×32 grid then takes 16 calls). */
export const HF_DEFAULT_PROMPTS_PER_CALL = 64;
/** HF's label for a padding point whose embedding is zeroed (`SamPromptEncoder._embed_points`). */
export const HF_PAD_LABEL = -10;

/** Options of `HfSamModel.load` / `HfSam2Model.load`. */
export interface HfLoadOptions extends RuntimeOptions {
  /** `vision_encoder*.onnx`. */
  encoder: string;
  /** `prompt_encoder_mask_decoder*.onnx`. */
  decoder: string;
  /** Path of the repository's `preprocessor_config.json`; omitted → the contract's default (see each class). */
  preprocessorConfig?: string;
  /** Prompts per decoder call along the point-batch dim (default 64); a decoder with that dim fixed wins. */
  promptsPerCall?: number;
}

/** What distinguishes the two HF contracts, for {@link HfModelBase}. */
export interface HfContractSpec {
  readonly contract: 'hf-sam' | 'hf-sam2';
  readonly family: 'sam1' | 'sam2';
  /** Which default preprocessing applies without a config file. */
  readonly fallbackConfig: 'hf-sam' | 'hf-sam2';
  /** Decoder inputs fed from the encoder's outputs of the same name; `null` = every decoder input matching `embeddingPattern`. */
  readonly embeddingInputs: readonly string[] | null;
  readonly embeddingPattern?: RegExp;
  /** Decoder inputs the adapter knows how to fill besides the embeddings (`input_points`, `input_labels` required). */
  readonly optionalInputs: readonly string[];
  /** Decoder outputs read when present. */
  readonly optionalOutputs: readonly string[];
}

/** How prompts are packed for one decoder, derived from its declared input shapes. */
export interface DecoderPlan {
  /** Prompts per call (dim 1 of `input_points`). */
  readonly batch: number;
  /** Dim 1 is a fixed number: short chunks are padded by repeating their last prompt. */
  readonly fixedBatch: boolean;
  /** Points per prompt (dim 2): 1, or a fixed P > 1 whose extra points are (0,0) with label −10. */
  readonly pointsPerPrompt: number;
  /** Element type of `input_labels` (int64 in every known export; float32 accepted defensively). */
  readonly labelType: 'int64' | 'float32';
  /** Decoder inputs that take encoder outputs. */
  readonly embeddingInputs: readonly string[];
  /** Whether to feed an empty `input_boxes [1,0,4]` (only when the graph declares it). */
  readonly feedEmptyBoxes: boolean;
  /** Outputs to fetch. */
  readonly outputs: readonly string[];
}

interface HfState {
  /** Encoder outputs by decoder input name. */
  feeds: Record<string, ort.Tensor>;
}

const POINTS = 'input_points';
const LABELS = 'input_labels';
const BOXES = 'input_boxes';
const IOU = 'iou_scores';
const MASKS = 'pred_masks';
const OBJECT_SCORES = 'object_score_logits';

/**
 * The adapter logic shared by `hf-sam` and `hf-sam2`: HF preprocessing on the host, encoder outputs passed by
 * name, prompts batched along dim 1 of `input_points`.
 */
export abstract class HfModelBase implements MaskModel {
  readonly info: ModelInfo;
  readonly stats = emptyModelStats();

  protected constructor(
    private readonly encoder: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    private readonly config: HfPreprocessConfig,
    private readonly plan: DecoderPlan,
    spec: HfContractSpec,
    details: Record<string, string | number | boolean>,
  ) {
    this.info = {
      contract: spec.contract,
      family: spec.family,
      promptsPerCall: plan.batch,
      acceptsMaskInput: false,
      details: {
        frame: config.kind,
        preprocessorConfig: config.source,
        pointBatch: plan.fixedBatch ? `fixed ${plan.batch}` : 'dynamic',
        pointsPerPrompt: plan.pointsPerPrompt,
        labelType: plan.labelType,
        ...details,
      },
    };
  }

  /** Opens both sessions, checks their I/O against `spec` and reads the preprocessing config. */
  protected static async open(
    opts: HfLoadOptions,
    spec: HfContractSpec,
  ): Promise<{ encoder: ort.InferenceSession; decoder: ort.InferenceSession; config: HfPreprocessConfig; plan: DecoderPlan }> {
    const encoder = await createSession(opts.encoder, opts.encoder, opts);
    let decoder: ort.InferenceSession | null = null;
    try {
      const size = checkEncoder(encoder, opts.encoder, spec.contract);
      const config = loadHfPreprocessConfig(opts.preprocessorConfig, spec.fallbackConfig, size);
      decoder = await createSession(opts.decoder, opts.decoder, opts);
      const plan = planDecoder(decoder, encoder, opts.decoder, spec, opts.promptsPerCall ?? HF_DEFAULT_PROMPTS_PER_CALL);
      return { encoder, decoder, config, plan };
    } catch (err) {
      await encoder.release();
      if (decoder) await decoder.release();
      throw err;
    }
  }

  async encode(rgb: Uint8Array, height: number, width: number): Promise<EncodedImage> {
    let t = performance.now();
    const { pixels, frame } = hfPreprocessImage(rgb, height, width, this.config);
    const n = this.config.size;
    const input = new ort.Tensor('float32', pixels, [1, 3, n, n]);
    this.stats.preprocessMs += performance.now() - t;
    t = performance.now();
    const out = await this.encoder.run({ pixel_values: input }, [...this.plan.embeddingInputs]);
    this.stats.encoderMs += performance.now() - t;
    this.stats.encoderCalls++;
    const feeds: Record<string, ort.Tensor> = {};
    for (const name of this.plan.embeddingInputs) feeds[name] = out[name]!;
    const state: HfState = { feeds };
    return { height, width, frame, state };
  }

  async decode(image: EncodedImage, points: Float64Array, options: DecodeOptions = {}): Promise<DecodedMasks> {
    if (options.maskInput) {
      throw new Error(`${this.info.contract} decoders have no mask input; run without --use-m2m (mask refinement)`);
    }
    const t0 = performance.now();
    const n = points.length / 2;
    const coords = hfTransformPoints(points, image.height, image.width, this.config);
    const { feeds } = image.state as HfState;
    const acc = new BatchAccumulator(n);
    for (let start = 0; start < n; start += this.plan.batch) {
      const count = Math.min(this.plan.batch, n - start);
      const rows = this.plan.fixedBatch ? this.plan.batch : count;
      const out = await this.decoder.run({ ...feeds, ...this.promptFeeds(coords, start, count, rows) }, [...this.plan.outputs]);
      this.stats.decoderCalls++;
      acc.add(out, start, count, rows);
    }
    const all = acc.result();
    const result = options.multimask === false ? selectBestMask(all) : multimaskOnly(all);
    this.stats.decoderMs += performance.now() - t0;
    return result;
  }

  /** `input_points [1,rows,P,2]`, `input_labels [1,rows,P]` (and an empty `input_boxes`) for prompts `start..start+count`. */
  private promptFeeds(coords: Float32Array, start: number, count: number, rows: number): Record<string, ort.Tensor> {
    const p = this.plan.pointsPerPrompt;
    const pts = new Float32Array(rows * p * 2);
    const labels = new Float32Array(rows * p).fill(HF_PAD_LABEL);
    for (let i = 0; i < rows; i++) {
      // Rows past `count` (fixed point-batch dims only) repeat the last prompt; their outputs are dropped.
      const src = start + Math.min(i, count - 1);
      pts[i * p * 2] = coords[src * 2]!;
      pts[i * p * 2 + 1] = coords[src * 2 + 1]!;
      labels[i * p] = 1;
    }
    const feeds: Record<string, ort.Tensor> = {
      [POINTS]: new ort.Tensor('float32', pts, [1, rows, p, 2]),
      [LABELS]:
        this.plan.labelType === 'int64'
          ? new ort.Tensor('int64', BigInt64Array.from(labels, (v) => BigInt(v)), [1, rows, p])
          : new ort.Tensor('float32', labels, [1, rows, p]),
    };
    // transformers.js sends a zero-length box dim for point-only prompts (spec §3.2).
    if (this.plan.feedEmptyBoxes) feeds[BOXES] = new ort.Tensor('float32', new Float32Array(0), [1, 0, 4]);
    return feeds;
  }

  async dispose(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
  }
}

/**
 * `hf-sam`: Xenova SAM 1 / SlimSAM split exports. Family `sam1` (letterbox frame unless the config says
 * otherwise). Without `preprocessorConfig` the Xenova config applies: longest side 1024, PIL bilinear, 1/255,
 * ImageNet mean/std, zero pad to 1024² after normalising.
 *
 * `multimask: false` returns, per prompt, the multimask output with the highest predicted IoU (ties: the lowest
 * index): these exports do not expose SAM's single-mask token 0. `maskInput` is not supported (no mask input).
 */
export class HfSamModel extends HfModelBase {
  static readonly spec: HfContractSpec = {
    contract: 'hf-sam',
    family: 'sam1',
    fallbackConfig: 'hf-sam',
    embeddingInputs: ['image_embeddings', 'image_positional_embeddings'],
    optionalInputs: [],
    optionalOutputs: [],
  };

  /** Loads and checks both files and the config; errors name the file and list the I/O found. */
  static async load(opts: HfLoadOptions): Promise<HfSamModel> {
    const { encoder, decoder, config, plan } = await HfModelBase.open(opts, HfSamModel.spec);
    return new HfSamModel(encoder, decoder, config, plan, HfSamModel.spec, {});
  }
}

/**
 * Checks the encoder has `pixel_values [B,3,S,S]` float32; returns S (1024 when symbolic).
 * @throws listing the encoder's I/O when the input is missing or has another type/rank
 */
function checkEncoder(session: ort.InferenceSession, label: string, contract: string): number {
  const meta = session.inputMetadata.find((m) => m.name === 'pixel_values');
  if (!meta || !meta.isTensor) {
    throw new Error(`${label} is not a ${contract} vision encoder: expected input 'pixel_values', found ${describeIo(session)}`);
  }
  if (meta.type !== 'float32') {
    throw new Error(`${label}: 'pixel_values' is ${meta.type}; only float32 encoder inputs are supported (try the fp32 or quantized file)`);
  }
  const shape = meta.shape;
  if (shape.length !== 4 || (typeof shape[1] === 'number' && shape[1] !== 3)) {
    throw new Error(`${label}: 'pixel_values' is [${shape.join(',')}]; expected [batch,3,1024,1024]`);
  }
  const [h, w] = [shape[2], shape[3]];
  const size = typeof h === 'number' && h > 0 ? h : typeof w === 'number' && w > 0 ? w : HF_IMAGE_SIZE;
  if ((typeof h === 'number' && h > 0 && h !== size) || (typeof w === 'number' && w > 0 && w !== size)) {
    throw new Error(`${label}: 'pixel_values' is [${shape.join(',')}]; expected a square input`);
  }
  return size;
}

const isFixed = (d: number | string | undefined): d is number => typeof d === 'number' && d > 0;

/**
 * Checks the decoder's inputs and outputs against the contract and decides how prompts are packed.
 * Every declared input must be fillable (TJS feeds `pick(inputs, session.inputNames)`, so unknown inputs mean an
 * unknown contract); required ones must be present.
 * @throws one line naming the file, what is missing, and the I/O found
 */
export function planDecoder(
  decoder: ort.InferenceSession,
  encoder: ort.InferenceSession,
  label: string,
  spec: HfContractSpec,
  promptsPerCall: number,
): DecoderPlan {
  const names = decoder.inputNames;
  const found = () => describeIo(decoder);
  const embeddingInputs = spec.embeddingInputs ?? names.filter((n) => spec.embeddingPattern!.test(n));
  const required = [...(spec.embeddingInputs ?? []), POINTS, LABELS];
  const missing = required.filter((n) => !names.includes(n));
  if (embeddingInputs.length === 0) missing.unshift(`an input matching ${spec.embeddingPattern}`);
  const missingOut = [IOU, MASKS].filter((n) => !decoder.outputNames.includes(n));
  if (missing.length > 0 || missingOut.length > 0) {
    throw new Error(
      `${label} is not a ${spec.contract} decoder: missing ${[...missing, ...missingOut.map((n) => `output ${n}`)].join(', ')}; found ${found()}`,
    );
  }
  const known = new Set([...embeddingInputs, POINTS, LABELS, ...spec.optionalInputs]);
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new Error(`${label}: decoder input(s) ${unknown.join(', ')} are not part of the ${spec.contract} contract; found ${found()}`);
  }
  const notFromEncoder = embeddingInputs.filter((n) => !encoder.outputNames.includes(n));
  if (notFromEncoder.length > 0) {
    throw new Error(
      `${label}: decoder input(s) ${notFromEncoder.join(', ')} are not outputs of the encoder (encoder outputs: ${encoder.outputNames.join(', ')}); are the two files from the same model?`,
    );
  }

  const pointMeta = decoder.inputMetadata.find((m) => m.name === POINTS)!;
  if (pointMeta.isTensor && pointMeta.type !== 'float32') {
    throw new Error(`${label}: '${POINTS}' is ${pointMeta.type}; only float32 decoder inputs are supported (try the fp32 or quantized file)`);
  }
  const pointShape = inputShape(decoder, POINTS) ?? [];
  if (pointShape.length !== 4) throw new Error(`${label}: '${POINTS}' is [${pointShape.join(',')}]; expected [batch,point_batch,points,2]`);
  const labelMeta = decoder.inputMetadata.find((m) => m.name === LABELS)!;
  const labelType = labelMeta.isTensor ? labelMeta.type : 'unknown';
  if (labelType !== 'int64' && labelType !== 'float32') {
    throw new Error(`${label}: '${LABELS}' is ${labelType}; expected int64`);
  }
  // Whether the Xenova files keep point_batch_size dynamic is UNCONFIRMED (spec §6.2): honour a fixed size.
  const fixedBatch = isFixed(pointShape[1]);
  const batch = fixedBatch ? (pointShape[1] as number) : Math.max(1, Math.floor(promptsPerCall));
  const pointsPerPrompt = isFixed(pointShape[2]) ? (pointShape[2] as number) : 1;
  return {
    batch,
    fixedBatch,
    pointsPerPrompt,
    labelType,
    embeddingInputs,
    feedEmptyBoxes: names.includes(BOXES),
    outputs: [IOU, MASKS, ...spec.optionalOutputs.filter((n) => decoder.outputNames.includes(n))],
  };
}

/** All tokens of all prompts, as the decoder returned them. */
interface RawMasks {
  prompts: number;
  tokens: number;
  size: number;
  lowRes: Float32Array;
  iou: Float32Array;
  objectScores?: Float32Array;
}

/** Collects the outputs of successive decoder calls into prompt-major arrays. */
class BatchAccumulator {
  private raw: RawMasks | null = null;

  constructor(private readonly prompts: number) {}

  /** Copies the first `count` of `rows` prompts of one call's outputs to prompts `start..`. */
  add(out: ort.InferenceSession.OnnxValueMapType, start: number, count: number, rows: number): void {
    const iouT = out[IOU]!;
    const masksT = out[MASKS]!;
    const [, n, k] = iouT.dims;
    const md = masksT.dims;
    if (iouT.dims.length !== 3 || n !== rows || md.length !== 5 || md[1] !== rows || md[2] !== k || md[3] !== md[4]) {
      throw new Error(`decoder returned ${IOU} [${iouT.dims.join(',')}] and ${MASKS} [${md.join(',')}] for ${rows} prompts; expected [1,${rows},K] and [1,${rows},K,S,S]`);
    }
    const tokens = k!;
    const size = md[3]!;
    const plane = size * size;
    const objT = out[OBJECT_SCORES];
    if (!this.raw) {
      this.raw = {
        prompts: this.prompts,
        tokens,
        size,
        lowRes: new Float32Array(this.prompts * tokens * plane),
        iou: new Float32Array(this.prompts * tokens),
        ...(objT ? { objectScores: new Float32Array(this.prompts) } : {}),
      };
    }
    const r = this.raw;
    r.iou.set((iouT.data as Float32Array).subarray(0, count * tokens), start * tokens);
    r.lowRes.set((masksT.data as Float32Array).subarray(0, count * tokens * plane), start * tokens * plane);
    if (objT && r.objectScores) {
      // [1,rows,1]: one logit per prompt.
      r.objectScores.set((objT.data as Float32Array).subarray(0, count), start);
    }
  }

  result(): RawMasks {
    // No prompts: nothing ran; report the contract's usual 3 tokens.
    return this.raw ?? { prompts: 0, tokens: 3, size: 256, lowRes: new Float32Array(0), iou: new Float32Array(0) };
  }
}

/** The decoder's masks as `DecodedMasks` in multimask mode: K = 3 as returned; a 4-token export drops token 0. */
function multimaskOnly(r: RawMasks): DecodedMasks {
  if (r.tokens !== 4) return asDecoded(r);
  // Not seen in HF exports (they slice 1: in the graph), but SAM's raw decoder returns token 0 first.
  return toDecoded(r, 3, (_p, t) => t + 1);
}

/**
 * One mask per prompt. With the 3 multimask tokens only (HF exports), the highest predicted IoU wins (ties: the
 * lowest index), like SAM 2's AMG when `multimask_output` is off but only multimask outputs exist; a 4-token
 * export uses its single-mask token 0; a 1-token export returns it.
 */
function selectBestMask(r: RawMasks): DecodedMasks {
  if (r.tokens === 1) return asDecoded(r);
  if (r.tokens === 4) return toDecoded(r, 1, () => 0);
  return toDecoded(r, 1, (p) => {
    let best = 0;
    for (let t = 1; t < r.tokens; t++) if (r.iou[p * r.tokens + t]! > r.iou[p * r.tokens + best]!) best = t;
    return best;
  });
}

/** Copies `k` tokens per prompt, token `t` of prompt `p` taken from raw token `pick(p, t)`. */
function toDecoded(r: RawMasks, k: number, pick: (p: number, t: number) => number): DecodedMasks {
  const plane = r.size * r.size;
  const lowRes = new Float32Array(r.prompts * k * plane);
  const iou = new Float32Array(r.prompts * k);
  for (let p = 0; p < r.prompts; p++) {
    for (let t = 0; t < k; t++) {
      const src = p * r.tokens + pick(p, t);
      iou[p * k + t] = r.iou[src]!;
      lowRes.set(r.lowRes.subarray(src * plane, (src + 1) * plane), (p * k + t) * plane);
    }
  }
  return { prompts: r.prompts, masksPerPrompt: k, lowResSize: r.size, lowRes, iou, ...objectScores(r) };
}

/** All tokens as returned (no copy). */
function asDecoded(r: RawMasks): DecodedMasks {
  return { prompts: r.prompts, masksPerPrompt: r.tokens, lowResSize: r.size, lowRes: r.lowRes, iou: r.iou, ...objectScores(r) };
}

function objectScores(r: RawMasks): { objectScores?: Float32Array } {
  return r.objectScores ? { objectScores: r.objectScores } : {};
}
