/**
 * SAM 2's image preprocessing: torchvision `ToTensor()` → `Resize((1024, 1024))` → `Normalize(ImageNet)`
 * (`sam2/utils/transforms.py`, `SAM2Transforms`), all on float32 tensors.
 *
 * torchvision ≥ 0.17 (which SAM 2 requires) resizes tensors with `antialias=True`, i.e. ATen's CPU kernel
 * `_upsample_bilinear2d_aa` (`aten/src/ATen/native/cpu/UpSampleKernel.cpp`,
 * `separable_upsample_generic_Nd_kernel_impl` with `HelperInterpLinear`). Its semantics, reproduced here:
 * - separable: the width (contiguous dim) is resampled first, then the height; a dim whose size is unchanged is
 *   skipped, and an unchanged shape is a plain copy;
 * - per axis, Pillow's antialiased triangle windows and weights (`triangleCoeffs` in `resize.ts`), computed with
 *   `scalar_t = float` (see there), `align_corners=False`, no scale factor given (the scale is `in / out`);
 *   when upscaling the support is 1, which is plain bilinear with half-pixel centres and clamped edges;
 * - each output sample is `src[xmin]·w[0]`, then `+= src[xmin + j]·w[j]` for the other taps, in float32
 *   (`interpolate_aa_single_dim`), with no 8-bit rounding anywhere (unlike the PIL clone).
 *
 * How the compiled `+=` rounds is not in the C++ source, so it was measured. Against the project's reference
 * PyTorch (Debian python3-torch 1.13.1, GCC 12.2 -O2, AVX2 kernels: the build that made every golden vector
 * here) this file is bit-exact, including on 1024² outputs, with this rule: the taps after the first are taken in
 * groups of {@link ACC_VECTOR_WIDTH}; a full group's products are rounded to float32 before each
 * in-order add (the compiler's vectorised in-order reduction), and the remaining taps are fused multiply-adds
 * (`-mfma` contraction). The weights are bit-exact as well (checked separately with one-hot inputs).
 * UNCONFIRMED: other builds (official wheels, another compiler, AVX-512 dispatch) may vectorise or contract
 * differently; the result then differs by at most about 1 float32 ulp per tap (max |Δ| seen between the rules:
 * 2e-7 on 0..1 data).
 */
import { triangleCoeffs, type TriangleCoeffs } from './resize.js';
import { SAM2_PIXEL_MEAN, SAM2_PIXEL_STD } from './preprocess.js';

/** Memory layout of a multi-channel float image: channel planes (`chw`) or interleaved pixels (`hwc`). */
export type FloatImageLayout = 'chw' | 'hwc';

/** Side of the square SAM 2's image encoder sees. */
export const SAM2_IMAGE_SIZE = 1024;

/** Element strides of one image: `index = c·cs + y·ys + x·xs`. */
interface Strides {
  cs: number;
  ys: number;
  xs: number;
}

/**
 * Taps after the first that ATen's compiled loop handles as one vector with separately rounded products (see the
 * file comment); the rest are fused multiply-adds.
 */
export const ACC_VECTOR_WIDTH = 4;

/** Number of taps (after the first) that get separately rounded products, for an `n`-tap window. */
function roundedTaps(n: number): number {
  return Math.floor((n - 1) / ACC_VECTOR_WIDTH) * ACC_VECTOR_WIDTH;
}

function strides(layout: FloatImageLayout, channels: number, h: number, w: number): Strides {
  return layout === 'chw' ? { cs: h * w, ys: w, xs: 1 } : { cs: 1, ys: w * channels, xs: channels };
}

/**
 * Resamples along the width: `src` is `channels × h × w` (in `layout`), the result `channels × h × outW`.
 * One output sample at a time, accumulating in float32 in ATen's order.
 */
function resampleWidth(
  src: Float32Array,
  channels: number,
  h: number,
  w: number,
  outW: number,
  layout: FloatImageLayout,
  c: TriangleCoeffs,
): Float32Array {
  const f = Math.fround;
  const si = strides(layout, channels, h, w);
  const so = strides(layout, channels, h, outW);
  const out = new Float32Array(channels * h * outW);
  const { start, count, weights, ksize } = c;
  for (let ch = 0; ch < channels; ch++) {
    for (let y = 0; y < h; y++) {
      const srow = ch * si.cs + y * si.ys;
      const drow = ch * so.cs + y * so.ys;
      for (let x = 0; x < outW; x++) {
        const kb = x * ksize;
        let p = srow + start[x]! * si.xs;
        const n = count[x]!;
        const vec = roundedTaps(n);
        let acc = f(src[p]! * weights[kb]!);
        for (let j = 1; j < n; j++) {
          p += si.xs;
          // t·w is exact in double, so `acc + t·w` rounded once to float32 is the fused multiply-add.
          acc = j <= vec ? f(acc + f(src[p]! * weights[kb + j]!)) : f(acc + src[p]! * weights[kb + j]!);
        }
        out[drow + x * so.xs] = acc;
      }
    }
  }
  return out;
}

/**
 * Resamples along the height: `src` is `channels × h × w` (in `layout`), the result `channels × outH × w`.
 * Whole rows at a time (a row of one plane for `chw`, a row of interleaved pixels for `hwc`): the same sums in
 * the same order as ATen's per-sample loop, with sequential memory access.
 */
