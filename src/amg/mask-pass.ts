/**
 * The per-mask hot path of the AMG: from one low-res (256x256) logit map to everything the generator
 * needs about the full-resolution mask, in one fused pass that never materialises the full-resolution
 * float image.
 *
 * The reference (`SamAutomaticMaskGenerator._process_batch`) upscales the logits to the crop size,
 * computes the stability score on them (`calculate_stability_score`), binarises at `mask_threshold`, takes
 * the inclusive box (`batched_mask_to_box`), pads the crop mask to the image (`uncrop_masks`) and
 * run-length encodes it in column-major order (`mask_to_rle_pytorch`). Here:
 *
 * 1. a vertical pass over the low-res columns that the column taps reference gives `V[c][y]` (column-major,
 *    referenced low-res columns x crop height, float32) -- shared with `upscaleLogits`, so the values are
 *    bit-identical to the materialised upscale;
 * 2. for each crop column x, top to bottom, the logit is `fround(sum of <= 4 taps: w_j(x) * V[c_j(x)][y])`
 *    (weights are loop invariants, the <= 4 source columns contiguous streams), compared with the three
 *    float32 thresholds (strict `>`) and counted; only changes of the mask value do more work (run
 *    lengths, box, area). Walking columns top to bottom IS the RLE order, and the uncropped RLE only adds
 *    `y0` zeros above and `imageH - y1` below each crop column, `x0 * imageH` before and
 *    `(imageW - x1) * imageH` after: the uncrop costs nothing.
 *
 * 3. Most of a mask's pixels are far from its edge. Bilinear weights are non-negative and sum to 1, so a
 *    pixel whose source values in `V` all lie clearly above `thr + offset` (or clearly at or below
 *    `thr - offset`) is above (at or below) all three thresholds too. Each `V` column is therefore first
 *    cut into runs of rows classed "above", "below" or "near"; a crop column then walks the runs of its
 *    <= 4 source columns and handles whole stretches at once, computing logits only where a source run is
 *    "near" or the sources disagree. Exact: the margin (1e-5 relative) is far above the float32 rounding
 *    of the weights, and every computed logit is the same arithmetic as `upscaleLogits`.
 */
import { RleEncoder } from './rle.js';
import { stabilityThresholds } from './stability.js';
import type { BoxXYXY, Rle } from './types.js';
import { tapRange, verticalPassColumnMajor, type AxisTaps } from './upscale.js';

/** Everything about a (crop, image) geometry that does not depend on the mask. Build once per crop. */
export interface MaskPassPlan {
  /** Row taps, `rows.n = crop height`, indices into low-res rows. */
  rows: AxisTaps;
  /** Column taps, `cols.n = crop width`, indices into low-res columns. */
  cols: AxisTaps;
  /** Crop box in image pixels, XYXY with exclusive end. */
  crop: BoxXYXY;
  imageH: number;
  imageW: number;
  cropH: number;
  cropW: number;
  /** First and last low-res column referenced by `cols` (`c1 < c0` when none). */
  c0: number;
  c1: number;
  /** Largest low-res row referenced by `rows` (-1 when none). */
  rowMax: number;
}

/** What one run of `MaskPass` reports about one mask. */
export interface MaskPassResult {
  /** #pixels with logit > fround(thr + offset) (stability intersection). */
  intersection: number;
  /** #pixels with logit > fround(thr - offset) (stability union). */
  union: number;
  /** Box of the binarised mask, CROP-local, XYXY with INCLUSIVE max; `[0, 0, 0, 0]` if empty. */
  box: BoxXYXY;
  /** #pixels with logit > fround(maskThreshold). */
  area: number;
  /** Column-major uncompressed RLE of the mask uncropped to the full image, or null when not requested. */
  rle: Rle | null;
}

/**
 * Plan the pass for one crop.
 * @param rows row taps (n = crop height), e.g. `sam1AxisTaps(256, 1024, inputH, cropH)`
 * @param cols column taps (n = crop width)
 * @param crop crop box in image pixels, XYXY, exclusive end, inside the image
 * @param imageH full image height (for the uncropped RLE)
 * @param imageW full image width
 */
