/**
 * The reference's `SamAutomaticMaskGenerator.postprocess_small_regions`: hole filling and island removal on
 * every mask, then a box NMS that prefers unchanged masks, re-encoding only the masks that changed.
 */
import { maskToBox } from './boxes.js';
import { nms } from './nms.js';
import { removeSmallRegions } from './regions.js';
import { maskToRle, rleToMask } from './rle.js';
import type { BoxXYXY, Rle } from './types.js';

export interface SmallRegionResult {
  /** Indices of the surviving input masks, in NMS order (unchanged masks, score 1, come first). */
  keep: Int32Array;
  /** For each kept index: the (possibly re-encoded) RLE. */
  rles: Rle[];
  /** For each kept index: the mask's inclusive XYXY box (recomputed for changed masks). */
  boxes: BoxXYXY[];
  /** For each kept index: whether cleanup changed the mask. */
  changed: boolean[];
}

/**
 * @param rles full-image masks (uncompressed RLE, all of one size)
 * @param boxes their current inclusive XYXY boxes (kept as they are for unchanged masks, like the reference)
 * @param minArea holes and islands with fewer than this many pixels are removed (strict `<`)
 * @param nmsThresh IoU threshold of the re-NMS (the reference passes `max(box_nms_thresh, crop_nms_thresh)`)
 */
export function postprocessSmallRegions(rles: Rle[], boxes: BoxXYXY[], minArea: number, nmsThresh: number): SmallRegionResult {
  const n = rles.length;
  const newBoxes = new Float32Array(n * 4);
  const scores = new Float32Array(n);
  // Changed masks are re-encoded at once (RLE is compact), so at most one full-resolution mask is alive
  // at a time; the reference re-encodes only survivors, with the same result.
  const changedRles: (Rle | null)[] = new Array(n).fill(null);
  const cleanBoxes: BoxXYXY[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const rle = rles[i]!;
    const [h, w] = rle.size;
    const holes = removeSmallRegions(rleToMask(rle), h, w, minArea, 'holes');
    const islands = removeSmallRegions(holes.mask, h, w, minArea, 'islands');
    const changed = holes.changed || islands.changed;
    const box = maskToBox(islands.mask, h, w);
    cleanBoxes[i] = box;
    newBoxes.set(box, i * 4);
    scores[i] = changed ? 0 : 1;
    if (changed) changedRles[i] = maskToRle(islands.mask, h, w);
  }
  const keep = nms(newBoxes, scores, nmsThresh);
  const outRles: Rle[] = [];
  const outBoxes: BoxXYXY[] = [];
  const outChanged: boolean[] = [];
  for (const i of keep) {
    const cleaned = changedRles[i];
    if (cleaned) {
      outRles.push(cleaned);
      outBoxes.push(cleanBoxes[i]!);
      outChanged.push(true);
    } else {
      outRles.push(rles[i]!);
      outBoxes.push(boxes[i]!);
      outChanged.push(false);
    }
  }
  return { keep, rles: outRles, boxes: outBoxes, changed: outChanged };
}
