/**
 * Bilinear upscaling of mask logits, PyTorch `F.interpolate(mode='bilinear', align_corners=False)`
 * (no antialias), expressed as per-axis "taps" so that several resizes can be composed into one.
 *
 * SAM 1 (`Sam.postprocess_masks`) resizes the 256x256 low-res logits to 1024x1024, crops the top-left
 * `input_size` (the part that is not padding) and resizes that to the original (crop) size. Each step is
 * separable and linear, so per axis the composition is again a small set of (index, weight) taps on the
 * 256 low-res samples: at most 4 per output index. Applying the composed taps is exact in real
 * arithmetic; in floating point it differs from the two-step reference by ~1e-6, well inside the golden
 * tolerance. SAM 2 does a single 256 -> original-size step.
 *
 * Invariant of every `AxisTaps` built here: taps with weight 0 (padding, or a duplicate merged away) repeat
 * the index of the first tap of that output, so no tap ever references an input that does not contribute.
 */

/** Per-axis resampling taps: output `d` is `sum_j w[d*k + j] * input[idx[d*k + j]]`, `j < k`. */
export interface AxisTaps {
  /** Number of output samples. */
  n: number;
  /** Input index per tap, `n * k` entries, output-major. */
  idx: Int32Array;
  /** Weight per tap, `n * k` entries. */
  w: Float32Array | Float64Array;
  /** Taps per output (2 for one bilinear step, up to 4 for a composition). */
  k: number;
}

/**
 * Taps of one PyTorch bilinear step, align_corners=False: `src = max(0, (in/out)*(d+0.5) - 0.5)`,
 * `i0 = floor(src)`, `i1 = min(i0+1, in-1)`, `w1 = src - i0`, `w0 = 1 - w1`.
 * Evaluated in float32 like PyTorch's CPU kernel for float tensors (`scale = float(in)/out`), so the
 * weights are the reference's weights; they are stored as float64 (exactly).
 * @param inSize input length (> 0)
 * @param outSize output length (>= 0)
 */
export function linearTaps(inSize: number, outSize: number): AxisTaps {
  if (!(inSize > 0) || !(outSize >= 0)) throw new RangeError(`linearTaps: bad sizes ${inSize} -> ${outSize}`);
  const f = Math.fround;
  const k = 2;
  const idx = new Int32Array(outSize * k);
  const w = new Float64Array(outSize * k);
  const scale = f(inSize / outSize);
  for (let d = 0; d < outSize; d++) {
    let src = f(f(scale * (d + 0.5)) - 0.5);
    if (src < 0) src = 0;
    const i0 = Math.floor(src);
    const lambda = Math.min(f(src - i0), 1);
    const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
    const w0 = f(1 - lambda);
    if (i1 === i0 || lambda === 0) {
      // Last input (clamped) or an exact hit: a single contributing input. w0 + lambda is the weight the
      // reference applies to it in total (1, or 1 up to rounding).
      idx[d * k] = i0;
      w[d * k] = i1 === i0 ? w0 + lambda : w0;
      idx[d * k + 1] = i0;
      w[d * k + 1] = 0;
    } else {
      idx[d * k] = i0;
      w[d * k] = w0;
      idx[d * k + 1] = i1;
      w[d * k + 1] = lambda;
    }
  }
  return { n: outSize, idx, w, k };
}

/**
 * Taps of "`first`, then `second`": `second` reads `first`'s outputs (`second`'s input length must be
 * `first.n`). Products of weights are summed per distinct source index (merging duplicates), zero weights
 * dropped, and `k` is the largest number of distinct sources of any output.
 */