export function planMaskPass(rows: AxisTaps, cols: AxisTaps, crop: BoxXYXY, imageH: number, imageW: number): MaskPassPlan {
  const [x0, y0, x1, y1] = crop;
  const cropH = y1 - y0;
  const cropW = x1 - x0;
  if (!(x0 >= 0 && y0 >= 0 && cropH >= 0 && cropW >= 0 && x1 <= imageW && y1 <= imageH)) {
    throw new RangeError(`planMaskPass: crop [${crop.join(',')}] is not inside a ${imageH}x${imageW} image`);
  }
  if (rows.n !== cropH || cols.n !== cropW) {
    throw new RangeError(`planMaskPass: taps ${rows.n}x${cols.n} do not match the ${cropH}x${cropW} crop`);
  }
  const [c0, c1] = tapRange(cols);
  const [, rowMax] = tapRange(rows);
  return { rows, cols, crop: [x0, y0, x1, y1], imageH, imageW, cropH, cropW, c0, c1, rowMax };
}

/**
 * Reusable executor of a `MaskPassPlan`: owns the scratch (the intermediate `V`, one output column, the
 * RLE encoder) and reuses it for every mask of the crop. Not re-entrant; use one per concurrent worker.
 */
export class MaskPass {
  readonly plan: MaskPassPlan;
  /** Vertical-pass output, column-major: referenced low-res columns x crop height. */
  private readonly V: Float32Array;
  private readonly enc: RleEncoder;
  /** Runs of each `V` column: `runEnd[q]` exclusive end row, `runCls[q]` 0 below / 1 near / 2 above;
   * column j's runs start at `runFirst[j]`. */
  private readonly runEnd: Int32Array;
  private readonly runCls: Uint8Array;
  private readonly runFirst: Int32Array;
  /** Per crop column: `V` column of each non-zero tap, and the current run of each. */
  private readonly tapCol = new Int32Array(8);
  private readonly tapRun = new Int32Array(8);

  // Per-run state, shared between `run` and the rare-path `flip` (kept in fields so that the hot loops
  // stay tiny and allocation-free).
  private wantRle = false;
  /** Value of the current run of the uncropped column-major image. */
  private cur = 0;
  /** Column-major image position where the current run started. */
  private runStart = 0;
  /** Image position of crop pixel (x, 0) of the column being scanned. */
  private colPos = 0;
  /** Start row of the current 1-segment within the column (0 for a run continuing from the previous column). */
  private segStart = -1;
  /** First / last set row of the column being scanned (-1: none yet). */
  private colFirst = -1;
  private colLast = -1;
  private area = 0;
  private inter = 0;
  private uni = 0;

  constructor(plan: MaskPassPlan) {
    this.plan = plan;
    this.V = new Float32Array(plan.cropH * Math.max(0, plan.c1 - plan.c0 + 1));
    this.enc = new RleEncoder(plan.imageH, plan.imageW);
    const nCols = Math.max(0, plan.c1 - plan.c0 + 1);
    this.runEnd = new Int32Array(nCols * plan.cropH);
    this.runCls = new Uint8Array(nCols * plan.cropH);
    this.runFirst = new Int32Array(nCols);
  }

  /** Cuts every `V` column into runs of rows classed below (0), near (1) or above (2) the thresholds. */
  private classifyColumns(hi: number, lo: number): void {
    const p = this.plan;
    const n = p.cropH;
    const V = this.V;
    const nCols = p.c1 - p.c0 + 1;
    const runEnd = this.runEnd;
    const runCls = this.runCls;
    let q = 0;
    for (let j = 0; j < nCols; j++) {
      this.runFirst[j] = q;
      const base = j * n;
      let prev = -1;
      for (let y = 0; y < n; y++) {
        const v = V[base + y]!;
        const margin = 1e-5 * (Math.abs(v) + 1);
        const cls = v - hi > margin ? 2 : lo - v > margin ? 0 : 1;
        if (cls !== prev) {
          if (prev >= 0) runEnd[q++] = y;
          runCls[q] = cls;
          prev = cls;
        }
      }
      runEnd[q++] = n;
    }
  }

