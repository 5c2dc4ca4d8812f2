/**
 * Small-region clean-up of masks: SAM 1's `remove_small_regions` (`segment_anything/utils/amg.py`, on
 * full-resolution binary masks, OpenCV `connectedComponentsWithStats`) and SAM 2's hole/sprinkle filling
 * on the low-res logits (`SAM2Transforms.postprocess_masks`).
 *
 * Connected components use 8-connectivity. Component ORDER matters for one rule only -- "if every island
 * is small keep the largest", where `np.argmax` picks the lowest OpenCV label among equal sizes. OpenCV
 * 4.6's default 8-connectivity algorithm scans 2x2 blocks and numbers components by their first block in
 * block-raster order (block row `y >> 1`, then block column `x >> 1`), not by their first pixel in raster
 * order. Any two pixels of a 2x2 block are 8-adjacent, so each block belongs to one component and that
 * "first block" is well defined; we label horizontal runs with union-find and rank components by that key.
 */

/**
 * Reusable 8-connectivity labeller working on horizontal runs (two passes with union-find over runs, so
 * the cost is one scan of the pixels plus work per run, not per pixel). Owns its scratch and grows it on
 * demand; after `label()` the runs and per-component statistics stay readable until the next call.
 */
export class ComponentLabeler {
  /** Number of runs found by the last `label()`. */
  runCount = 0;
  /** Per run: row, first column, end column (exclusive). */
  runY: Int32Array = new Int32Array(256);
  runX0: Int32Array = new Int32Array(256);
  runX1: Int32Array = new Int32Array(256);
  /** Per run: union-find parent during labelling, then the component index (1-based, arbitrary order). */
  runComp: Int32Array = new Int32Array(256);
  /** Number of components found by the last `label()`. */
  count = 0;
  /** Per component (1-based): pixel count. */
  area: Int32Array = new Int32Array(256);
  /** Per component (1-based): smallest block-raster key `(y >> 1) * ceil(w / 2) + (x >> 1)` of its pixels,
   * i.e. OpenCV 4.6's numbering order. */
  firstBlock: Int32Array = new Int32Array(256);
  private h = 0;
  private w = 0;

  private addRun(y: number, x0: number, x1: number): void {
    const i = this.runCount;
    if (i === this.runY.length) {
      const grow = (a: Int32Array): Int32Array => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.runY = grow(this.runY);
      this.runX0 = grow(this.runX0);
      this.runX1 = grow(this.runX1);
      this.runComp = grow(this.runComp);
    }
    this.runY[i] = y;
    this.runX0[i] = x0;
    this.runX1[i] = x1;
    this.runComp[i] = i; // its own root
    this.runCount = i + 1;
  }

  private find(a: number): number {
    const parent = this.runComp;
    let r = a;
    while (parent[r]! !== r) r = parent[r]!;
    // Path compression.
    while (parent[a]! !== r) {
      const next = parent[a]!;
      parent[a] = r;
      a = next;
    }
    return r;
  }

