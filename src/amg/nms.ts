/**
 * Greedy non-maximum suppression with the semantics of torchvision's `batched_nms` with a single
 * category on CPU — what every NMS of the reference AMG runs (per-crop, cross-crop and after
 * small-region removal).
 */

/**
 * On CPU, `batched_nms` switches from plain `nms` to its "vanilla" path when `boxes.numel() > 4000`,
 * i.e. above 1000 boxes. The kept SET is the same, but the kept indices are then re-sorted with an
 * UNSTABLE descending sort, which reorders boxes with equal scores.
 */
const VANILLA_PATH_MIN_BOXES = 1001;

/**
 * Indices of the boxes kept by greedy NMS, in the order kept (descending score).
 *
 * Exact torchvision CPU semantics (`batched_nms` with all-zero categories):
 * 1. order = indices sorted by score descending, STABLE (among equal scores the lower index comes
 *    first); NaN scores sort first, as `torch.sort(descending=True)` puts NaN above every number;
 * 2. walk the order; a box not yet suppressed is kept and suppresses every later, not yet suppressed
 *    box whose IoU with it is strictly greater than `iouThreshold`;
 * 3. IoU in float32 with every operation rounded: `area = (x1 - x0) * (y1 - y0)` (no +1), intersection
 *    width/height `max(0, min(x1) - max(x0))`, `iou = inter / ((area_i + area_j) - inter)`; the float32
 *    IoU is compared with the (double) threshold. Zero-area boxes give `0 / 0 = NaN`, which never
 *    suppresses — not even an identical box;
 * 4. with more than 1000 boxes the reference takes its "vanilla" path: the kept indices, in ascending
 *    index order, are re-sorted by `scores.sort(descending=True)`, an unstable `std::sort` (libstdc++
 *    introsort). We replay that sort exactly, so ties come out in the reference's order (verified on
 *    the 4100-box golden case, whose 50 distinct scores make the tie order visible).
 *
 * O(n²) in the worst case but allocation-free in the loop: boxes and areas are copied once, in score
 * order, into Float32Arrays, suppression is a byte flag, and disjoint pairs exit after one or two
 * subtractions (about 0.1 s for 4000 boxes).
 *
 * @param boxes - interleaved XYXY boxes, length `4n` (float32, as the reference's `.float()` boxes).
 * @param scores - `n` scores.
 * @param iouThreshold - suppress when IoU > this.
 * @returns kept indices into the input, in kept (descending score) order.
 */
export function nms(boxes: Float32Array, scores: Float32Array, iouThreshold: number): Int32Array {
  const n = scores.length;
  if (boxes.length !== 4 * n) {
    throw new RangeError(`nms: ${boxes.length} box coordinates for ${n} scores (expected ${4 * n})`);
  }
  if (n === 0) return new Int32Array(0);
  const f = Math.fround;

  // Boxes and areas laid out in score order, so the inner loop streams through memory.
  const order = sortByScoreDescending(scores);
  const x0 = new Float32Array(n);
  const y0 = new Float32Array(n);
  const x1 = new Float32Array(n);
  const y1 = new Float32Array(n);
  const areas = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const b = 4 * order[k]!;
    x0[k] = boxes[b]!;
    y0[k] = boxes[b + 1]!;
    x1[k] = boxes[b + 2]!;
    y1[k] = boxes[b + 3]!;
    // Stored into a Float32Array: the product is rounded to float32 like torch's `areas` tensor.
    areas[k] = f(x1[k]! - x0[k]!) * f(y1[k]! - y0[k]!);
  }

  // Disjoint boxes have inter = 0, so IoU is 0, -0 or NaN, and suppress only if 0 > threshold: for the
  // usual threshold >= 0 they can be skipped before doing any float32 arithmetic (exactly the same result).
  const skipDisjoint = !(0 > iouThreshold);
  const suppressed = new Uint8Array(n); // by position in `order`
  const keep = new Int32Array(n);
  let nKeep = 0;

  for (let i = 0; i < n; i++) {
    if (suppressed[i] !== 0) continue;
    keep[nKeep++] = order[i]!;
    const ix0 = x0[i]!;
    const iy0 = y0[i]!;
    const ix1 = x1[i]!;
    const iy1 = y1[i]!;
    const iArea = areas[i]!;
    for (let j = i + 1; j < n; j++) {
      if (suppressed[j] !== 0) continue;
      // min/max of float32 values are exact; only the arithmetic needs rounding.
      const xx0 = ix0 > x0[j]! ? ix0 : x0[j]!;
      const xx1 = ix1 < x1[j]! ? ix1 : x1[j]!;
      const ww = f(xx1 - xx0);
      if (!(ww > 0) && skipDisjoint) continue;
      const yy0 = iy0 > y0[j]! ? iy0 : y0[j]!;
      const yy1 = iy1 < y1[j]! ? iy1 : y1[j]!;
      const hh = f(yy1 - yy0);
      if (!(hh > 0) && skipDisjoint) continue;
      const inter = f((ww > 0 ? ww : 0) * (hh > 0 ? hh : 0));
      const iou = f(inter / f(f(iArea + areas[j]!) - inter));
      // Strict `>`; a NaN IoU (zero-area boxes) compares false and never suppresses.
      if (iou > iouThreshold) suppressed[j] = 1;
    }
  }
  const kept = keep.slice(0, nKeep);
  if (n >= VANILLA_PATH_MIN_BOXES) reorderLikeVanillaPath(kept, scores);
  return kept;
}

