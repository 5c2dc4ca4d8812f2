/**
 * Crop boxes of the multi-layer ("zoom") AMG and the helpers that move results from crop-local
 * coordinates back to the original image.
 *
 * Mirrors `generate_crop_boxes` / `uncrop_*` of `segment_anything/utils/amg.py`. Crop boxes are XYXY
 * with an EXCLUSIVE end (`x0 <= x < x1`), integer pixels.
 */
import type { BoxXYXY } from './types.js';

/** Crop boxes with the layer each one belongs to (0 = the full image). Parallel arrays. */
export interface CropBoxes {
  boxes: BoxXYXY[];
  layerIdxs: number[];
}

/**
 * Length of each of `nCrops` overlapping crops covering `origLen` pixels:
 * `ceil((overlap * (nCrops - 1) + origLen) / nCrops)`, with a true (double) division like Python's `/`.
 */
function cropLen(origLen: number, nCrops: number, overlap: number): number {
  return Math.ceil((overlap * (nCrops - 1) + origLen) / nCrops);
}

/**
 * All crop boxes of an image: the full image, then `(2^L)^2` overlapping crops for each layer
 * `L = 1..nLayers`.
 *
 * Exact reference semantics, including its oddities (see golden README, "surprising behaviour" 6):
 * - order within a layer is x-start OUTER, y-start inner (crops go down the first column first);
 * - `overlap = trunc(overlapRatio * min(h, w) * (2 / n))`, evaluated left to right in double;
 * - starts are `trunc((cropLen - overlap) * i)` and ends are clipped with `min(start + len, size)`
 *   but starts are not, so small or elongated images get duplicate, empty and even negative-extent
 *   boxes (`y0 > y1`). They are kept, because dropping them would change which crops exist and hence
 *   the crop-NMS input; callers must skip crops with no pixels.
 *
 * @param imH - image height in pixels.
 * @param imW - image width in pixels.
 * @param nLayers - `crop_n_layers`, integer >= 0.
 * @param overlapRatio - `crop_overlap_ratio` (fraction of the short side, scaled per layer).
 */
export function generateCropBoxes(imH: number, imW: number, nLayers: number, overlapRatio: number): CropBoxes {
  const boxes: BoxXYXY[] = [[0, 0, imW, imH]];
  const layerIdxs: number[] = [0];
  const shortSide = Math.min(imH, imW);
  for (let iLayer = 0; iLayer < nLayers; iLayer++) {
    const nCropsPerSide = 2 ** (iLayer + 1);
    // Left to right, as Python evaluates `overlap_ratio * short_side * (2 / n_crops_per_side)`.
    const overlap = Math.trunc(overlapRatio * shortSide * (2 / nCropsPerSide));
    const cropW = cropLen(imW, nCropsPerSide, overlap);
    const cropH = cropLen(imH, nCropsPerSide, overlap);
    for (let i = 0; i < nCropsPerSide; i++) {
      const x0 = Math.trunc((cropW - overlap) * i);
      for (let j = 0; j < nCropsPerSide; j++) {
        const y0 = Math.trunc((cropH - overlap) * j);
        boxes.push([x0, y0, Math.min(x0 + cropW, imW), Math.min(y0 + cropH, imH)]);
        layerIdxs.push(iLayer + 1);
      }
    }
  }
  return { boxes, layerIdxs };
}

/**
 * Move a crop-local box to image coordinates: `box + [x0, y0, x0, y0]` of the crop.
 * Works for inclusive mask boxes and exclusive crop boxes alike (a pure translation).
 */
export function uncropBox(box: BoxXYXY, crop: BoxXYXY): BoxXYXY {
  const [x0, y0] = crop;
  return [box[0] + x0, box[1] + y0, box[2] + x0, box[3] + y0];
}

/**
 * Move crop-local points to image coordinates: `[x + x0, y + y0]` (float64 add).
 *
 * @param points - interleaved `[x, y]` points, crop-local pixels.
 * @returns a new Float64Array, image pixels.
 */
export function uncropPoints(points: Float64Array, crop: BoxXYXY): Float64Array {
  const [x0, y0] = crop;
  const out = new Float64Array(points.length);
  for (let i = 0; i + 1 < points.length; i += 2) {
    out[i] = points[i]! + x0;
    out[i + 1] = points[i + 1]! + y0;
  }
  return out;
}

/**
 * Place a crop-sized mask into a zero image of the original size at `(y0, x0)`.
 *
 * For tests and utilities only: the pipeline uncrops in RLE space, which never materialises the
 * full-size mask.
 *
 * @param mask - row-major 0/1 mask of `cropH x cropW`.
 * @param crop - the crop box in image coordinates; `x0 + cropW <= origW`, `y0 + cropH <= origH`.
 * @returns row-major 0/1 mask of `origH x origW`, zero outside the crop.
 */
export function uncropMask(
  mask: Uint8Array,
  cropH: number,
  cropW: number,
  crop: BoxXYXY,
  origH: number,
  origW: number,
): Uint8Array {
  const [x0, y0] = crop;
  if (mask.length !== cropH * cropW) {
    throw new RangeError(`uncropMask: mask has ${mask.length} pixels, expected ${cropH}x${cropW}`);
  }
  if (x0 < 0 || y0 < 0 || x0 + cropW > origW || y0 + cropH > origH) {
    throw new RangeError(
      `uncropMask: ${cropH}x${cropW} mask at (x0=${x0}, y0=${y0}) does not fit in ${origH}x${origW}`,
    );
  }
  const out = new Uint8Array(origH * origW);
  for (let y = 0; y < cropH; y++) {
    out.set(mask.subarray(y * cropW, (y + 1) * cropW), (y + y0) * origW + x0);
  }
  return out;
}

/**
 * Area of a crop box, `(x1 - x0) * (y1 - y0)` (exclusive end, so this is the pixel count; zero or
 * negative for the degenerate boxes {@link generateCropBoxes} can produce).
 *
 * The AMG scores masks for cross-crop NMS with `1 / cropBoxArea`, so that smaller (deeper) crops win.
 */
export function cropBoxArea(crop: BoxXYXY): number {
  return (crop[2] - crop[0]) * (crop[3] - crop[1]);
}