  private union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    // The larger root goes under the smaller one: parent[i] <= i always (used by the flattening).
    if (ra < rb) this.runComp[rb] = ra;
    else if (rb < ra) this.runComp[ra] = rb;
  }

  /**
   * Label the 8-connected components of the pixels where `(mask[i] !== 0) === fg`.
   * @param mask row-major `h x w`
   * @param fg true: components of the set pixels; false: components of the background
   * @returns the number of components (`count`)
   */
  label(mask: Uint8Array, h: number, w: number, fg: boolean): number {
    this.h = h;
    this.w = w;
    this.runCount = 0;
    let prevStart = 0;
    let prevEnd = 0;
    for (let y = 0; y < h; y++) {
      const row = y * w;
      const rowStart = this.runCount;
      let x = 0;
      while (x < w) {
        // Skip pixels outside the set, then take one run of pixels in it.
        if (fg) {
          while (x < w && mask[row + x] === 0) x++;
        } else {
          while (x < w && mask[row + x] !== 0) x++;
        }
        if (x === w) break;
        const x0 = x;
        if (fg) {
          while (x < w && mask[row + x] !== 0) x++;
        } else {
          while (x < w && mask[row + x] === 0) x++;
        }
        this.addRun(y, x0, x);
      }
      // Join with the previous row's runs that touch 8-wise: [a0, a1) and [b0, b1) touch iff
      // a0 <= b1 and b0 <= a1 (a diagonal neighbour counts). Both lists are sorted: two pointers.
      const X0 = this.runX0;
      const X1 = this.runX1;
      let j = prevStart;
      for (let r = rowStart; r < this.runCount; r++) {
        while (j < prevEnd && X1[j]! < X0[r]!) j++;
        // The last touching run may also touch the next run of this row: don't advance j past it.
        for (let q = j; q < prevEnd && X0[q]! <= X1[r]!; q++) this.union(r, q);
      }
      prevStart = rowStart;
      prevEnd = this.runCount;
    }
    // Flatten: with parent[i] <= i, in increasing order parent[i] (< i) already holds its component
    // index, and roots get new indices.
    const n = this.runCount;
    const comp = this.runComp;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const p = comp[i]!;
      comp[i] = p === i ? ++count : comp[p]!;
    }
    if (this.area.length < count + 1) {
      this.area = new Int32Array(2 * (count + 1));
      this.firstBlock = new Int32Array(2 * (count + 1));
    }
    const area = this.area;
    const firstBlock = this.firstBlock;
    area.fill(0, 0, count + 1);
    firstBlock.fill(0x7fffffff, 0, count + 1);
    const bw = (w + 1) >> 1;
    for (let i = 0; i < n; i++) {
      const c = comp[i]!;
      area[c] += this.runX1[i]! - this.runX0[i]!;
      // A run's smallest block key is at its first pixel.
      const key = (this.runY[i]! >> 1) * bw + (this.runX0[i]! >> 1);
      if (key < firstBlock[c]!) firstBlock[c] = key;
    }
    this.count = count;
    return count;
  }

  /** Set `out[y * w + x] = value` on every pixel of the components `c` with `select[c] !== 0`. */
  paint(out: Uint8Array | Float32Array, select: Uint8Array, value: number): void {
    const w = this.w;
    for (let i = 0; i < this.runCount; i++) {
      if (select[this.runComp[i]!] === 0) continue;
      const row = this.runY[i]! * w;
      out.fill(value, row + this.runX0[i]!, row + this.runX1[i]!);
    }
  }

  /** Per-pixel component index (0 outside the labelled set) of the last `label()`, for tests/debugging. */
  labelImage(): Int32Array {
    const out = new Int32Array(this.h * this.w);
    for (let i = 0; i < this.runCount; i++) {
      const row = this.runY[i]! * this.w;
      out.fill(this.runComp[i]!, row + this.runX0[i]!, row + this.runX1[i]!);
    }
    return out;
  }
}

const sharedLabeler = new ComponentLabeler();

/**
 * SAM 1 `remove_small_regions`: fill small holes (`mode = 'holes'`) or remove small islands
 * (`'islands'`) of a binary mask, 8-connectivity, "small" = area STRICTLY below `areaThresh`.
 *
 * - holes: every background component counts, including ones touching the border; small ones are
 *   filled. None small -> the input, `changed = false`.
 * - islands: none small -> the input, `changed = false`. Otherwise keep the components with area `>=
 *   areaThresh`; if none, keep the single largest (ties: OpenCV's first label, see the module comment);
 *   `changed = true` even if the result equals the input.
 *
 * @param mask row-major 0/1 (any non-zero counts as set), `h x w`; never modified
 * @returns a new mask when changed, else the input itself
 */