/** torch's descending comparator (`KeyValueCompDesc`): NaN above numbers, then `>`. */
function before(a: number, b: number): boolean {
  return (a !== a && b === b) || a > b;
}

/**
 * Replay `keep_indices[scores[keep_indices].sort(descending=True)[1]]` of `_batched_nms_vanilla`:
 * `keep_indices` is ascending, and torch 1.13's CPU sort is libstdc++'s `std::sort` on
 * (score, index) pairs. Sorts `kept` in place.
 */
function reorderLikeVanillaPath(kept: Int32Array, scores: Float32Array): void {
  kept.sort(); // ascending, as torch.where(keep_mask) returns them
  const keys = new Float32Array(kept.length);
  for (let i = 0; i < kept.length; i++) keys[i] = scores[kept[i]!]!;
  introsort(keys, kept);
}

/** libstdc++ `_S_threshold`: partitions at most this long are left to the final insertion sort. */
const INSERTION_THRESHOLD = 16;

/**
 * libstdc++ `std::sort` (introsort: median-of-three quicksort with an unguarded partition, heapsort
 * past `2 * floor(log2 n)` levels, then one insertion-sort pass), step for step, on parallel arrays:
 * `keys` are compared with {@link before}, `vals` move along. Not stable; the point is to reproduce
 * the exact permutation the C++ library produces for equal keys.
 */