export function composeTaps(first: AxisTaps, second: AxisTaps): AxisTaps {
  const n = second.n;
  const kMax = first.k * second.k;
  // Gather into a wide buffer first, then compact to the k actually needed.
  const wideIdx = new Int32Array(n * kMax);
  const wideW = new Float64Array(n * kMax);
  const count = new Int32Array(n);
  let k = 1;
  for (let d = 0; d < n; d++) {
    const base = d * kMax;
    let m = 0;
    for (let a = 0; a < second.k; a++) {
      const wa = second.w[d * second.k + a]!;
      if (wa === 0) continue;
      const j = second.idx[d * second.k + a]!;
      if (j < 0 || j >= first.n) throw new RangeError(`composeTaps: index ${j} outside first.n=${first.n}`);
      for (let b = 0; b < first.k; b++) {
        const wb = first.w[j * first.k + b]!;
        if (wb === 0) continue;
        const i = first.idx[j * first.k + b]!;
        const prod = wa * wb;
        let t = 0;
        while (t < m && wideIdx[base + t] !== i) t++;
        if (t === m) {
          wideIdx[base + m] = i;
          wideW[base + m] = prod;
          m++;
        } else {
          wideW[base + t] += prod;
        }
      }
    }
    count[d] = m;
    if (m > k) k = m;
  }
  const idx = new Int32Array(n * k);
  const w = new Float64Array(n * k);
  for (let d = 0; d < n; d++) {
    const m = count[d]!;
    const first0 = m > 0 ? wideIdx[d * kMax]! : 0;
    for (let t = 0; t < k; t++) {
      idx[d * k + t] = t < m ? wideIdx[d * kMax + t]! : first0;
      w[d * k + t] = t < m ? wideW[d * kMax + t]! : 0;
    }
  }
  return { n, idx, w, k };
}

/** Keep outputs `[0, count)` only (SAM 1 crops the padded 1024 frame to the pre-padding input size). */
export function sliceTaps(t: AxisTaps, count: number): AxisTaps {
  if (count < 0 || count > t.n) throw new RangeError(`sliceTaps: ${count} outside [0, ${t.n}]`);
  return { n: count, idx: t.idx.slice(0, count * t.k), w: t.w.slice(0, count * t.k), k: t.k };
}

/**
 * SAM 1 `postprocess_masks` along one axis: `lowRes` -> `padSize` (1024), keep `[0, inputLen)`, ->
 * `outLen`, as one set of taps on the low-res samples.
 * @param lowRes low-res mask side (256)
 * @param padSize encoder input side (1024)
 * @param inputLen resized-image length along this axis before padding (`get_preprocess_shape`)
 * @param outLen original (crop) length along this axis
 */
export function sam1AxisTaps(lowRes: number, padSize: number, inputLen: number, outLen: number): AxisTaps {
  return composeTaps(sliceTaps(linearTaps(lowRes, padSize), inputLen), linearTaps(inputLen, outLen));
}

/** SAM 2 along one axis: a single bilinear step `lowRes` (256) -> `outLen`. */
export function sam2AxisTaps(lowRes: number, outLen: number): AxisTaps {
  return linearTaps(lowRes, outLen);
}

/** Smallest and largest input index with a non-zero weight (`[0, -1]` when there is none). */
export function tapRange(t: AxisTaps): [min: number, max: number] {
  let lo = Infinity;
  let hi = -1;
  for (let i = 0; i < t.n * t.k; i++) {
    if (t.w[i] === 0) continue;
    const j = t.idx[i]!;
    if (j < lo) lo = j;
    if (j > hi) hi = j;
  }
  return hi < 0 ? [0, -1] : [lo, hi];
}

/**
 * First (vertical) pass shared by `upscaleLogits` and `MaskPass`, so both produce bit-identical values:
 * for every output row `y < rows.n` and low-res column `c` in `c0..c1` (inclusive),
 * `V[(c - c0) * rows.n + y] = fround(sum_i w_i * low[lowOffset + idx_i * lowSize + c])` (double
 * accumulation in tap order). `V` is column-major so that the second pass, which walks output columns top
 * to bottom (the RLE order), reads each of its <= 4 source columns as a contiguous stream.
 * Allocation-free.
 */
export function verticalPassColumnMajor(
  low: Float32Array,
  lowOffset: number,
  lowSize: number,
  rows: AxisTaps,
  c0: number,
  c1: number,
  V: Float32Array,
): void {
  const n = rows.n;
  const k = rows.k;
  const ri = rows.idx;
  const rw = rows.w;
  // Output row outer: the (<= 4) source rows and weights are loop invariants and the reads sequential;
  // the strided writes to V touch one cache line per column, which stay resident from one y to the next.
  for (let y = 0; y < n; y++) {
    const kb = y * k;
    if (k === 2) {
      const a = lowOffset + ri[kb]! * lowSize;
      const b = lowOffset + ri[kb + 1]! * lowSize;
      const wa = rw[kb]!;
      const wb = rw[kb + 1]!;
      for (let c = c0; c <= c1; c++) V[(c - c0) * n + y] = wa * low[a + c]! + wb * low[b + c]!;
    } else if (k === 3) {
      const a = lowOffset + ri[kb]! * lowSize;
      const b = lowOffset + ri[kb + 1]! * lowSize;
      const d = lowOffset + ri[kb + 2]! * lowSize;
      const wa = rw[kb]!;
      const wb = rw[kb + 1]!;
      const wd = rw[kb + 2]!;
      for (let c = c0; c <= c1; c++) V[(c - c0) * n + y] = wa * low[a + c]! + wb * low[b + c]! + wd * low[d + c]!;
    } else {
      for (let c = c0; c <= c1; c++) {
        let s = 0;
        for (let j = 0; j < k; j++) s += rw[kb + j]! * low[lowOffset + ri[kb + j]! * lowSize + c]!;
        V[(c - c0) * n + y] = s;
      }
    }
  }
}

