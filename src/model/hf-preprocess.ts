/**
 * Host-side image preprocessing and prompt-coordinate mapping for the Hugging Face exports (`hf-sam`, `hf-sam2`),
 * driven by the repository's `preprocessor_config.json` (`SamImageProcessor` fields).
 *
 * Two frames are supported, both ending in a `size × size` (1024²) NCHW float32 tensor:
 * - **letterbox** (`size.longest_edge` + `do_pad`): resize so the longest side is `longest_edge`, rescale,
 *   normalise, zero-pad bottom/right to `pad_size` AFTER normalisation; points `x·newW/w`, `y·newH/h`.
 * - **stretch** (`size.height/width`, no padding needed): squash to `height × width` ignoring the aspect ratio;
 *   points `x/w·1024`, `y/h·1024` in float32 (SAM 2's `transform_coords`).
 *
 * See `../shared/spec/model-contracts.md` §3.1–3.2.
 */
import { readFileSync } from 'node:fs';
import { resizeBilinearPil } from '../amg/resize.js';
import { normalizePadChw, SAM2_PIXEL_MEAN, SAM2_PIXEL_STD } from '../amg/preprocess.js';
import { applyCoords, getPreprocessShape, stretchCoordsFloat32 } from '../amg/transforms.js';
import type { MaskFrame } from './types.js';

/** Side of the square the HF SAM / SAM 2 image encoders take. */
export const HF_IMAGE_SIZE = 1024;

/** PIL resample code for bilinear (the only one supported: `resizeBilinearPil` is a PIL clone). */
export const PIL_BILINEAR = 2;

/** What every HF SAM / SAM 2 processor config shares: 0..1 rescale, ImageNet mean/std, PIL bilinear. */
const HF_COMMON_PREPROCESSOR = {
  do_resize: true,
  do_rescale: true,
  rescale_factor: 0.00392156862745098,
  do_normalize: true,
  image_mean: [0.485, 0.456, 0.406],
  image_std: [0.229, 0.224, 0.225],
  resample: 2,
} as const;

/** `preprocessor_config.json` of `Xenova/sam-vit-base` & co (letterbox + pad): the hf-sam default. */
export const HF_SAM_DEFAULT_PREPROCESSOR = {
  ...HF_COMMON_PREPROCESSOR,
  size: { longest_edge: 1024 },
  do_pad: true,
  pad_size: { height: 1024, width: 1024 },
} as const;

/**
 * HF Python's `Sam2ImageProcessor` defaults (square stretch, no padding): the hf-sam2 default. The
 * onnx-community `sam2-hiera-*` repos ship a letterbox config instead, so pass theirs whenever it exists.
 */
export const HF_SAM2_DEFAULT_PREPROCESSOR = {
  ...HF_COMMON_PREPROCESSOR,
  size: { height: 1024, width: 1024 },
  do_pad: false,
} as const;

/** The parsed, validated preprocessing of one model. */
export interface HfPreprocessConfig {
  /** `letterbox`: longest side to `size`, pad to `size²`; `stretch`: squash to `size²`. */
  readonly kind: 'letterbox' | 'stretch';
  /** Side of the encoder's square input, pixels (1024). */
  readonly size: number;
  /** Factor applied to the bytes before normalising (`rescale_factor`, or 1 when `do_rescale` is false). */
  readonly rescaleFactor: number;
  /** Per-channel RGB mean / std on the rescaled values (`[0,0,0]` / `[1,1,1]` when `do_normalize` is false). */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** Where it came from: a file path, or `default (<why>)`. */
  readonly source: string;
}

/** The result of {@link hfPreprocessImage}. */
export interface HfPreprocessed {
  /** `[3, size, size]` float32, channel-first (add the batch dim of 1 when wrapping it in a tensor). */
  readonly pixels: Float32Array;
  readonly frame: MaskFrame;
}

type Json = Record<string, unknown>;

/**
 * Validates a parsed `preprocessor_config.json`. Throws one-line errors naming `source` and the field.
 * @param size side of the encoder's input square (the config must produce exactly that)
 */
