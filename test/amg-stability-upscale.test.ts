/**
 * Stability score (`stability_score.json`), bilinear mask upscaling (`mask_upscale.json`) and the fused
 * per-mask pass (`MaskPass`), checked against the golden vectors from Meta's code and against the plain
 * (upscale -> threshold -> count / box / uncrop / RLE) composition on random inputs.
 */

import { describe, expect, it } from 'vitest';
import { maskToBox } from '../src/amg/boxes.js';
import { MaskPass, planMaskPass } from '../src/amg/mask-pass.js';
import { maskToRle, rleFromString, rleToMask, rleToString } from '../src/amg/rle.js';
import { stabilityCounts, stabilityScore } from '../src/amg/stability.js';
import { getPreprocessShape } from '../src/amg/transforms.js';
import type { BoxXYXY } from '../src/amg/types.js';
import {
  composeTaps,
  linearTaps,
  sam1AxisTaps,
  sam2AxisTaps,
  sliceTaps,
  upscaleLogits,
  type AxisTaps,
} from '../src/amg/upscale.js';
import { decodeF32, num, type GoldenFile, goldenVariants, rng } from './helpers/golden.js';

/** Smooth random 256x256-like logit field (sum of plane waves), optionally quantised to produce ties. */
function smoothLogits(size: number, seed: number, quantum = 0): Float32Array {
  const r = rng(seed);
  const waves = Array.from({ length: 5 }, () => ({
    fx: (r() - 0.5) * 0.15,
    fy: (r() - 0.5) * 0.15,
    ph: r() * 6.283,
    a: 2 + r() * 6,
  }));
  const bias = (r() - 0.5) * 6;
  const out = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let v = bias;
      for (const w of waves) v += w.a * Math.sin(w.fx * x + w.fy * y + w.ph);
      out[y * size + x] = quantum > 0 ? Math.round(v / quantum) * quantum : v;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// stability_score.json

function checkStability(g: GoldenFile): void {
  it('has cases', () => expect(g.cases.length).toBeGreaterThan(0));
  for (const c of g.cases) {
    it(`case ${c.id}${c.int16_overflow ? ' (int16 overflow: exact counts)' : ''}`, () => {
      if (c.int16_overflow) {
        // We deliberately return the mathematically exact counts, not the reference's int16 row sums.
        const [k, h, w] = c.logits_runs.shape as [number, number, number];
        const row: number[] = [];
        for (const [v, n] of c.logits_runs.each_row as [number, number][]) for (let i = 0; i < n; i++) row.push(v);
        expect(row.length).toBe(w);
        const logits = new Float32Array(k * h * w);
        for (let r = 0; r < k * h; r++) logits.set(row, r * w);
        const s = stabilityCounts(logits, 0, h * w, c.mask_threshold, c.threshold_offset);
        expect(s.intersection).toBe(c.mathematically_exact_intersection);
        expect(s.union).toBe(c.mathematically_exact_union);
        expect(stabilityScore(s.intersection, s.union)).toBe(
          Math.fround(c.mathematically_exact_intersection / c.mathematically_exact_union),
        );
        return;
      }
      const [k, h, w] = c.logits.shape as [number, number, number];
      const logits = decodeF32(c.logits);
      for (let i = 0; i < k; i++) {
        const s = stabilityCounts(logits, i * h * w, h * w, c.mask_threshold, c.threshold_offset);
        expect(s.intersection, `mask ${i} intersection`).toBe(c.expected_intersections[i]);
        expect(s.union, `mask ${i} union`).toBe(c.expected_unions[i]);
        expect(stabilityScore(s.intersection, s.union), `mask ${i} score`).toBe(num(c.expected_scores[i]));
      }
    });
  }
}

for (const [src, g] of goldenVariants('stability_score.json')) {
  describe(`stability_score.json (${src})`, () => checkStability(g));
}

// ---------------------------------------------------------------------------------------------------
// Taps

/** Straightforward one-step PyTorch bilinear along one axis, in float64, for comparison. */
function refLinear(input: Float64Array, outSize: number): Float64Array {
  const n = input.length;
  const out = new Float64Array(outSize);
  const scale = Math.fround(n / outSize);
  for (let d = 0; d < outSize; d++) {
    const src = Math.max(0, Math.fround(Math.fround(scale * (d + 0.5)) - 0.5));
    const i0 = Math.floor(src);
    const i1 = Math.min(i0 + 1, n - 1);
    const l = Math.fround(src - i0);
    out[d] = Math.fround(1 - l) * input[i0]! + l * input[i1]!;
  }
  return out;
}

function applyTaps(t: AxisTaps, input: Float64Array): Float64Array {
  const out = new Float64Array(t.n);
  for (let d = 0; d < t.n; d++) {
    let s = 0;
    for (let j = 0; j < t.k; j++) s += t.w[d * t.k + j]! * input[t.idx[d * t.k + j]!]!;
    out[d] = s;
  }
  return out;
}

describe('axis taps', () => {
  it('linearTaps follows the PyTorch align_corners=False rule', () => {
    for (const [i, o] of [[256, 1024], [256, 7], [256, 300], [1024, 683], [683, 1500], [3, 1], [1, 5], [256, 256]] as const) {
      const t = linearTaps(i, o);
      const x = Float64Array.from({ length: i }, (_, j) => Math.sin(j * 0.37) * 5 + j * 0.01);
      const a = applyTaps(t, x);
      const b = refLinear(x, o);
      for (let d = 0; d < o; d++) expect(Math.abs(a[d]! - b[d]!)).toBeLessThan(1e-12);
      // Zero-weight taps repeat the first index (never reference a non-contributing input).
      for (let d = 0; d < o; d++) for (let j = 1; j < t.k; j++) if (t.w[d * t.k + j] === 0) expect(t.idx[d * t.k + j]).toBe(t.idx[d * t.k]);
    }
  });

  it('sam1AxisTaps equals the two-step resize with crop (1e-12), k <= 4', () => {
    for (const [inputLen, outLen] of [[683, 100], [1024, 150], [37, 37], [1024, 1024], [731, 5], [3, 1], [1024, 3000], [683, 1500], [1, 1]] as const) {
      const x = Float64Array.from({ length: 256 }, (_, j) => Math.cos(j * 0.21) * 7 - j * 0.02);
      const twoStep = refLinear(refLinear(x, 1024).slice(0, inputLen), outLen);
      const t = sam1AxisTaps(256, 1024, inputLen, outLen);
      expect(t.n).toBe(outLen);
      expect(t.k).toBeLessThanOrEqual(4);
      const a = applyTaps(t, x);
      for (let d = 0; d < outLen; d++) expect(Math.abs(a[d]! - twoStep[d]!)).toBeLessThan(1e-12);
    }
  });

  it('composeTaps merges duplicate sources and sliceTaps keeps a prefix', () => {
    const t = composeTaps(linearTaps(4, 8), linearTaps(8, 8));
    for (let d = 0; d < t.n; d++) {
      const seen = new Set<number>();
      for (let j = 0; j < t.k; j++) {
        if (t.w[d * t.k + j] === 0) continue;
        expect(seen.has(t.idx[d * t.k + j]!)).toBe(false);
        seen.add(t.idx[d * t.k + j]!);
      }
    }
    const s = sliceTaps(linearTaps(256, 1024), 10);
    expect(s.n).toBe(10);
    expect(Array.from(s.idx)).toEqual(Array.from(linearTaps(256, 1024).idx.slice(0, 20)));
  });
});

// ---------------------------------------------------------------------------------------------------
// mask_upscale.json

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-4 + 1e-5 * Math.abs(b);

/** Reference path on a full-resolution logit image: counts, box, area and uncropped RLE. */
function plainPass(
  logits: Float32Array,
  h: number,
  w: number,
  crop: BoxXYXY,
  imageH: number,
  imageW: number,
  thr: number,
  off: number,
) {
  const s = stabilityCounts(logits, 0, h * w, thr, off);
  const mt = Math.fround(thr);
  const mask = new Uint8Array(h * w);
  let area = 0;
  for (let i = 0; i < h * w; i++) {
    mask[i] = logits[i]! > mt ? 1 : 0;
    area += mask[i]!;
  }
  const full = new Uint8Array(imageH * imageW);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) full[(y + crop[1]) * imageW + x + crop[0]] = mask[y * w + x]!;
  return { ...s, area, box: maskToBox(mask, h, w), rle: maskToRle(full, imageH, imageW), mask };
}

