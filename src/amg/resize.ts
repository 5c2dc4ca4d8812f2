/**
 * Byte-exact clone of PIL `Image.resize(size, Image.BILINEAR)` for 8-bit interleaved images (what SAM 1's
 * `ResizeLongestSide.apply_image` runs, via torchvision's `resize` on a PIL image).
 *
 * PIL's "bilinear" is a convolution resample (Pillow `libImaging/Resample.c`), not textbook bilinear
 * interpolation:
 * - triangle kernel `max(0, 1 - |x|)` with support 1, stretched by the scale factor when DOWNscaling (so
 *   it averages over the footprint: antialiasing);
 * - for each output sample, the window of inputs and its weights are computed in double, normalised to
 *   sum 1, then converted to fixed point with 22 fractional bits (`PRECISION_BITS = 32 - 8 - 2`),
 *   rounding half away from zero;
 * - the horizontal pass runs first, then the vertical one; each accumulates in int32 starting from
 *   `1 << 21` (round half up), shifts right by 22 and clamps to 0..255, so the intermediate image is
 *   8-bit too;
 * - a pass is skipped when its dimension is unchanged, and the horizontal pass only processes the input
 *   rows that the vertical pass will read (same result, less work).
 * Sharp/libvips `linear` differs (see the project report), so SAM parity needs this clone.
 */

/** `PRECISION_BITS` of Pillow's 8-bit resampler. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

/**
 * Antialiased triangle-filter ("bilinear") resampling windows and weights of one axis, shared by the PIL clone
 * below and by the float resize of SAM 2 (`resize-float.ts`, ATen's `_upsample_bilinear2d_aa`). Both libraries
 * compute them with the same formulas (ATen's `_compute_indices_min_size_weights_aa` was ported from Pillow's
 * `precompute_coeffs`); they differ only in the precision of the arithmetic.
 */
export interface TriangleCoeffs {
  /** First input index per output. */
  start: Int32Array;
  /** Number of inputs per output (at most `ksize`). */
  count: Int32Array;
  /** `ksize` normalised weights per output, row-major (only the first `count` used; the rest are 0). */
  weights: Float64Array;
  /** Window capacity per output: `ceil(support) * 2 + 1`. */
  ksize: number;
}

/**
 * Window and weights for resampling `inSize` samples to `outSize` over the whole axis with a triangle filter
 * `max(0, 1 - |x|)` whose support is widened by the scale when downscaling (so it averages over the footprint) and
 * stays 1 when upscaling (plain bilinear, half-pixel centres, renormalised at the edges).
 *
 * - `'float64'`: Pillow's `precompute_coeffs` (all double), for the 8-bit PIL clone.
 * - `'float32'`: ATen's `_compute_indices_min_size_weights_aa` with `scalar_t = float` (what a float32 tensor
 *   gets): scale, centre, support, filter argument, weights and their running sum are stored as float32 while the
 *   `+ 0.5` and `* invscale` steps happen in double, exactly as C++ promotes them. Every value is rounded where
 *   the C++ code stores a `float`.
 */
export function triangleCoeffs(inSize: number, outSize: number, arithmetic: 'float64' | 'float32' = 'float64'): TriangleCoeffs {
  const r = arithmetic === 'float32' ? Math.fround : (x: number) => x;
  // ATen: `static_cast<float>(in) / out`; Pillow: double. (Dividing in double and rounding once to float32 is
  // the correctly rounded float32 quotient.)
  const scale = r(inSize / outSize);
  const support = scale >= 1 ? scale : 1;
  const invscale = scale >= 1 ? r(1 / scale) : 1;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  for (let i = 0; i < outSize; i++) {
    const center = r(scale * (i + 0.5));
    // C `(int64_t)` / `(int)` truncate toward zero; negative values are clamped to 0 right after anyway.
    let xmin = Math.trunc(r(center - support) + 0.5);
    if (xmin < 0) xmin = 0;
    const xmax = Math.min(Math.trunc(r(center + support) + 0.5), inSize);
    // ATen clips the count to the window capacity (a float rounding case); for doubles it never triggers.
    const n = Math.max(0, Math.min(xmax - xmin, ksize));
    const base = i * ksize;
    let total = 0;
    for (let j = 0; j < n; j++) {
      const t = Math.abs(r((r(j + xmin - center) + 0.5) * invscale));
      const w = t < 1 ? r(1 - t) : 0;
      weights[base + j] = w;
      total = r(total + w);
    }
    if (total !== 0) for (let j = 0; j < n; j++) weights[base + j] = r(weights[base + j]! / total);
    start[i] = xmin;
    count[i] = n;
  }
  return { start, count, weights, ksize };
}

/** Fixed-point resampling coefficients of one axis. */
interface Coeffs {
  /** First input index per output. */
  start: Int32Array;
  /** Number of inputs per output. */
  count: Int32Array;
  /** `ksize` fixed-point weights per output (only the first `count` used). */
  k: Int32Array;
  ksize: number;
}

/**
 * Window and weights for resampling `inSize` samples to `outSize` over the whole input, as Pillow's
 * `precompute_coeffs` (double arithmetic in the same order) followed by `normalize_coeffs_8bpc`.
 */
