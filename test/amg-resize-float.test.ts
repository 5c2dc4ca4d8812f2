/**
 * SAM 2's float resize (ATen `_upsample_bilinear2d_aa`, float32) and `sam2Preprocess`.
 *
 * 1. Golden vectors (`test/golden/resize_aa_float.json`) from the project's reference PyTorch (Debian python3-torch
 *    1.13.1, the build behind every other golden file; the generator script is inside the JSON): bit-exact.
 * 2. Properties that a wrong window, weight, normalisation, pass order or layout would break, against references
 *    written plainly in this file in double precision (these hold for any PyTorch build).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { resizeBilinearAaFloat, sam2Preprocess, toTensorChw, type FloatImageLayout } from '../src/amg/resize-float.js';
import { resizeBilinearPil, triangleCoeffs } from '../src/amg/resize.js';
import { SAM2_PIXEL_MEAN, SAM2_PIXEL_STD } from '../src/amg/preprocess.js';
import { decodeF32, loadGolden } from './helpers/golden.js';

/** Deterministic pseudo-random floats in [0, 1). */
function randomImage(n: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

/**
 * Reference 1-D weights, written from the definition (double precision): triangle filter of half-width
 * `support = max(1, in/out)` around the output centre `(i + 0.5)·in/out`, over the input pixel centres `k + 0.5`
 * that fall inside the window, normalised to sum 1.
 */
function refWeights(inSize: number, outSize: number): Array<Map<number, number>> {
  const scale = inSize / outSize;
  const support = Math.max(1, scale);
  const rows: Array<Map<number, number>> = [];
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const m = new Map<number, number>();
    let sum = 0;
    for (let k = 0; k < inSize; k++) {
      const d = Math.abs(k + 0.5 - centre) / support;
      if (d < 1) {
        m.set(k, 1 - d);
        sum += 1 - d;
      }
    }
    for (const [k, v] of m) m.set(k, v / sum);
    rows.push(m);
  }
  return rows;
}

/** Direct 2-D convolution `out(y,x) = Σ_k Σ_l wy(y,k)·wx(x,l)·src(k,l)` in double. */
function refResize(src: Float32Array, ch: number, h: number, w: number, oh: number, ow: number, layout: FloatImageLayout): Float64Array {
  const wy = refWeights(h, oh);
  const wx = refWeights(w, ow);
  const at = (c: number, y: number, x: number, hh: number, ww: number) => (layout === 'chw' ? (c * hh + y) * ww + x : (y * ww + x) * ch + c);
  const out = new Float64Array(ch * oh * ow);
  for (let c = 0; c < ch; c++) {
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        let s = 0;
        for (const [k, a] of wy[y]!) for (const [l, b] of wx[x]!) s += a * b * src[at(c, k, l, h, w)]!;
        out[at(c, y, x, oh, ow)] = s;
      }
    }
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('golden: PyTorch 1.13 (Debian) interpolate(antialias=True) and SAM 2 preprocessing', () => {
  const g = loadGolden('resize_aa_float.json');

  /** `rgb[y,x,c] = (x·37 + y·91 + c·53 + ((x·y) >> 3)) & 255`, the generator's input formula. */
  const pattern = (h: number, w: number): Uint8Array => {
    const out = new Uint8Array(h * w * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) out[(y * w + x) * 3 + c] = (x * 37 + y * 91 + c * 53 + ((x * y) >> 3)) & 255;
    return out;
  };

  for (const [i, c] of (g.cases as any[]).entries()) {
    if (c.kind === 'resize') {
      const [ch, h, w] = c.input.shape as [number, number, number];
      const [oh, ow] = c.out_hw as [number, number];
      it(`case ${i}: resize ${ch}x${h}x${w} -> ${oh}x${ow} is bit-exact`, () => {
        const got = resizeBilinearAaFloat(decodeF32(c.input), ch, h, w, oh, ow, 'chw');
        const want = decodeF32(c.expected);
        expect(got.length).toBe(want.length);
        let differ = 0;
        for (let k = 0; k < want.length; k++) if (got[k] !== want[k]) differ++;
        expect(differ, `values differing (max |Δ| ${maxAbsDiff(got, want)})`).toBe(0);
      });
    } else {
      it(`case ${i}: sam2Preprocess ${c.h}x${c.w} -> ${c.size}² is bit-exact`, () => {
        const got = sam2Preprocess(pattern(c.h, c.w), c.h, c.w, c.size);
        expect(got.length).toBe(3 * c.size * c.size);
        for (const [k, v] of c.samples as Array<[number, number]>) expect(got[k], `value ${k}`).toBe(v);
        let sum = 0;
        for (let k = 0; k < got.length; k++) sum += got[k]!;
        expect(Math.abs(sum - c.sum_f64)).toBeLessThan(1e-6 * got.length);
        const hash = createHash('sha256').update(new Uint8Array(got.buffer, got.byteOffset, got.byteLength)).digest('hex');
        expect(hash, 'SHA-256 of the float32 LE output').toBe(c.sha256_f32le);
      });
    }
  }
});