export function removeSmallRegions(
  mask: Uint8Array,
  h: number,
  w: number,
  areaThresh: number,
  mode: 'holes' | 'islands',
  labeler: ComponentLabeler = sharedLabeler,
): { mask: Uint8Array; changed: boolean } {
  const holes = mode === 'holes';
  const n = labeler.label(mask, h, w, !holes);
  const area = labeler.area;
  let anySmall = false;
  for (let c = 1; c <= n; c++) {
    if (area[c]! < areaThresh) {
      anySmall = true;
      break;
    }
  }
  if (!anySmall) return { mask, changed: false };

  // Components whose pixels flip: small holes get filled; removed islands get cleared.
  const flip = new Uint8Array(n + 1);
  if (holes) {
    for (let c = 1; c <= n; c++) flip[c] = area[c]! < areaThresh ? 1 : 0;
  } else {
    let kept = 0;
    for (let c = 1; c <= n; c++) {
      if (area[c]! >= areaThresh) kept++;
      else flip[c] = 1;
    }
    if (kept === 0) {
      // Keep the largest; among equals the one OpenCV numbers first (smallest first 2x2 block in
      // block-raster order), as np.argmax picks the first maximum.
      const fb = labeler.firstBlock;
      let best = 1;
      for (let c = 2; c <= n; c++) {
        if (area[c]! > area[best]! || (area[c] === area[best] && fb[c]! < fb[best]!)) best = c;
      }
      flip[best] = 0;
    }
  }
  const out = new Uint8Array(h * w);
  for (let i = 0; i < h * w; i++) out[i] = mask[i] !== 0 ? 1 : 0;
  labeler.paint(out, flip, holes ? 1 : 0);
  return { mask: out, changed: true };
}

/**
 * SAM 2's hole filling and sprinkle removal on low-res logits (`SAM2Transforms.postprocess_masks` with
 * `max_hole_area` / `max_sprinkle_area`), applied to one `h x w` map:
 * 1. background = `logit <= thr`; background components (8-connected, border ones included) with area
 *    `<= maxHoleArea` (INCLUSIVE, unlike SAM 1's strict `<`) are set to `fround(thr + 10)`; skipped when
 *    `maxHoleArea <= 0`;
 * 2. then, on the updated logits, foreground components (`> thr`) with area `<= maxSprinkleArea` are set
 *    to `fround(thr - 10)`; skipped when `maxSprinkleArea <= 0`.
 * No "keep the largest" rule: a mask can become empty. Areas are in low-res pixels. (SAM 2 runs this with
 * a CUDA kernel only; the golden cases emulate it with OpenCV 8-connectivity.)
 * @param logits reads the first `h * w` values (row-major); pass a `subarray` for one mask of a batch
 * @returns a new array of `h * w` values (the input is not modified)
 */
export function fillHolesAndSprinkles(
  logits: Float32Array,
  h: number,
  w: number,
  maskThreshold: number,
  maxHoleArea: number,
  maxSprinkleArea: number,
  labeler: ComponentLabeler = sharedLabeler,
): Float32Array {
  const n = h * w;
  const out = logits.slice(0, n);
  // The reference compares the float32 logits with a Python float: cast to float32.
  const thr = Math.fround(maskThreshold);
  const bin = new Uint8Array(n);
  const step = (fg: boolean, maxArea: number, value: number): void => {
    for (let i = 0; i < n; i++) bin[i] = out[i]! > thr ? 1 : 0;
    const count = labeler.label(bin, h, w, fg);
    const select = new Uint8Array(count + 1);
    for (let c = 1; c <= count; c++) select[c] = labeler.area[c]! <= maxArea ? 1 : 0;
    labeler.paint(out, select, value);
  };
  // The sprinkle step labels the hole-filled logits, as the golden specification
  // (`sam2_differences.json`, fill_holes_sprinkles_emulated) does. Note: sam2 @ 2b90b9f's
  // `postprocess_masks` labels both steps on the input logits (`mask_flat` is computed once); the two differ
  // only when filling a hole joins a small foreground component to a larger one.
  if (maxHoleArea > 0) step(false, maxHoleArea, Math.fround(maskThreshold + 10));
  if (maxSprinkleArea > 0) step(true, maxSprinkleArea, Math.fround(maskThreshold - 10));
  return out;
}