  /**
   * Stability counts (thr +- offset), binarisation at `maskThreshold`, inclusive box and (if `wantRle`)
   * the uncropped full-image RLE, from one low-res logit map.
   * @param low buffer holding the low-res logits (e.g. the decoder's `[N, 256, 256]` output)
   * @param lowOffset index of this mask's first logit in `low`
   * @param lowSize low-res side (256); the map is `lowSize x lowSize`, row-major
   * @param maskThreshold binarisation threshold (SAM: 0.0), compared as float32
   * @param stabilityOffset stability score offset (SAM: 1.0)
   * @param wantRle whether to build the RLE (skip it for masks that will be filtered out)
   */
  run(
    low: Float32Array,
    lowOffset: number,
    lowSize: number,
    maskThreshold: number,
    stabilityOffset: number,
    wantRle: boolean,
  ): MaskPassResult {
    const p = this.plan;
    const { cropH, cropW, imageH, imageW } = p;
    const [cx0, cy0, cx1] = p.crop;
    const [hi, lo] = stabilityThresholds(maskThreshold, stabilityOffset);
    const mt = Math.fround(maskThreshold);
    const enc = this.enc;
    if (wantRle) enc.reset();

    if (p.rowMax >= lowSize || p.c1 >= lowSize || lowOffset + lowSize * lowSize > low.length) {
      throw new RangeError(`MaskPass.run: taps or offset exceed the ${lowSize}x${lowSize} map`);
    }
    if (cropH === 0 || cropW === 0 || p.c1 < p.c0) {
      // Degenerate (empty) crop: no pixels, so nothing is set; the uncropped mask is all zeros.
      if (wantRle) enc.push(0, imageH * imageW);
      return { intersection: 0, union: 0, box: [0, 0, 0, 0], area: 0, rle: wantRle ? enc.finish() : null };
    }

    verticalPassColumnMajor(low, lowOffset, lowSize, p.rows, p.c0, p.c1, this.V);
    this.classifyColumns(hi, lo);

    this.wantRle = wantRle;
    this.cur = 0;
    this.runStart = 0;
    this.area = 0;
    this.inter = 0;
    this.uni = 0;
    let bx0 = -1;
    let bx1 = -1;
    let by0 = cropH;
    let by1 = -1;
    // With padding above/below the crop, every image column starts and ends with zeros.
    const padded = cropH < imageH;

    for (let x = 0; x < cropW; x++) {
      this.colPos = (cx0 + x) * imageH + cy0;
      // A 1-run continues from the previous column only if there is no padding in between; it then covers
      // rows from 0 of this column (segStart = 0) until the next flip.
      this.segStart = 0;
      this.colFirst = -1;
      this.colLast = -1;
      this.scanColumn(x, hi, lo, mt);
      if (this.cur === 1) {
        // The column ends inside a 1-segment (never empty: it started at a row < cropH).
        this.area += cropH - this.segStart;
        if (this.colFirst < 0) this.colFirst = this.segStart;
        this.colLast = cropH - 1;
        if (padded) {
          // The zeros below the crop end this 1-run.
          const pos = this.colPos + cropH;
          if (wantRle) enc.push(1, pos - this.runStart);
          this.runStart = pos;
          this.cur = 0;
        }
      }
      if (this.colFirst >= 0) {
        if (bx0 < 0) bx0 = x;
        bx1 = x;
        if (this.colFirst < by0) by0 = this.colFirst;
        if (this.colLast > by1) by1 = this.colLast;
      }
    }
    if (wantRle) {
      // Close the last run (a 1-run ends at the crop's right edge if image pixels follow), then the zeros
      // to the end of the image.
      const total = imageH * imageW;
      const cropEnd = (cx1 - 1) * imageH + cy0 + cropH;
      if (this.cur === 1 && cropEnd < total) {
        enc.push(1, cropEnd - this.runStart);
        this.runStart = cropEnd;
        this.cur = 0;
      }
      enc.push(this.cur as 0 | 1, total - this.runStart);
    }
    const box: BoxXYXY = bx1 < 0 ? [0, 0, 0, 0] : [bx0, by0, bx1, by1];
    return { intersection: this.inter, union: this.uni, box, area: this.area, rle: wantRle ? this.enc.finish() : null };
  }