describe('triangleCoeffs', () => {
  it('downscale 4 → 2 by hand: windows of 3 with weights (3,3,1)/7 and (1,3,3)/7', () => {
    // centre 1: taps 0..2 at distances 0.5, 0.5, 1.5 → triangle over support 2 → 0.75, 0.75, 0.25 → /1.75.
    for (const arith of ['float64', 'float32'] as const) {
      const c = triangleCoeffs(4, 2, arith);
      expect(c.ksize).toBe(5);
      expect([c.start[0], c.count[0], c.start[1], c.count[1]]).toEqual([0, 3, 1, 3]);
      const w = Array.from(c.weights);
      for (const [i, v] of [3 / 7, 3 / 7, 1 / 7, 0, 0, 1 / 7, 3 / 7, 3 / 7, 0, 0].entries()) expect(w[i]).toBeCloseTo(v, 6);
    }
  });

  it('upscale 2 → 4 by hand: edge taps alone, interior 3:1 mixes (bilinear, half-pixel)', () => {
    const c = triangleCoeffs(2, 4, 'float32');
    expect(Array.from(c.start)).toEqual([0, 0, 0, 1]);
    expect(Array.from(c.count)).toEqual([1, 2, 2, 1]);
    expect(c.weights[0]).toBe(1);
    expect([c.weights[3], c.weights[4]]).toEqual([0.75, 0.25]);
    expect([c.weights[6], c.weights[7]]).toEqual([0.25, 0.75]);
    expect(c.weights[9]).toBe(1);
  });

  it('float32 weights are float32 values close to the double ones', () => {
    for (const [i, o] of [[1000, 1024], [1500, 1024], [333, 1024], [4000, 1024], [1024, 700]] as const) {
      const a = triangleCoeffs(i, o, 'float32');
      const b = triangleCoeffs(i, o, 'float64');
      expect(a.ksize).toBe(b.ksize);
      for (let k = 0; k < a.weights.length; k++) expect(Math.fround(a.weights[k]!)).toBe(a.weights[k]);
      // Float32 centres at input coordinates in the thousands are off by up to half an ulp (~1e-4 px), which moves
      // the weights by ~1e-5: the real difference between ATen's float path and Pillow's double one.
      expect(maxAbsDiff(a.weights, b.weights)).toBeLessThan(1e-4);
    }
  });
});