export function parseHfPreprocessConfig(json: unknown, source: string, size = HF_IMAGE_SIZE): HfPreprocessConfig {
  const fail = (what: string): never => {
    throw new Error(`${source}: ${what}`);
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('expected a JSON object');
  const c = json as Json;
  if (c.do_resize === false) fail(`do_resize is false; the encoder needs a ${size}×${size} input, so images must be resized`);
  const resample = c.resample ?? PIL_BILINEAR;
  if (resample !== PIL_BILINEAR) fail(`resample ${JSON.stringify(resample)} is not supported (only 2 = bilinear)`);

  const sz = c.size;
  if (typeof sz !== 'object' || sz === null) fail(`size must be an object like {"longest_edge":${size}} or {"height":${size},"width":${size}}`);
  const s = sz as Json;
  const hasLongest = s.longest_edge !== undefined;
  const hasHw = s.height !== undefined || s.width !== undefined;
  if (hasLongest && hasHw) fail('size gives both longest_edge and height/width; expected one of them');
  let kind: HfPreprocessConfig['kind'];
  if (hasLongest) {
    if (s.longest_edge !== size) fail(`size.longest_edge is ${JSON.stringify(s.longest_edge)}; this encoder takes ${size}`);
    if (c.do_pad === false) fail(`size.longest_edge without do_pad gives a non-square input; the encoder takes ${size}×${size}`);
    const pad = (c.pad_size ?? { height: size, width: size }) as Json;
    if (pad.height !== size || pad.width !== size) fail(`pad_size is ${JSON.stringify(c.pad_size)}; expected {"height":${size},"width":${size}}`);
    kind = 'letterbox';
  } else if (hasHw) {
    if (s.height !== size || s.width !== size) fail(`size is ${JSON.stringify(sz)}; this encoder takes {"height":${size},"width":${size}}`);
    // Padding a full-size square only changes anything when pad_size is larger, which the encoder cannot take.
    const pad = c.do_pad === true && c.pad_size !== undefined ? (c.pad_size as Json) : { height: size, width: size };
    if (pad.height !== size || pad.width !== size) fail(`pad_size is ${JSON.stringify(c.pad_size)}; expected {"height":${size},"width":${size}}`);
    kind = 'stretch';
  } else {
    return fail(`size ${JSON.stringify(sz)} is not supported; expected longest_edge or height/width`);
  }

  const rescale = c.do_rescale === false ? 1 : (c.rescale_factor ?? 1 / 255);
  if (typeof rescale !== 'number' || !(rescale > 0)) fail(`rescale_factor ${JSON.stringify(c.rescale_factor)} must be a positive number`);
  const normalize = c.do_normalize !== false;
  const mean = normalize ? channels(c.image_mean ?? SAM2_PIXEL_MEAN, 'image_mean', fail) : [0, 0, 0];
  const std = normalize ? channels(c.image_std ?? SAM2_PIXEL_STD, 'image_std', fail) : [1, 1, 1];
  if (std.some((v) => v === 0)) fail('image_std has a zero');
  return { kind, size, rescaleFactor: rescale as number, mean, std, source };
}

/** A per-channel constant: a number (broadcast) or an array of 3 numbers. */
function channels(v: unknown, field: string, fail: (what: string) => never): number[] {
  if (typeof v === 'number') return [v, v, v];
  if (Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number')) return v as number[];
  return fail(`${field} must be a number or 3 numbers, got ${JSON.stringify(v)}`);
}

/**
 * Reads `preprocessor_config.json`, or returns the family default when `path` is undefined.
 * @param fallback which default applies: `hf-sam` = letterbox ({@link HF_SAM_DEFAULT_PREPROCESSOR}),
 *   `hf-sam2` = stretch ({@link HF_SAM2_DEFAULT_PREPROCESSOR}, HF Python's `Sam2ImageProcessor`)
 */
export function loadHfPreprocessConfig(path: string | undefined, fallback: 'hf-sam' | 'hf-sam2', size = HF_IMAGE_SIZE): HfPreprocessConfig {
  if (path === undefined) {
    const json = fallback === 'hf-sam' ? HF_SAM_DEFAULT_PREPROCESSOR : HF_SAM2_DEFAULT_PREPROCESSOR;
    return parseHfPreprocessConfig(json, `default (${fallback}, no preprocessor_config.json given)`, size);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return parseHfPreprocessConfig(json, path, size);
}

/**
 * The processor's image transform on an RGB image.
 *
 * Letterbox sizes use HF Python's `_get_preprocess_shape` (`int(x·scale + 0.5)`, = SAM's); transformers.js
 * rounds as `floor(toFixed(2))` and may differ by a pixel on some sizes. Both frames resize the uint8 image with
 * PIL's bilinear (HF's slow processors resize PIL images); the fast torchvision processors resize tensors with
 * their own antialiasing, which can differ by a grey level — harmless for masks.
 * @param rgb `h × w × 3` uint8, row-major
 * @throws when the image is so elongated that a letterboxed side rounds to 0
 */
export function hfPreprocessImage(rgb: Uint8Array, h: number, w: number, cfg: HfPreprocessConfig): HfPreprocessed {
  const n = cfg.size;
  if (cfg.kind === 'stretch') {
    const resized = resizeBilinearPil(rgb, h, w, n, n);
    return { pixels: normalizePadChw(resized, n, n, n, cfg.mean, cfg.std, cfg.rescaleFactor), frame: { kind: 'stretch' } };
  }
  const [inputH, inputW] = getPreprocessShape(h, w, n);
  if (inputH < 1 || inputW < 1) {
    throw new Error(`image of ${w}×${h} px is too elongated: it resizes to ${inputW}×${inputH} at ${n} px`);
  }
  const resized = resizeBilinearPil(rgb, h, w, inputH, inputW);
  return {
    pixels: normalizePadChw(resized, inputH, inputW, n, cfg.mean, cfg.std, cfg.rescaleFactor),
    frame: { kind: 'letterbox', inputH, inputW, padSize: n },
  };
}

/**
 * Maps prompt points from image pixels into the model's input frame, as float32 (the decoder's dtype).
 * Letterbox: `fround(x·(newW/w))` in double like HF's `_normalize_coordinates` on numpy arrays; stretch:
 * `fround(fround(x/w)·1024)` like SAM 2's `transform_coords` (HF's processor scales by `1024/w` in float32
 * instead; the two differ by at most one float32 ulp).
 * @param points interleaved `[x, y]` pixels of the `h × w` image
 */
export function hfTransformPoints(points: Float64Array, h: number, w: number, cfg: HfPreprocessConfig): Float32Array {
  return cfg.kind === 'stretch' ? stretchCoordsFloat32(points, h, w, cfg.size) : Float32Array.from(applyCoords(points, h, w, cfg.size));
}