/**
 * Second pass for one output column `x`: `out[y] = fround(sum_j w_j(x) * V[(idx_j(x) - c0) * n + y])`
 * for `y < n` (double accumulation in tap order; zero-weight padding taps add an exact 0, so padded and
 * unpadded sums are identical). Specialised for 2, 3 and 4 taps: the weights are loop invariants.
 */
export function columnFromTaps(V: Float32Array, n: number, cols: AxisTaps, x: number, c0: number, out: Float32Array): void {
  const k = cols.k;
  const kb = x * k;
  const ci = cols.idx;
  const cw = cols.w;
  if (k === 2) {
    const a = (ci[kb]! - c0) * n;
    const b = (ci[kb + 1]! - c0) * n;
    const wa = cw[kb]!;
    const wb = cw[kb + 1]!;
    for (let y = 0; y < n; y++) out[y] = wa * V[a + y]! + wb * V[b + y]!;
  } else if (k === 3) {
    const a = (ci[kb]! - c0) * n;
    const b = (ci[kb + 1]! - c0) * n;
    const c = (ci[kb + 2]! - c0) * n;
    const wa = cw[kb]!;
    const wb = cw[kb + 1]!;
    const wc = cw[kb + 2]!;
    for (let y = 0; y < n; y++) out[y] = wa * V[a + y]! + wb * V[b + y]! + wc * V[c + y]!;
  } else if (k === 4) {
    const a = (ci[kb]! - c0) * n;
    const b = (ci[kb + 1]! - c0) * n;
    const c = (ci[kb + 2]! - c0) * n;
    const d = (ci[kb + 3]! - c0) * n;
    const wa = cw[kb]!;
    const wb = cw[kb + 1]!;
    const wc = cw[kb + 2]!;
    const wd = cw[kb + 3]!;
    for (let y = 0; y < n; y++) out[y] = wa * V[a + y]! + wb * V[b + y]! + wc * V[c + y]! + wd * V[d + y]!;
  } else {
    for (let y = 0; y < n; y++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += cw[kb + j]! * V[(ci[kb + j]! - c0) * n + y]!;
      out[y] = s;
    }
  }
}

/**
 * Upscale one low-res logit map (`lowSize x lowSize` at `low[lowOffset..]`, row-major) to
 * `rows.n x cols.n`, row-major, into `out`. Separable: vertical pass into `scratch` (column-major), then
 * horizontal, values rounded to float32 after each pass. Not the pipeline's hot path (see `MaskPass`,
 * which never materialises this image); used by tests, SAM 2's mask-to-mask refinement and debugging.
 * @param scratch optional reusable buffer of at least `rows.n * (referenced low-res columns + 1)` floats
 */
export function upscaleLogits(
  low: Float32Array,
  lowOffset: number,
  lowSize: number,
  rows: AxisTaps,
  cols: AxisTaps,
  out: Float32Array,
  scratch?: Float32Array,
): void {
  const outH = rows.n;
  const outW = cols.n;
  if (out.length < outH * outW) throw new RangeError(`upscaleLogits: out has ${out.length} < ${outH * outW}`);
  const [c0, c1] = tapRange(cols);
  if (c1 < c0 || outH === 0) {
    // No contributing columns (empty output): nothing to write but zeros.
    out.fill(0, 0, outH * outW);
    return;
  }
  const need = outH * (c1 - c0 + 2);
  const buf = scratch !== undefined && scratch.length >= need ? scratch : new Float32Array(need);
  const V = buf.subarray(0, outH * (c1 - c0 + 1));
  const col = buf.subarray(outH * (c1 - c0 + 1), need);
  verticalPassColumnMajor(low, lowOffset, lowSize, rows, c0, c1, V);
  for (let x = 0; x < outW; x++) {
    columnFromTaps(V, outH, cols, x, c0, col);
    for (let y = 0; y < outH; y++) out[y * outW + x] = col[y]!;
  }
}
