/**
 * Prompt coordinate transforms into the model's 1024-pixel input frame.
 *
 * SAM 1 resizes the longest side to 1024 keeping the aspect ratio (`ResizeLongestSide`,
 * `segment_anything/utils/transforms.py`); SAM 2 squashes the image to 1024x1024
 * (`SAM2Transforms.transform_coords`). Points are interleaved `[x0, y0, x1, y1, …]`, pixels.
 */

/**
 * Size of an `oldH x oldW` image after resizing its longest side to `longSide`.
 *
 * Reference arithmetic in double: `scale = longSide / max(oldH, oldW)`, each side
 * `trunc(side * scale + 0.5)` (round half up, with the double error of `side * scale`). Very
 * elongated images get a ZERO side (e.g. 1x10000 → 0x1024); callers must reject those.
 *
 * @returns `[newH, newW]`.
 */
export function getPreprocessShape(oldH: number, oldW: number, longSide: number): [number, number] {
  const scale = (longSide * 1.0) / Math.max(oldH, oldW);
  const newH = Math.trunc(oldH * scale + 0.5);
  const newW = Math.trunc(oldW * scale + 0.5);
  return [newH, newW];
}

/**
 * SAM 1 `ResizeLongestSide.apply_coords` in float64: `x * (newW / origW)`, `y * (newH / origH)`.
 *
 * The ratio is computed first and then multiplied, like the reference; `x * newW / origW` would differ
 * in the last bit.
 *
 * @param coords - interleaved `[x, y]` pixel coordinates in the `origH x origW` image (or crop).
 * @returns a new Float64Array in the resized (long side = `longSide`) frame.
 */
export function applyCoords(coords: Float64Array, origH: number, origW: number, longSide = 1024): Float64Array {
  const [newH, newW] = getPreprocessShape(origH, origW, longSide);
  const rx = newW / origW;
  const ry = newH / origH;
  const out = new Float64Array(coords.length);
  for (let i = 0; i + 1 < coords.length; i += 2) {
    out[i] = coords[i]! * rx;
    out[i + 1] = coords[i + 1]! * ry;
  }
  return out;
}

/**
 * SAM 1 `ResizeLongestSide.apply_coords_torch` on float32 tensors: the double ratio is rounded to
 * float32 and the multiply is a float32 one, `fround(x * fround(newW / origW))`.
 *
 * Using the unrounded double ratio gives a different float32 in about 1 value in 13 (golden
 * `resize.json`). A float32 product computed in double and then rounded is the correctly rounded
 * float32 product, so `Math.fround` of the double product is exact here.
 *
 * @param coords - interleaved `[x, y]`; values are rounded to float32 first, like `.to(torch.float)`.
 */
export function applyCoordsFloat32(
  coords: Float64Array | Float32Array,
  origH: number,
  origW: number,
  longSide = 1024,
): Float32Array {
  const [newH, newW] = getPreprocessShape(origH, origW, longSide);
  const rx = Math.fround(newW / origW);
  const ry = Math.fround(newH / origH);
  const out = new Float32Array(coords.length);
  for (let i = 0; i + 1 < coords.length; i += 2) {
    out[i] = Math.fround(coords[i]!) * rx;
    out[i + 1] = Math.fround(coords[i + 1]!) * ry;
  }
  return out;
}

/**
 * SAM 2 `SAM2Transforms.transform_coords(normalize=True)`: squash to `resolution x resolution`
 * ignoring the aspect ratio, in float32: `fround(fround(x / w) * resolution)`, likewise y with h.
 *
 * Division first, then the multiply, each rounded to float32 (double-then-fround is the correctly
 * rounded float32 result for one division or multiply, so this matches torch's float32 kernels).
 *
 * @param coords - interleaved `[x, y]` pixels of the `origH x origW` image (rounded to float32 first).
 * @returns a new Float32Array in the `resolution`-square model frame.
 */
export function stretchCoordsFloat32(
  coords: Float64Array | Float32Array,
  origH: number,
  origW: number,
  resolution = 1024,
): Float32Array {
  const out = new Float32Array(coords.length);
  for (let i = 0; i + 1 < coords.length; i += 2) {
    // Storing into the Float32Array performs the final rounding of the multiply.
    out[i] = Math.fround(Math.fround(coords[i]!) / origW) * resolution;
    out[i + 1] = Math.fround(Math.fround(coords[i + 1]!) / origH) * resolution;
  }
  return out;
}