function checkUpscaleEntry(
  label: string,
  e: any,
  low: Float32Array,
  lowOffset: number,
  rows: AxisTaps,
  cols: AxisTaps,
  H: number,
  W: number,
): void {
  const out = new Float32Array(H * W);
  upscaleLogits(low, lowOffset, 256, rows, cols, out);
  for (const [r, c, v] of e.samples_row_col_value as [number, number, number][]) {
    const got = out[r * W + c]!;
    if (!close(got, v)) expect.fail(`${label}: value at (${r},${c}) = ${got}, expected ${v}`);
  }
  let sum = 0;
  let mn = Infinity;
  let mx = -Infinity;
  for (let i = 0; i < H * W; i++) {
    sum += out[i]!;
    if (out[i]! < mn) mn = out[i]!;
    if (out[i]! > mx) mx = out[i]!;
  }
  expect(Math.abs(sum - e.sum_float64), `${label} sum`).toBeLessThanOrEqual(1e-6 * Math.abs(e.sum_float64));
  expect(close(mn, e.min), `${label} min ${mn} vs ${e.min}`).toBe(true);
  expect(close(mx, e.max), `${label} max ${mx} vs ${e.max}`).toBe(true);

  // Thresholded mask: identical except at pixels whose reference value is within 1e-4 of 0.
  const plain = plainPass(out, H, W, [0, 0, W, H], H, W, 0, 1);
  const expected = rleToMask(rleFromString(e.mask_gt0_coco_counts, H, W));
  const nearZero = new Set((e['near_zero_pixels_abs_lt_1e-4'] as [number, number][]).map(([r, c]) => r * W + c));
  const listComplete = e.n_near_zero <= nearZero.size;
  let diffs = 0;
  for (let i = 0; i < H * W; i++) {
    if (plain.mask[i] === expected[i]) continue;
    diffs++;
    const ok = listComplete ? nearZero.has(i) : Math.abs(out[i]!) < 1e-4;
    if (!ok) expect.fail(`${label}: mask differs at (${Math.floor(i / W)},${i % W}), value ${out[i]}, not near zero`);
  }
  if (diffs === 0) {
    expect(rleToString(plain.rle.counts), `${label} coco`).toBe(e.mask_gt0_coco_counts);
    expect(plain.area).toBe(e.mask_gt0_area);
    expect(plain.box).toEqual(e.mask_gt0_box_xyxy);
  }
  expect(plain.rle.size).toEqual(e.mask_gt0_size);

  // Stability at threshold 0, offset 1 on the upscaled logits (float32 score).
  const score = stabilityScore(plain.intersection, plain.union);
  const want = num(e.stability_score_offset1);
  if (Number.isNaN(want)) expect(score).toBeNaN();
  else expect(Math.abs(score - want), `${label} stability ${score} vs ${want}`).toBeLessThanOrEqual(1e-6);

  // The fused pass agrees exactly with the plain composition.
  const mp = new MaskPass(planMaskPass(rows, cols, [0, 0, W, H], H, W));
  const res = mp.run(low, lowOffset, 256, 0, 1, true);
  expect(res.intersection).toBe(plain.intersection);
  expect(res.union).toBe(plain.union);
  expect(res.area).toBe(plain.area);
  expect(res.box).toEqual(plain.box);
  expect(Array.from(res.rle!.counts)).toEqual(Array.from(plain.rle.counts));
}

