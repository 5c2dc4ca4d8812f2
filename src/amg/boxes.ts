/**
 * Mask boxes and the crop-edge filter.
 *
 * Mirrors `batched_mask_to_box`, `is_box_near_crop_edge` and `box_xyxy_to_xywh` of
 * `segment_anything/utils/amg.py`. Mask boxes are XYXY with an INCLUSIVE max (the last set
 * column/row), unlike crop boxes, whose end is exclusive.
 */
import type { BoxXYXY } from './types.js';

/**
 * Bounding box of the set pixels of a mask: `[min col, min row, max col, max row]`, all INCLUSIVE.
 *
 * The reference uses the inclusive max, so a single-pixel mask has the zero-area box `[x, y, x, y]`
 * (which then never takes part in NMS suppression, see {@link nms}). An empty mask gives `[0, 0, 0, 0]`.
 *
 * @param mask - row-major mask, index `y * w + x`; any non-zero byte counts as set.
 * @param h - mask height.
 * @param w - mask width.
 */
export function maskToBox(mask: Uint8Array, h: number, w: number): BoxXYXY {
  let x0 = w;
  let y0 = -1;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    // First and last set pixel of this row: scan from the left, then from the right down to `first`,
    // so every pixel is read at most once and full rows cost only two reads.
    let first = -1;
    for (let x = 0; x < w; x++) {
      if (mask[row + x] !== 0) {
        first = x;
        break;
      }
    }
    if (first < 0) continue;
    let last = first;
    for (let x = w - 1; x > first; x--) {
      if (mask[row + x] !== 0) {
        last = x;
        break;
      }
    }
    if (y0 < 0) y0 = y;
    y1 = y;
    if (first < x0) x0 = first;
    if (last > x1) x1 = last;
  }
  if (y0 < 0) return [0, 0, 0, 0];
  return [x0, y0, x1, y1];
}

/**
 * Whether a mask box touches an edge of its crop that is not also an edge of the image — such masks
 * are likely cut by the crop and the AMG drops them.
 *
 * Reference semantics (float32, as `torch.isclose(..., atol, rtol=0)` on `.float()` boxes):
 * - the box is CROP-local; it is shifted by the crop's `(x0, y0)` first (float32 add);
 * - per coordinate position j (x0 with x0, …, x1 with x1): near the crop edge if
 *   `|box[j] - cropBox[j]| <= atol`, near the image edge if `|box[j] - origBox[j]| <= atol`
 *   (inclusive: a distance of exactly `atol` is near);
 * - true iff some j is near the crop edge and not near the image edge.
 * Note the inclusive box max is compared with the exclusive crop end, so a mask touching the crop's
 * right/bottom edge is at distance 1.
 *
 * @param box - mask box, crop-local pixels, XYXY inclusive.
 * @param cropBox - the crop, image pixels, XYXY exclusive end.
 * @param origBox - the image, `[0, 0, W, H]`.
 * @param atol - tolerance in pixels (the reference uses 20).
 */
export function isBoxNearCropEdge(box: BoxXYXY, cropBox: BoxXYXY, origBox: BoxXYXY, atol = 20): boolean {
  const f = Math.fround;
  const tol = f(atol);
  const dx = cropBox[0];
  const dy = cropBox[1];
  for (let j = 0; j < 4; j++) {
    // float32 box + int offset stays float32 in torch; every step is rounded like the reference.
    const b = f(f(box[j]!) + (j % 2 === 0 ? dx : dy));
    const nearCrop = isCloseF32(b, f(cropBox[j]!), tol);
    if (nearCrop && !isCloseF32(b, f(origBox[j]!), tol)) return true;
  }
  return false;
}

/** `torch.isclose(a, b, rtol=0, atol=tol)` on float32 scalars: `a == b || fround(|a - b|) <= tol`. */
function isCloseF32(a: number, b: number, tol: number): boolean {
  if (a === b) return true;
  return Math.fround(Math.abs(a - b)) <= tol;
}

/**
 * Box as the AMG record's `bbox`: `[x0, y0, x1 - x0, y1 - y0]`.
 *
 * With the inclusive mask box this width/height is ONE LESS than the pixel extent (and than
 * pycocotools' `toBbox`); the reference does exactly this, so we do too.
 */
export function boxXyxyToXywh(box: BoxXYXY): BoxXYXY {
  return [box[0], box[1], box[2] - box[0], box[3] - box[1]];
}
