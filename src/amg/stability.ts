/**
 * Stability score of a mask (SAM `calculate_stability_score`, `segment_anything/utils/amg.py`).
 *
 * The score is the IoU between the mask binarised at `thr + offset` and at `thr - offset`. Because the
 * high-threshold mask is contained in the low-threshold one, the IoU is simply a ratio of pixel counts.
 *
 * Thresholds: the reference compares a float32 tensor with a Python float, which PyTorch casts to float32,
 * so `thr ± offset` is computed in double and then rounded to float32 before the strict `>` comparison
 * (with offset 0.1 a logit equal to `fround(0.1)` is NOT above the threshold).
 *
 * Deliberate deviation: the reference sums per-row counts in int16 (then the rows in int32), which wraps
 * around for rows with more than 32767 pixels above a threshold (golden cases `int16_overflow`). We return
 * the mathematically exact counts instead; images that wide do not occur in practice and the wrapped
 * values (scores above 1, or 0 for a full mask) are a bug, not a feature worth cloning.
 */

/** Pixel counts above the high (`intersection`) and low (`union`) stability thresholds. */
export interface StabilityCounts {
  intersection: number;
  union: number;
}

/**
 * The two float32 thresholds of the stability score, `[fround(thr + off), fround(thr - off)]`.
 * @param maskThreshold logit threshold of the mask (SAM: 0.0)
 * @param thresholdOffset stability offset (SAM default 1.0)
 */
export function stabilityThresholds(maskThreshold: number, thresholdOffset: number): [high: number, low: number] {
  return [Math.fround(maskThreshold + thresholdOffset), Math.fround(maskThreshold - thresholdOffset)];
}

/**
 * Counts over `logits[offset .. offset + length)` (one mask, any layout): `intersection` = #(logit >
 * fround(thr + off)), `union` = #(logit > fround(thr - off)). Exact counts (no int16 emulation, see above).
 */
export function stabilityCounts(
  logits: Float32Array,
  offset: number,
  length: number,
  maskThreshold: number,
  thresholdOffset: number,
): StabilityCounts {
  const [hi, lo] = stabilityThresholds(maskThreshold, thresholdOffset);
  let intersection = 0;
  let union = 0;
  const end = offset + length;
  for (let i = offset; i < end; i++) {
    const v = logits[i]!;
    // Booleans to 0/1 without branches; NaN logits count for neither (NaN > t is false).
    intersection += +(v > hi);
    union += +(v > lo);
  }
  return { intersection, union };
}

/** Stability score `intersection / union` rounded to float32, as the reference's float32 division.
 * `union = 0` gives NaN (0/0), which the AMG's `>= stability_score_thresh` filter then drops. */
export function stabilityScore(intersection: number, union: number): number {
  return Math.fround(intersection / union);
}
