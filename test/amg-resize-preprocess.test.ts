/**
 * Image preprocessing: the PIL `Image.resize(BILINEAR)` clone (byte-exact on `image_preprocess.json`
 * `cases`) and the float32 normalisation + zero padding of `Sam.preprocess` (`preprocess` section).
 */

import { describe, expect, it } from 'vitest';
import {
  normalizationLut,
  normalizePadChw,
  SAM1_PIXEL_MEAN,
  SAM1_PIXEL_STD,
  SAM2_PIXEL_MEAN,
  SAM2_PIXEL_STD,
  toFloatHwc,
} from '../src/amg/preprocess.js';
import { resizeBilinearPil } from '../src/amg/resize.js';
import { getPreprocessShape } from '../src/amg/transforms.js';
import { decodeU8, type GoldenFile, goldenVariants } from './helpers/golden.js';

function checkResize(g: GoldenFile): void {
  it('has cases', () => expect(g.cases.length).toBeGreaterThan(0));
  g.cases.forEach((c: any, i: number) => {
    const [h, w] = c.image.shape as [number, number, number];
    it(`case ${i}: ${h}x${w} -> ${c.expected_shape[0]}x${c.expected_shape[1]} (long side ${c.target_length})`, () => {
      const [oh, ow] = getPreprocessShape(h, w, c.target_length);
      expect([oh, ow, 3]).toEqual(c.expected_shape);
      const img = decodeU8(c.image);
      const out = resizeBilinearPil(img, h, w, oh, ow);
      const exp = decodeU8(c.expected);
      expect(out.length).toBe(exp.length);
      let diff = 0;
      for (let j = 0; j < exp.length; j++) if (out[j] !== exp[j]) diff++;
      expect(diff, 'differing bytes').toBe(0);
      if (c.image_nested) {
        // The nested copies are the same bytes (sanity check of the encoding).
        expect((c.image_nested as number[][][]).flat(2)).toEqual(Array.from(img));
        expect((c.expected_nested as number[][][]).flat(2)).toEqual(Array.from(exp));
      }
    });
  });
}

function checkPreprocess(g: GoldenFile): void {
  const p = g.preprocess as any;
  it('constants', () => {
    expect([...SAM1_PIXEL_MEAN]).toEqual(p.pixel_mean);
    expect([...SAM1_PIXEL_STD]).toEqual(p.pixel_std);
    expect(SAM1_PIXEL_MEAN.map(Math.fround)).toEqual(p.pixel_mean_float32);
    expect(SAM1_PIXEL_STD.map(Math.fround)).toEqual(p.pixel_std_float32);
    expect([...SAM2_PIXEL_MEAN]).toEqual(p.sam2_mean);
    expect([...SAM2_PIXEL_STD]).toEqual(p.sam2_std);
  });
  it('normalisation LUT equals all_u8_normalized_float32 exactly', () => {
    const lut = normalizationLut(SAM1_PIXEL_MEAN, SAM1_PIXEL_STD);
    const table = p.all_u8_normalized_float32 as number[][];
    for (let c = 0; c < 3; c++) expect(Array.from(lut.subarray(c * 256, c * 256 + 256))).toEqual(table[c]);
  });
  it(`example padded to ${p.example_pad_to}`, () => {
    const [h, w] = p.example_input.shape as [number, number, number];
    const rgb = decodeU8(p.example_input);
    const S = p.example_pad_to as number;
    const out = normalizePadChw(rgb, h, w, S, SAM1_PIXEL_MEAN, SAM1_PIXEL_STD);
    expect(out.length).toBe(3 * S * S);
    for (const s of p.example_padded_samples as { row: number; col: number; values_chw: number[] }[]) {
      expect([0, 1, 2].map((c) => out[c * S * S + s.row * S + s.col])).toEqual(s.values_chw);
    }
    // Every pixel: table lookup inside, exact 0 in the padding.
    const table = p.all_u8_normalized_float32 as number[][];
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          const want = y < h && x < w ? table[c]![rgb[(y * w + x) * 3 + c]!] : 0;
          if (out[c * S * S + y * S + x] !== want) expect.fail(`c${c} (${y},${x}): ${out[c * S * S + y * S + x]} != ${want}`);
        }
      }
    }
  });
}

for (const [src, g] of goldenVariants('image_preprocess.json')) {
  describe(`image_preprocess.json (${src})`, () => {
    describe('resize (PIL BILINEAR)', () => checkResize(g));
    describe('preprocess', () => checkPreprocess(g));
  });
}

describe('resizeBilinearPil properties', () => {
  const img = Uint8Array.from({ length: 37 * 53 * 3 }, (_, i) => (i * 7919) % 256);
  it('same size is a copy', () => {
    const out = resizeBilinearPil(img, 37, 53, 37, 53);
    expect(Array.from(out)).toEqual(Array.from(img));
    expect(out).not.toBe(img);
  });
  it('a constant image stays constant (weights sum to one), any size', () => {
    const flat = new Uint8Array(19 * 23 * 3).fill(200);
    for (const [oh, ow] of [[1, 1], [7, 50], [64, 3], [19, 11], [40, 23]] as const) {
      expect(resizeBilinearPil(flat, 19, 23, oh, ow).every((v) => v === 200)).toBe(true);
    }
  });
  it('one-channel and four-channel images', () => {
    const g1 = Uint8Array.from({ length: 10 * 10 }, (_, i) => i);
    expect(resizeBilinearPil(g1, 10, 10, 5, 5, 1).length).toBe(25);
    const g4 = Uint8Array.from({ length: 10 * 10 * 4 }, (_, i) => i % 256);
    expect(resizeBilinearPil(g4, 10, 10, 3, 7, 4).length).toBe(3 * 7 * 4);
  });
  it('empty target gives an empty image', () => {
    expect(resizeBilinearPil(img, 37, 53, 0, 10).length).toBe(0);
  });
});

describe('preprocess helpers', () => {
  it('toFloatHwc keeps the bytes as 0..255 floats', () => {
    const rgb = Uint8Array.from([0, 1, 127, 255]);
    expect(Array.from(toFloatHwc(rgb))).toEqual([0, 1, 127, 255]);
  });
  it('SAM 2 scale 1/255 divides by 255 like ToTensor', () => {
    const lut = normalizationLut(SAM2_PIXEL_MEAN, SAM2_PIXEL_STD, 1 / 255);
    const f = Math.fround;
    for (const v of [0, 1, 51, 128, 255]) {
      expect(lut[v]).toBe(f(f(f(v / 255) - f(0.485)) / f(0.229)));
    }
  });
  it('rejects images larger than the pad size', () => {
    expect(() => normalizePadChw(new Uint8Array(3 * 40 * 10), 40, 10, 32, SAM1_PIXEL_MEAN, SAM1_PIXEL_STD)).toThrow();
  });
});
