/**
 * The one small interface every model adapter implements. The pipeline sees nothing of ONNX contracts:
 * it hands an RGB crop to `encode`, point prompts in crop pixels to `decode`, and gets low-resolution mask
 * logits and predicted IoUs back.
 */

/** How the model's low-res mask frame maps back onto the encoded image (decides mask upscaling). */
export type MaskFrame =
  /** SAM 1: the image was resized so its longest side is `padSize` (→ `inputH × inputW`) and zero-padded
   * bottom/right to `padSize²`; low-res logits cover the padded square. */
  | { kind: 'letterbox'; inputH: number; inputW: number; padSize: number }
  /** SAM 2 (official): the image was squashed to a square; low-res logits cover the whole image. */
  | { kind: 'stretch' };

/** An encoded image (or crop). Opaque model state plus what the pipeline needs to map masks back. */
export interface EncodedImage {
  /** Height and width, in pixels, of the RGB image that was encoded. */
  readonly height: number;
  readonly width: number;
  readonly frame: MaskFrame;
  /** Adapter-private state (image embeddings). */
  readonly state: unknown;
}

/** Masks decoded for a batch of B single-point prompts, K masks per prompt, prompt-major. */
export interface DecodedMasks {
  /** Number of prompts B. */
  readonly prompts: number;
  /** Masks per prompt K (3 in multimask mode, 1 for single-mask decoders). */
  readonly masksPerPrompt: number;
  /** Side of the square low-res logit maps (256 for every SAM family). */
  readonly lowResSize: number;
  /** `[B, K, lowResSize, lowResSize]` float32 logits, row-major. */
  readonly lowRes: Float32Array;
  /** `[B, K]` predicted IoU per mask. */
  readonly iou: Float32Array;
  /** `[B]` object-score logits (> 0: an object is present), for decoders that output them (SAM 2, HF export). */
  readonly objectScores?: Float32Array;
}

/** Per-call decoding options. */
export interface DecodeOptions {
  /**
   * false: one mask per prompt (the single-mask token where the decoder has one, else the best of the three
   * multimask outputs by predicted IoU). Default true: the three multimask outputs (tokens 1..3).
   */
  multimask?: boolean;
  /**
   * `[B, lowRes, lowRes]` mask logits fed back as the decoder's `mask_input` (SAM 2's mask-to-mask refinement),
   * one per prompt. Adapters whose contract has no mask input throw.
   */
  maskInput?: Float32Array;
}

/** Facts about a loaded model, reported by `sam-amg` and used for logging. */
export interface ModelInfo {
  /** Contract name, e.g. `sx-sam1+meta-decoder`. */
  readonly contract: string;
  /** Generator family whose semantics apply (`sam1` or `sam2`). */
  readonly family: 'sam1' | 'sam2';
  /** Largest number of prompts the decoder takes per call (1 for fixed-batch exports). */
  readonly promptsPerCall: number;
  /** Whether `decode` accepts `maskInput` (needed for `--use-m2m`). */
  readonly acceptsMaskInput: boolean;
  /** Free-form details (encoder layout, masks per call, pruning), for `--verbose` and the summary. */
  readonly details: Record<string, string | number | boolean>;
}

/** Cumulative time an adapter spent, in milliseconds (for benchmarks and `--verbose`). */
export interface ModelStats {
  /** Resizing and normalising images on the host. */
  preprocessMs: number;
  /** Image-encoder runs. */
  encoderMs: number;
  encoderCalls: number;
  /** Mask-decoder runs (including prompt packing and output copies). */
  decoderMs: number;
  decoderCalls: number;
}

export function emptyModelStats(): ModelStats {
  return { preprocessMs: 0, encoderMs: 0, encoderCalls: 0, decoderMs: 0, decoderCalls: 0 };
}

export interface MaskModel {
  readonly info: ModelInfo;
  readonly stats: ModelStats;
  /**
   * Encodes an RGB image.
   * @param rgb `height × width × 3` uint8, row-major, RGB interleaved.
   */
  encode(rgb: Uint8Array, height: number, width: number): Promise<EncodedImage>;
  /**
   * Decodes one mask set per point prompt.
   * @param points interleaved `[x, y]` float64 pixel coordinates in the encoded image's own frame
   *   (crop-local for crops), exactly the reference's `points` before `apply_coords`.
   */
  decode(image: EncodedImage, points: Float64Array, options?: DecodeOptions): Promise<DecodedMasks>;
  /** Releases the ONNX sessions. */
  dispose(): Promise<void>;
}