function checkMaskUpscale(g: GoldenFile): void {
  it('has cases', () => expect(g.cases.length).toBeGreaterThan(0));
  for (const c of g.cases) {
    const [H, W] = c.original_size as [number, number];
    const [ih, iw] = c.input_size as [number, number];
    const [k] = c.low_res_logits.shape as [number];
    describe(`case ${c.id} (${H}x${W}, input ${ih}x${iw})`, () => {
      const low = decodeF32(c.low_res_logits);
      for (let i = 0; i < k; i++) {
        it(`mask ${i}: SAM 1 two-step path`, () => {
          checkUpscaleEntry(`sam1[${i}]`, c.expected_sam1[i], low, i * 65536, sam1AxisTaps(256, 1024, ih, H), sam1AxisTaps(256, 1024, iw, W), H, W);
        });
        it(`mask ${i}: SAM 1 intermediate 1024x1024`, () => {
          const e = c.expected_sam1[i];
          const t = linearTaps(256, 1024);
          const out = new Float32Array(1024 * 1024);
          upscaleLogits(low, i * 65536, 256, t, t, out);
          for (const [r, cc, v] of e.intermediate_1024_samples_row_col_value as [number, number, number][]) {
            if (!close(out[r * 1024 + cc]!, v)) expect.fail(`(${r},${cc}) = ${out[r * 1024 + cc]}, expected ${v}`);
          }
          let sum = 0;
          for (let j = 0; j < out.length; j++) sum += out[j]!;
          expect(Math.abs(sum - e.intermediate_1024_sum_float64)).toBeLessThanOrEqual(1e-6 * Math.abs(e.intermediate_1024_sum_float64));
        });
        it(`mask ${i}: SAM 2 direct path`, () => {
          checkUpscaleEntry(`sam2[${i}]`, c.expected_sam2_direct[i], low, i * 65536, sam2AxisTaps(256, H), sam2AxisTaps(256, W), H, W);
        });
      }
    });
  }
}

for (const [src, g] of goldenVariants('mask_upscale.json')) {
  describe(`mask_upscale.json (${src})`, () => checkMaskUpscale(g));
}

// ---------------------------------------------------------------------------------------------------
// MaskPass vs. the plain composition, random logits and crops