  /**
   * Second pass + thresholds for crop column `x`, stretch by stretch: where every source run says
   * "above" (or every one "below") the whole stretch is counted at once; elsewhere each pixel's logit is
   * `fround(sum of <= 4 taps: w_j(x) * V[c_j(x)][y])` (the arithmetic of `columnFromTaps`, so values equal
   * `upscaleLogits` bit for bit), compared with the three float32 thresholds (strict `>`). Only a change
   * of the mask value (rare) leaves the loop, to `flip`.
   */
  private scanColumn(x: number, hi: number, lo: number, mt: number): void {
    const p = this.plan;
    const n = p.cropH;
    const V = this.V;
    const k = p.cols.k;
    const ci = p.cols.idx;
    const cw = p.cols.w;
    const kb = x * k;
    const c0 = p.c0;
    const runEnd = this.runEnd;
    const runCls = this.runCls;
    const tapCol = this.tapCol;
    const tapRun = this.tapRun;
    const f = Math.fround;
    // Zero-weight (padding) taps do not change the value, so they do not take part in the classing.
    let m = 0;
    for (let t = 0; t < k; t++) {
      if (cw[kb + t] === 0) continue;
      tapCol[m] = ci[kb + t]! - c0;
      tapRun[m] = this.runFirst[tapCol[m]!]!;
      m++;
    }
    let cur = this.cur;
    let inter = 0;
    let uni = 0;
    let y = 0;
    while (y < n) {
      let next = n;
      let cls = m === 0 ? 1 : -1;
      for (let t = 0; t < m; t++) {
        const q = tapRun[t]!;
        if (runEnd[q]! < next) next = runEnd[q]!;
        const c = runCls[q]!;
        cls = cls < 0 || cls === c ? c : 1;
      }
      if (cls === 2) {
        if (cur === 0) cur = this.flip(y);
        inter += next - y;
        uni += next - y;
      } else if (cls === 0) {
        if (cur === 1) cur = this.flip(y);
      } else if (k === 2) {
        // Specialised for 2 and 3 taps (SAM 2, and SAM 1 when upscaling): weights are loop invariants.
        const a = (ci[kb]! - c0) * n;
        const b = (ci[kb + 1]! - c0) * n;
        const wa = cw[kb]!;
        const wb = cw[kb + 1]!;
        for (; y < next; y++) {
          const v = f(wa * V[a + y]! + wb * V[b + y]!);
          inter += +(v > hi);
          uni += +(v > lo);
          if ((v > mt ? 1 : 0) !== cur) cur = this.flip(y);
        }
      } else if (k === 3) {
        const a = (ci[kb]! - c0) * n;
        const b = (ci[kb + 1]! - c0) * n;
        const c = (ci[kb + 2]! - c0) * n;
        const wa = cw[kb]!;
        const wb = cw[kb + 1]!;
        const wc = cw[kb + 2]!;
        for (; y < next; y++) {
          const v = f(wa * V[a + y]! + wb * V[b + y]! + wc * V[c + y]!);
          inter += +(v > hi);
          uni += +(v > lo);
          if ((v > mt ? 1 : 0) !== cur) cur = this.flip(y);
        }
      } else {
        for (; y < next; y++) {
          let s = 0;
          for (let t = 0; t < k; t++) s += cw[kb + t]! * V[(ci[kb + t]! - c0) * n + y]!;
          const v = f(s);
          inter += +(v > hi);
          uni += +(v > lo);
          if ((v > mt ? 1 : 0) !== cur) cur = this.flip(y);
        }
      }
      y = next;
      for (let t = 0; t < m; t++) if (runEnd[tapRun[t]!] === next) tapRun[t]++;
    }
    this.inter += inter;
    this.uni += uni;
  }

  /** The mask value changes at row `y` of the current column: close the run, track the segment.
   * @returns the new value */
  private flip(y: number): number {
    const pos = this.colPos + y;
    if (this.wantRle) this.enc.push(this.cur as 0 | 1, pos - this.runStart);
    this.runStart = pos;
    if (this.cur === 0) {
      this.cur = 1;
      this.segStart = y;
    } else {
      this.cur = 0;
      // A 1-run continuing from the previous column may end at y = 0: an empty segment in this column.
      if (y > this.segStart) {
        this.area += y - this.segStart;
        if (this.colFirst < 0) this.colFirst = this.segStart;
        this.colLast = y - 1;
      }
    }
    return this.cur;
  }
}
