/**
 * Image normalisation for the image encoders.
 *
 * SAM 1 (`Sam.preprocess`, `segment_anything/modeling/sam.py`): on the resized uint8 image (CHW),
 * `(x - pixel_mean) / pixel_std` per channel in float32 with the 0..255-scale constants below, THEN
 * zero-padding at the bottom and right to `img_size x img_size` (so the padding is 0 in normalised space,
 * i.e. the mean colour, not black).
 *
 * Because the input is uint8, each channel's result is a function of the byte only: a 256-entry float32
 * table per channel computed with exactly the reference's float32 operations gives bit-identical output.
 */

/** SAM 1 pixel mean, RGB, 0..255 scale. */
export const SAM1_PIXEL_MEAN: readonly number[] = [123.675, 116.28, 103.53];
/** SAM 1 pixel std, RGB, 0..255 scale. */
export const SAM1_PIXEL_STD: readonly number[] = [58.395, 57.12, 57.375];
/** SAM 2 (ImageNet) mean, RGB, 0..1 scale. */
export const SAM2_PIXEL_MEAN: readonly number[] = [0.485, 0.456, 0.406];
/** SAM 2 (ImageNet) std, RGB, 0..1 scale. */
export const SAM2_PIXEL_STD: readonly number[] = [0.229, 0.224, 0.225];

/**
 * Per-channel lookup tables: `lut[c * 256 + v]` = float32 `(fround(v * scale) - fround(mean[c])) /
 * fround(std[c])`, each operation rounded to float32 as in PyTorch (the mean/std buffers are float32).
 * For `scale = 1/255` the byte is divided by 255 (torchvision `ToTensor`'s `div(255)`), not multiplied.
 * @param mean per-channel mean (on the scaled values)
 * @param std per-channel std
 * @param scale factor applied to the byte first (1 for SAM 1, 1/255 for SAM 2)
 */
export function normalizationLut(mean: readonly number[], std: readonly number[], scale = 1): Float32Array {
  const f = Math.fround;
  const channels = mean.length;
  if (std.length !== channels) throw new RangeError('normalizationLut: mean and std lengths differ');
  const lut = new Float32Array(channels * 256);
  for (let c = 0; c < channels; c++) {
    const m = f(mean[c]!);
    const s = f(std[c]!);
    for (let v = 0; v < 256; v++) {
      const x = scale === 1 ? v : scale === 1 / 255 ? f(v / 255) : f(v * scale);
      lut[c * 256 + v] = f(f(x - m) / s);
    }
  }
  return lut;
}

/**
 * Normalise an interleaved RGB image and zero-pad it to a square, channel-first float32 tensor.
 * @param rgb `h x w x 3` bytes (HWC)
 * @param padSize side of the output (1024 for SAM 1); must be >= h and >= w
 * @param mean per-channel mean (on `x * scale`)
 * @param std per-channel std
 * @param scale factor applied to the byte first (1 for SAM 1's 0..255 constants, 1/255 for SAM 2's)
 * @returns `[3, padSize, padSize]` float32, zero outside `[0, h) x [0, w)`
 */
export function normalizePadChw(
  rgb: Uint8Array,
  h: number,
  w: number,
  padSize: number,
  mean: readonly number[],
  std: readonly number[],
  scale = 1,
): Float32Array {
  if (h > padSize || w > padSize) throw new RangeError(`normalizePadChw: ${h}x${w} does not fit in ${padSize}`);
  if (rgb.length < h * w * 3) throw new RangeError(`normalizePadChw: ${rgb.length} bytes < ${h}x${w}x3`);
  const lut = normalizationLut(mean, std, scale);
  const plane = padSize * padSize;
  // Fresh Float32Array is zero-filled: that IS the padding.
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const lb = c * 256;
    const ob = c * plane;
    for (let y = 0; y < h; y++) {
      const srow = y * w * 3 + c;
      const drow = ob + y * padSize;
      for (let x = 0; x < w; x++) out[drow + x] = lut[lb + rgb[srow + x * 3]!]!;
    }
  }
  return out;
}

/** Bytes to float32 0..255 values, same layout (for encoders that normalise in-graph, e.g. samexporter). */
export function toFloatHwc(rgb: Uint8Array): Float32Array {
  const out = new Float32Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) out[i] = rgb[i]!;
  return out;
}