describe('resizeBilinearAaFloat', () => {
  it('equal size is an exact copy', () => {
    const src = randomImage(3 * 7 * 5);
    const out = resizeBilinearAaFloat(src, 3, 7, 5, 7, 5, 'chw');
    expect(out).not.toBe(src);
    expect(Array.from(out)).toEqual(Array.from(src));
  });

  it('a constant image stays constant (to float rounding), up and down, both layouts', () => {
    for (const layout of ['chw', 'hwc'] as const) {
      for (const [h, w, oh, ow] of [[37, 53, 64, 64], [64, 64, 37, 53], [100, 30, 17, 90], [5, 9, 5, 30]] as const) {
        const src = new Float32Array(2 * h * w);
        for (let i = 0; i < src.length; i++) src[i] = layout === 'chw' ? (i < h * w ? 0.3 : 0.9) : i % 2 ? 0.9 : 0.3;
        const out = resizeBilinearAaFloat(src, 2, h, w, oh, ow, layout);
        for (let i = 0; i < out.length; i++) {
          const want = (layout === 'chw' ? i < oh * ow : i % 2 === 0) ? 0.3 : 0.9;
          expect(Math.abs(out[i]! - want)).toBeLessThan(1e-6);
        }
      }
    }
  });

  it('equals a direct 2-D double-precision convolution with the separable weights', () => {
    const cases = [
      [13, 17, 5, 6], // downscale, non-integer factors
      [9, 11, 20, 31], // upscale
      [16, 7, 4, 21], // down in y, up in x
      [12, 12, 12, 5], // width only
      [20, 9, 8, 9], // height only
    ] as const;
    for (const layout of ['chw', 'hwc'] as const) {
      for (const [h, w, oh, ow] of cases) {
        const src = randomImage(3 * h * w, h * 31 + w);
        const got = resizeBilinearAaFloat(src, 3, h, w, oh, ow, layout);
        const want = refResize(src, 3, h, w, oh, ow, layout);
        expect(maxAbsDiff(got, want), `${layout} ${h}x${w}->${oh}x${ow}`).toBeLessThan(2e-6);
      }
    }
  });

  it('downscale by 2 of a 4×4 image, by hand: (3a+3b+c)/7 and (b+3c+3d)/7 per axis', () => {
    // value(y, x) = col[x] + 100·row[y] with col = row = [0, 0, 7, 14]: per axis [0,0,7,14] → [1, 9], and the
    // weights sum to 1 so the two parts separate: [[101, 109], [901, 909]].
    const v = [0, 0, 7, 14];
    const src = new Float32Array(16);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) src[y * 4 + x] = v[x]! + 100 * v[y]!;
    const out = resizeBilinearAaFloat(src, 1, 4, 4, 2, 2, 'chw');
    expect(Array.from(out).map((x) => Math.round(x * 1e4) / 1e4)).toEqual([101, 109, 901, 909]);
  });

  it('upscaling is plain bilinear with align_corners=False and clamped edges', () => {
    const h = 6;
    const w = 5;
    const oh = 15;
    const ow = 13;
    const src = randomImage(h * w, 7);
    const out = resizeBilinearAaFloat(src, 1, h, w, oh, ow, 'chw');
    const lerp1 = (n: number, o: number, i: number): [number, number, number] => {
      const s = Math.min(Math.max((i + 0.5) * (n / o) - 0.5, 0), n - 1);
      const i0 = Math.floor(s);
      return [i0, Math.min(i0 + 1, n - 1), s - i0];
    };
    for (let y = 0; y < oh; y++) {
      const [y0, y1, fy] = lerp1(h, oh, y);
      for (let x = 0; x < ow; x++) {
        const [x0, x1, fx] = lerp1(w, ow, x);
        const top = src[y0 * w + x0]! * (1 - fx) + src[y0 * w + x1]! * fx;
        const bot = src[y1 * w + x0]! * (1 - fx) + src[y1 * w + x1]! * fx;
        expect(Math.abs(out[y * ow + x]! - (top * (1 - fy) + bot * fy))).toBeLessThan(1e-6);
      }
    }
  });

  it('mirroring the input mirrors the output', () => {
    const h = 11;
    const w = 23;
    const oh = 7;
    const ow = 9;
    const src = randomImage(h * w, 3);
    const flipped = new Float32Array(h * w);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) flipped[y * w + x] = src[(h - 1 - y) * w + (w - 1 - x)]!;
    const a = resizeBilinearAaFloat(src, 1, h, w, oh, ow, 'chw');
    const b = resizeBilinearAaFloat(flipped, 1, h, w, oh, ow, 'chw');
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) expect(Math.abs(a[y * ow + x]! - b[(oh - 1 - y) * ow + (ow - 1 - x)]!)).toBeLessThan(1e-6);
    }
  });

  it('layouts agree: hwc output is the transpose of chw output', () => {
    const h = 10;
    const w = 14;
    const chw = randomImage(3 * h * w, 9);
    const hwc = new Float32Array(chw.length);
    for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) hwc[i * 3 + c] = chw[c * h * w + i]!;
    const a = resizeBilinearAaFloat(chw, 3, h, w, 6, 25, 'chw');
    const b = resizeBilinearAaFloat(hwc, 3, h, w, 6, 25, 'hwc');
    for (let c = 0; c < 3; c++) for (let i = 0; i < 6 * 25; i++) expect(b[i * 3 + c]).toBe(a[c * 6 * 25 + i]);
  });

  it('stays within one grey level of the 8-bit PIL clone (same windows, no 8-bit rounding)', () => {
    const h = 45;
    const w = 70;
    const bytes = Uint8Array.from(randomImage(h * w * 3, 5), (v) => Math.floor(v * 256));
    for (const [oh, ow] of [[20, 33], [64, 64], [90, 31]] as const) {
      const pil = resizeBilinearPil(bytes, h, w, oh, ow);
      const flt = resizeBilinearAaFloat(Float32Array.from(bytes), 3, h, w, oh, ow, 'hwc');
      expect(maxAbsDiff(pil, flt)).toBeLessThanOrEqual(1.0001);
    }
  });

  it('rejects bad sizes', () => {
    expect(() => resizeBilinearAaFloat(new Float32Array(4), 1, 2, 2, 0, 2, 'chw')).toThrow(/positive/);
    expect(() => resizeBilinearAaFloat(new Float32Array(3), 1, 2, 2, 4, 4, 'chw')).toThrow(/values/);
  });
});