function introsort(keys: Float32Array, vals: Int32Array): void {
  const n = keys.length;
  if (n < 2) return;
  const swap = (i: number, j: number): void => {
    const k = keys[i]!;
    keys[i] = keys[j]!;
    keys[j] = k;
    const v = vals[i]!;
    vals[i] = vals[j]!;
    vals[j] = v;
  };

  // Move the median of a, b, c to `res` (__move_median_to_first).
  const medianToFirst = (res: number, a: number, b: number, c: number): void => {
    if (before(keys[a]!, keys[b]!)) {
      if (before(keys[b]!, keys[c]!)) swap(res, b);
      else if (before(keys[a]!, keys[c]!)) swap(res, c);
      else swap(res, a);
    } else if (before(keys[a]!, keys[c]!)) swap(res, a);
    else if (before(keys[b]!, keys[c]!)) swap(res, c);
    else swap(res, b);
  };

  // Hoare-style partition around keys[pivot], no bounds checks (__unguarded_partition).
  const partition = (lo: number, hi: number, pivot: number): number => {
    for (;;) {
      while (before(keys[lo]!, keys[pivot]!)) lo++;
      hi--;
      while (before(keys[pivot]!, keys[hi]!)) hi--;
      if (!(lo < hi)) return lo;
      swap(lo, hi);
      lo++;
    }
  };

  // Sift the hole at `hole` down to a leaf, then push (vk, vv) up (__adjust_heap + __push_heap).
  const adjustHeap = (first: number, hole: number, len: number, vk: number, vv: number): void => {
    const top = hole;
    let child = hole;
    while (child < (len - 1) >> 1) {
      child = 2 * (child + 1);
      if (before(keys[first + child]!, keys[first + child - 1]!)) child--;
      keys[first + hole] = keys[first + child]!;
      vals[first + hole] = vals[first + child]!;
      hole = child;
    }
    if ((len & 1) === 0 && child === (len - 2) >> 1) {
      child = 2 * (child + 1);
      keys[first + hole] = keys[first + child - 1]!;
      vals[first + hole] = vals[first + child - 1]!;
      hole = child - 1;
    }
    let parent = (hole - 1) >> 1;
    while (hole > top && before(keys[first + parent]!, vk)) {
      keys[first + hole] = keys[first + parent]!;
      vals[first + hole] = vals[first + parent]!;
      hole = parent;
      parent = (hole - 1) >> 1;
    }
    keys[first + hole] = vk;
    vals[first + hole] = vv;
  };

  // __partial_sort(first, last, last): make_heap then sort_heap.
  const heapsort = (first: number, last: number): void => {
    const len = last - first;
    for (let parent = (len - 2) >> 1; parent >= 0; parent--) {
      adjustHeap(first, parent, len, keys[first + parent]!, vals[first + parent]!);
    }
    while (last - first > 1) {
      last--;
      const vk = keys[last]!;
      const vv = vals[last]!;
      keys[last] = keys[first]!;
      vals[last] = vals[first]!;
      adjustHeap(first, 0, last - first, vk, vv);
    }
  };

  const introsortLoop = (first: number, last: number, depth: number): void => {
    while (last - first > INSERTION_THRESHOLD) {
      if (depth === 0) {
        heapsort(first, last);
        return;
      }
      depth--;
      medianToFirst(first, first + 1, first + ((last - first) >> 1), last - 1);
      const cut = partition(first + 1, last, first);
      introsortLoop(cut, last, depth);
      last = cut;
    }
  };

  // __unguarded_linear_insert: shift the element at `i` left while it sorts before its neighbour.
  const linearInsert = (i: number): void => {
    const vk = keys[i]!;
    const vv = vals[i]!;
    let j = i - 1;
    while (before(vk, keys[j]!)) {
      keys[i] = keys[j]!;
      vals[i] = vals[j]!;
      i = j;
      j--;
    }
    keys[i] = vk;
    vals[i] = vv;
  };

  // __insertion_sort on [first, last): an element sorting before the first one is rotated to the front.
  const insertionSort = (first: number, last: number): void => {
    for (let i = first + 1; i < last; i++) {
      if (before(keys[i]!, keys[first]!)) {
        const vk = keys[i]!;
        const vv = vals[i]!;
        keys.copyWithin(first + 1, first, i);
        vals.copyWithin(first + 1, first, i);
        keys[first] = vk;
        vals[first] = vv;
      } else {
        linearInsert(i);
      }
    }
  };

  introsortLoop(0, n, 2 * (31 - Math.clz32(n)));
  // __final_insertion_sort: a guarded pass over the first 16, unguarded for the rest (after the
  // introsort loop the element that sorts first is among the first 16, so the scan always stops).
  if (n > INSERTION_THRESHOLD) {
    insertionSort(0, INSERTION_THRESHOLD);
    for (let i = INSERTION_THRESHOLD; i < n; i++) linearInsert(i);
  } else {
    insertionSort(0, n);
  }
}

/**
 * Indices `0..n-1` ordered by descending score, ties by ascending index (a stable descending sort),
 * NaN first. The explicit index tie-break makes the order independent of the sort's own stability.
 */
function sortByScoreDescending(scores: Float32Array): Int32Array {
  const n = scores.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => {
    const sa = scores[a]!;
    const sb = scores[b]!;
    if (sa > sb) return -1;
    if (sa < sb) return 1;
    if (sa === sb) return a - b;
    // At least one NaN: NaN ranks above every number, NaNs among themselves by index.
    const na = sa !== sa;
    const nb = sb !== sb;
    if (na && !nb) return -1;
    if (nb && !na) return 1;
    return a - b;
  });
  return order;
}
