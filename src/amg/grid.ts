/**
 * Point grids: the prompts of "segment everything".
 *
 * Mirrors `build_point_grid` / `build_all_layer_point_grids` of `segment_anything/utils/amg.py`.
 * Grids are NORMALIZED (`[0, 1]`) and interleaved `[x0, y0, x1, y1, …]`, float64, x varying fastest,
 * so point `k` is `(p[k % n], p[floor(k / n)])`. They are scaled to crop pixels per crop with
 * {@link scalePointGrid}.
 */

/**
 * `n` evenly spaced samples from `start` to `stop` inclusive, bit-identical to `numpy.linspace`.
 *
 * numpy computes `i * step + start` with `step = (stop - start) / (n - 1)` and then overwrites the last
 * sample with `stop` (so the end point is exact even when the multiply-add is not). For `n = 1` the
 * single sample is `start`.
 */
function linspace(start: number, stop: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const step = (stop - start) / (n - 1);
  for (let i = 0; i < n; i++) out[i] = i * step + start;
  // numpy pins the endpoint instead of trusting the rounding of (n-1)*step + start.
  out[n - 1] = stop;
  return out;
}

/**
 * Normalized `nPerSide x nPerSide` grid of cell centres, `(k + 0.5) / n` along each axis.
 *
 * @param nPerSide - points per side, integer >= 1.
 * @returns Float64Array of length `2 * nPerSide**2`, interleaved `[x, y]`, row-major with x fastest
 *   (index `r * n + c` is `(x = p[c], y = p[r])`), values in `(0, 1)`.
 * @throws RangeError if `nPerSide` is not a positive integer (the reference divides by zero at 0).
 */
export function buildPointGrid(nPerSide: number): Float64Array {
  if (!Number.isInteger(nPerSide) || nPerSide < 1) {
    throw new RangeError(`buildPointGrid: points per side must be a positive integer, got ${nPerSide}`);
  }
  const n = nPerSide;
  // Same expressions as the reference: offset = 1 / (2n), linspace(offset, 1 - offset, n).
  const offset = 1 / (2 * n);
  const p = linspace(offset, 1 - offset, n);
  const out = new Float64Array(2 * n * n);
  let k = 0;
  for (let r = 0; r < n; r++) {
    const y = p[r]!;
    for (let c = 0; c < n; c++) {
      out[k++] = p[c]!;
      out[k++] = y;
    }
  }
  return out;
}

/**
 * One normalized grid per crop layer `0..nLayers` (so `nLayers + 1` grids).
 *
 * Layer `i` has `trunc(nPerSide / scalePerLayer**i)` points per side: float division then truncation,
 * as Python's `int(n_per_side / (scale_per_layer**i))`.
 *
 * @param nPerSide - points per side of layer 0.
 * @param nLayers - number of crop layers beyond the full image (`crop_n_layers`), integer >= 0.
 * @param scalePerLayer - downscale factor per layer (`crop_n_points_downscale_factor`).
 * @throws RangeError where the reference raises `ZeroDivisionError`: some layer would get 0 points per side.
 */
export function buildAllLayerPointGrids(nPerSide: number, nLayers: number, scalePerLayer: number): Float64Array[] {
  if (!Number.isInteger(nLayers) || nLayers < 0) {
    throw new RangeError(`buildAllLayerPointGrids: nLayers must be a non-negative integer, got ${nLayers}`);
  }
  const grids: Float64Array[] = [];
  for (let i = 0; i <= nLayers; i++) {
    const nPoints = Math.trunc(nPerSide / scalePerLayer ** i);
    if (!(nPoints >= 1)) {
      throw new RangeError(
        `buildAllLayerPointGrids: crop layer ${i} would have ${nPoints} points per side ` +
          `(trunc(${nPerSide} / ${scalePerLayer}^${i})); lower the number of crop layers or the ` +
          `points-per-side downscale factor, or raise points per side`,
      );
    }
    grids.push(buildPointGrid(nPoints));
  }
  return grids;
}

/**
 * Scale a normalized grid to crop-local pixel prompts: each point becomes `[x * cropW, y * cropH]`.
 *
 * One float64 multiply per coordinate, like the reference's `grid * [w, h]` (numpy float64 × int).
 *
 * @param grid - interleaved normalized `[x, y]` points (length `2k`).
 * @param cropW - crop width in pixels.
 * @param cropH - crop height in pixels.
 * @returns a new Float64Array of the same length, pixel units of the crop.
 */
export function scalePointGrid(grid: Float64Array, cropW: number, cropH: number): Float64Array {
  const out = new Float64Array(grid.length);
  for (let i = 0; i + 1 < grid.length; i += 2) {
    out[i] = grid[i]! * cropW;
    out[i + 1] = grid[i + 1]! * cropH;
  }
  return out;
}