function bilinearCoeffs(inSize: number, outSize: number): Coeffs {
  // The box is [0, inSize]; Pillow holds it as float, exact for any realistic size.
  const { start, count, weights, ksize } = triangleCoeffs(inSize, outSize, 'float64');
  const k = new Int32Array(weights.length);
  for (let i = 0; i < weights.length; i++) {
    const v = weights[i]!;
    // Fixed point, rounding half away from zero (the C code's `(int)(v * ONE +- 0.5)`).
    k[i] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
  }
  return { start, count, k, ksize };
}

/** `clip8(ss)`: arithmetic shift by 22, clamped to a byte. */
function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Horizontal pass over input rows `[y0, y0 + rowsOut)`: `dst` is `rowsOut x outW x channels`.
 * Integer accumulation like Pillow (int32; the products and sums stay far below 2^31).
 */
function resampleHorizontal(
  src: Uint8Array,
  w: number,
  channels: number,
  y0: number,
  rowsOut: number,
  c: Coeffs,
  outW: number,
  dst: Uint8Array,
): void {
  const { start, count, k, ksize } = c;
  for (let yy = 0; yy < rowsOut; yy++) {
    const srow = (yy + y0) * w * channels;
    const drow = yy * outW * channels;
    if (channels === 3) {
      // RGB: three accumulators per output pixel, one walk over the window.
      for (let xx = 0; xx < outW; xx++) {
        let p = srow + start[xx]! * 3;
        const n = count[xx]!;
        const kb = xx * ksize;
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        for (let x = 0; x < n; x++, p += 3) {
          const kv = k[kb + x]!;
          s0 = (s0 + Math.imul(src[p]!, kv)) | 0;
          s1 = (s1 + Math.imul(src[p + 1]!, kv)) | 0;
          s2 = (s2 + Math.imul(src[p + 2]!, kv)) | 0;
        }
        const d = drow + xx * 3;
        dst[d] = clip8(s0);
        dst[d + 1] = clip8(s1);
        dst[d + 2] = clip8(s2);
      }
      continue;
    }
    for (let xx = 0; xx < outW; xx++) {
      const base = srow + start[xx]! * channels;
      const n = count[xx]!;
      const kb = xx * ksize;
      for (let ch = 0; ch < channels; ch++) {
        let ss = HALF;
        for (let x = 0; x < n; x++) ss = (ss + Math.imul(src[base + x * channels + ch]!, k[kb + x]!)) | 0;
        dst[drow + xx * channels + ch] = clip8(ss);
      }
    }
  }
}

/**
 * Vertical pass: `dst` is `outH x w x channels`; output row `yy` reads input rows
 * `start[yy] - rowShift ..` of `src` (the horizontal pass's output may start at a later input row).
 * Row-wise accumulation into `acc` (int32, one row): sequential streams, same sums as Pillow's
 * per-pixel loop (integer addition is exact and the taps are added in the same order).
 */
function resampleVertical(
  src: Uint8Array,
  w: number,
  channels: number,
  rowShift: number,
  c: Coeffs,
  outH: number,
  dst: Uint8Array,
): void {
  const { start, count, k, ksize } = c;
  const rowLen = w * channels;
  const acc = new Int32Array(rowLen);
  for (let yy = 0; yy < outH; yy++) {
    const first = (start[yy]! - rowShift) * rowLen;
    const n = count[yy]!;
    const kb = yy * ksize;
    acc.fill(HALF);
    for (let y = 0; y < n; y++) {
      const kv = k[kb + y]!;
      const row = first + y * rowLen;
      for (let i = 0; i < rowLen; i++) acc[i] = (acc[i]! + Math.imul(src[row + i]!, kv)) | 0;
    }
    const drow = yy * rowLen;
    for (let i = 0; i < rowLen; i++) dst[drow + i] = clip8(acc[i]!);
  }
}

/**
 * PIL `Image.resize((outW, outH), Image.BILINEAR)` of an interleaved 8-bit image.
 * @param src `h x w x channels` bytes, row-major (HWC, e.g. RGB)
 * @returns `outH x outW x channels` bytes (a copy when the size is unchanged; empty when a side is 0)
 */
export function resizeBilinearPil(
  src: Uint8Array,
  h: number,
  w: number,
  outH: number,
  outW: number,
  channels = 3,
): Uint8Array {
  if (src.length < h * w * channels) throw new RangeError(`resizeBilinearPil: ${src.length} bytes < ${h}x${w}x${channels}`);
  if (outH <= 0 || outW <= 0) return new Uint8Array(0);
  if (h <= 0 || w <= 0) throw new RangeError(`resizeBilinearPil: empty input ${h}x${w}`);
  const needH = outW !== w;
  const needV = outH !== h;
  if (!needH && !needV) return src.slice(0, h * w * channels);

  const vert = bilinearCoeffs(h, outH);
  // Input rows the vertical pass reads: the horizontal pass only needs those.
  const yFirst = vert.start[0]!;
  const yLast = vert.start[outH - 1]! + vert.count[outH - 1]!;

  let img = src;
  let imgW = w;
  let rowShift = 0;
  if (needH) {
    const horiz = bilinearCoeffs(w, outW);
    const rows = needV ? yLast - yFirst : h;
    const y0 = needV ? yFirst : 0;
    const tmp = new Uint8Array(rows * outW * channels);
    resampleHorizontal(src, w, channels, y0, rows, horiz, outW, tmp);
    if (!needV) return tmp;
    img = tmp;
    imgW = outW;
    rowShift = y0;
  }
  const out = new Uint8Array(outH * imgW * channels);
  resampleVertical(img, imgW, channels, rowShift, vert, outH, out);
  return out;
}