describe('MaskPass equals upscale -> threshold -> counts/box/uncrop/RLE', () => {
  const r = rng(12345);
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const cases: Array<{ name: string; imageH: number; imageW: number; crop: BoxXYXY; sam: 1 | 2; quantum: number; thr: number; off: number }> = [];
  for (let t = 0; t < 60; t++) {
    const imageH = t % 6 === 1 ? int(1, 4) : int(1, 400);
    const imageW = int(1, 400);
    const x0 = int(0, imageW - 1);
    const x1 = int(x0 + 1, imageW);
    // Every third crop spans the full image height: 1-runs then continue from column to column.
    const fullH = t % 3 === 2;
    const y0 = fullH ? 0 : int(0, imageH - 1);
    const y1 = fullH ? imageH : int(y0 + 1, imageH);
    const sam = (t % 2 === 0 ? 1 : 2) as 1 | 2;
    const quantum = t % 5 === 0 ? 0.5 : 0;
    const thr = t % 3 === 0 ? 0 : t % 3 === 1 ? 0.5 : -0.25;
    const off = t % 4 === 0 ? 0.1 : 1;
    cases.push({ name: `#${t} image ${imageH}x${imageW} crop [${x0},${y0},${x1},${y1}] sam${sam}`, imageH, imageW, crop: [x0, y0, x1, y1], sam, quantum, thr, off });
  }
  // Edge geometries: full image, 1-px crops, crops touching each border, a wide strip.
  cases.push({ name: 'full 1x1', imageH: 1, imageW: 1, crop: [0, 0, 1, 1], sam: 1, quantum: 0, thr: 0, off: 1 });
  cases.push({ name: 'strip 3x1500', imageH: 3, imageW: 1500, crop: [0, 0, 1500, 3], sam: 1, quantum: 0, thr: 0, off: 1 });
  cases.push({ name: 'column 700x1 in 700x9', imageH: 700, imageW: 9, crop: [8, 0, 9, 700], sam: 2, quantum: 0, thr: 0, off: 1 });
  cases.push({ name: 'bottom-right corner', imageH: 50, imageW: 60, crop: [30, 20, 60, 50], sam: 1, quantum: 0.5, thr: 0, off: 1 });

  for (const c of cases) {
    it(c.name, () => {
      const [x0, y0, x1, y1] = c.crop;
      const h = y1 - y0;
      const w = x1 - x0;
      const [ih, iw] = getPreprocessShape(h, w, 1024);
      const rows = c.sam === 1 ? sam1AxisTaps(256, 1024, ih, h) : sam2AxisTaps(256, h);
      const cols = c.sam === 1 ? sam1AxisTaps(256, 1024, iw, w) : sam2AxisTaps(256, w);
      const mp = new MaskPass(planMaskPass(rows, cols, c.crop, c.imageH, c.imageW));
      // Three masks in one buffer, reusing the same MaskPass (scratch reuse must not leak state).
      const low = new Float32Array(3 * 65536);
      for (let m = 0; m < 3; m++) low.set(smoothLogits(256, 1000 + m * 7 + c.imageH, c.quantum), m * 65536);
      // Make the third mask empty at the threshold.
      for (let j = 2 * 65536; j < 3 * 65536; j++) low[j] = -20;
      const out = new Float32Array(h * w);
      for (let m = 0; m < 3; m++) {
        upscaleLogits(low, m * 65536, 256, rows, cols, out);
        const plain = plainPass(out, h, w, c.crop, c.imageH, c.imageW, c.thr, c.off);
        for (const wantRle of [true, false]) {
          const res = mp.run(low, m * 65536, 256, c.thr, c.off, wantRle);
          expect(res.intersection).toBe(plain.intersection);
          expect(res.union).toBe(plain.union);
          expect(res.area).toBe(plain.area);
          expect(res.box).toEqual(plain.box);
          if (wantRle) expect(Array.from(res.rle!.counts)).toEqual(Array.from(plain.rle.counts));
          else expect(res.rle).toBeNull();
        }
      }
    });
  }

  it('rejects taps that do not match the crop', () => {
    expect(() => planMaskPass(sam2AxisTaps(256, 10), sam2AxisTaps(256, 10), [0, 0, 10, 11], 20, 20)).toThrow();
    expect(() => planMaskPass(sam2AxisTaps(256, 10), sam2AxisTaps(256, 10), [15, 0, 25, 10], 20, 20)).toThrow();
  });

  it('empty crop gives an all-zero uncropped RLE', () => {
    const mp = new MaskPass(planMaskPass(sam2AxisTaps(256, 0), sam2AxisTaps(256, 5), [0, 3, 5, 3], 4, 6));
    const res = mp.run(new Float32Array(65536).fill(5), 0, 256, 0, 1, true);
    expect(res.area).toBe(0);
    expect(res.box).toEqual([0, 0, 0, 0]);
    expect(Array.from(res.rle!.counts)).toEqual([24]);
  });
});