function resampleHeight(
  src: Float32Array,
  channels: number,
  h: number,
  w: number,
  outH: number,
  layout: FloatImageLayout,
  c: TriangleCoeffs,
): Float32Array {
  const f = Math.fround;
  const planes = layout === 'chw' ? channels : 1;
  const rowLen = layout === 'chw' ? w : w * channels;
  const out = new Float32Array(channels * outH * w);
  const acc = new Float32Array(rowLen);
  const { start, count, weights, ksize } = c;
  for (let pl = 0; pl < planes; pl++) {
    const sbase = pl * h * rowLen;
    const dbase = pl * outH * rowLen;
    for (let y = 0; y < outH; y++) {
      const kb = y * ksize;
      const first = sbase + start[y]! * rowLen;
      const w0 = weights[kb]!;
      // Storing into the Float32Array rounds each sum to float32; products are rounded explicitly first.
      for (let i = 0; i < rowLen; i++) acc[i] = src[first + i]! * w0;
      const n = count[y]!;
      const vec = roundedTaps(n);
      for (let j = 1; j < n; j++) {
        const wj = weights[kb + j]!;
        const row = first + j * rowLen;
        if (j <= vec) for (let i = 0; i < rowLen; i++) acc[i] = acc[i]! + f(src[row + i]! * wj);
        else for (let i = 0; i < rowLen; i++) acc[i] = acc[i]! + src[row + i]! * wj; // fused multiply-add
      }
      out.set(acc, dbase + y * rowLen);
    }
  }
  return out;
}

/**
 * ATen's `_upsample_bilinear2d_aa` (CPU, float32, `align_corners=False`), i.e. torchvision ≥ 0.17
 * `resize(tensor, [outH, outW])` on a float image: antialiased when downscaling, plain bilinear when upscaling.
 * @param src `channels × h × w` float32 values in `layout` (any range; SAM 2 feeds 0..1)
 * @param layout `'chw'` (planes) or `'hwc'` (interleaved); the result uses the same layout
 * @returns `channels × outH × outW` float32 (a copy when the size is unchanged)
 */
export function resizeBilinearAaFloat(
  src: Float32Array,
  channels: number,
  h: number,
  w: number,
  outH: number,
  outW: number,
  layout: FloatImageLayout,
): Float32Array {
  if (!(channels >= 1 && h >= 1 && w >= 1 && outH >= 1 && outW >= 1)) {
    throw new RangeError(`resizeBilinearAaFloat: sizes must be positive (channels ${channels}, ${h}x${w} -> ${outH}x${outW})`);
  }
  if (src.length < channels * h * w) throw new RangeError(`resizeBilinearAaFloat: ${src.length} values < ${channels}x${h}x${w}`);
  let img = src.length === channels * h * w ? src : src.subarray(0, channels * h * w);
  if (outH === h && outW === w) return img.slice();
  let curW = w;
  if (outW !== w) {
    img = resampleWidth(img, channels, h, w, outW, layout, triangleCoeffs(w, outW, 'float32'));
    curW = outW;
  }
  if (outH !== h) img = resampleHeight(img, channels, h, curW, outH, layout, triangleCoeffs(h, outH, 'float32'));
  return img;
}

/**
 * torchvision `ToTensor()` of an interleaved RGB image: CHW float32 `v / 255` (a float32 division, as
 * `tensor.div(255)`).
 * @param rgb `h × w × 3` bytes
 * @returns `[3, h, w]` float32 in 0..1
 */
export function toTensorChw(rgb: Uint8Array, h: number, w: number): Float32Array {
  if (rgb.length < h * w * 3) throw new RangeError(`toTensorChw: ${rgb.length} bytes < ${h}x${w}x3`);
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = v / 255;
  const plane = h * w;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    out[i] = lut[rgb[i * 3]!]!;
    out[plane + i] = lut[rgb[i * 3 + 1]!]!;
    out[2 * plane + i] = lut[rgb[i * 3 + 2]!]!;
  }
  return out;
}

/**
 * SAM 2's `SAM2Transforms`: `ToTensor` → antialiased bilinear resize to `size × size` (a square stretch, no aspect
 * preservation, no padding) → `Normalize(mean=[0.485,0.456,0.406], std=[0.229,0.224,0.225])` as
 * `(x - mean) / std` in float32.
 * @param rgb `h × w × 3` bytes, RGB
 * @param size side of the encoder input (1024)
 * @returns the `[1, 3, size, size]` float32 encoder input, row-major
 */
export function sam2Preprocess(rgb: Uint8Array, h: number, w: number, size = SAM2_IMAGE_SIZE): Float32Array {
  const out = resizeBilinearAaFloat(toTensorChw(rgb, h, w), 3, h, w, size, size, 'chw');
  const f = Math.fround;
  const plane = size * size;
  for (let c = 0; c < 3; c++) {
    const m = f(SAM2_PIXEL_MEAN[c]!);
    const s = f(SAM2_PIXEL_STD[c]!);
    for (let i = c * plane, end = i + plane; i < end; i++) out[i] = f(out[i]! - m) / s;
  }
  return out;
}