describe('sam2Preprocess', () => {
  it('is ToTensor → resize → (x − mean)/std in float32, as [1,3,size,size]', () => {
    const h = 9;
    const w = 14;
    const rgb = Uint8Array.from(randomImage(h * w * 3, 11), (v) => Math.floor(v * 256));
    const size = 16;
    const out = sam2Preprocess(rgb, h, w, size);
    expect(out.length).toBe(3 * size * size);
    const t = toTensorChw(rgb, h, w);
    expect(t[0]).toBe(Math.fround(rgb[0]! / 255));
    expect(t[h * w + 1]).toBe(Math.fround(rgb[4]! / 255));
    const resized = resizeBilinearAaFloat(t, 3, h, w, size, size, 'chw');
    for (let c = 0; c < 3; c++) {
      const m = Math.fround(SAM2_PIXEL_MEAN[c]!);
      const s = Math.fround(SAM2_PIXEL_STD[c]!);
      for (let i = 0; i < size * size; i++) {
        const k = c * size * size + i;
        expect(out[k]).toBe(Math.fround(Math.fround(resized[k]! - m) / s));
      }
    }
  });

  it('a flat colour gives the normalised colour everywhere; the image is stretched, not letterboxed', () => {
    const h = 3;
    const w = 40;
    const rgb = new Uint8Array(h * w * 3);
    for (let i = 0; i < h * w; i++) rgb.set([200, 100, 0], i * 3);
    const out = sam2Preprocess(rgb, h, w, 32);
    for (let c = 0; c < 3; c++) {
      const want = ([200, 100, 0][c]! / 255 - SAM2_PIXEL_MEAN[c]!) / SAM2_PIXEL_STD[c]!;
      for (let i = 0; i < 32 * 32; i++) expect(Math.abs(out[c * 1024 + i]! - want)).toBeLessThan(1e-5);
    }
  });
});
