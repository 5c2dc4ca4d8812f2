/**
 * Shared shapes of the pure AMG core. Everything here is plain data on typed arrays: no I/O.
 *
 * Conventions (same as Meta's `segment_anything`):
 * - Points are `[x, y]` pairs, pixel units unless a name says "normalized".
 * - Boxes are XYXY. Mask boxes (from `maskToBox`) use the INCLUSIVE max pixel index; crop boxes use an
 *   EXCLUSIVE end (`x0 <= x < x1`).
 * - Masks in memory are row-major `Uint8Array`s of 0/1, index `y * w + x`.
 */

/** `[x0, y0, x1, y1]`. */
export type BoxXYXY = [number, number, number, number];

/** COCO uncompressed RLE: runs over the column-major flattened mask, alternating 0-runs and 1-runs,
 * starting with a 0-run. `size` is `[h, w]`. */
export interface Rle {
  size: [number, number];
  counts: Uint32Array;
}
