/**
 * Small-region removal: SAM 1's `remove_small_regions` (`remove_small_regions.json` `cases`, OpenCV
 * 8-connectivity and label-order semantics) and SAM 2's low-res hole/sprinkle filling
 * (`sam2_differences.json`, fn `fill_holes_sprinkles_emulated`). The `postprocess_small_regions_cases` are
 * the pipeline's (see postprocess tests).
 */

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ComponentLabeler, fillHolesAndSprinkles, removeSmallRegions } from '../src/amg/regions.js';
import { decodeF32, decodeMask, type GoldenFile, goldenVariants } from './helpers/golden.js';

function checkRemoveSmallRegions(g: GoldenFile): void {
  it('has cases', () => expect(g.cases.length).toBeGreaterThan(0));
  for (const c of g.cases) {
    it(`case ${c.id}: ${c.mask.h}x${c.mask.w} ${c.mode} < ${c.area_thresh}${c.note ? ` (${c.note})` : ''}`, () => {
      const mask = decodeMask(c.mask);
      const before = mask.slice();
      const res = removeSmallRegions(mask, c.mask.h, c.mask.w, c.area_thresh, c.mode);
      expect(res.changed).toBe(c.expected_changed);
      expect(Array.from(res.mask)).toEqual(Array.from(decodeMask(c.expected_mask)));
      // The input is never modified; unchanged results are the input itself.
      expect(Array.from(mask)).toEqual(Array.from(before));
      if (!res.changed) expect(res.mask).toBe(mask);
    });
  }
}

function checkFillHoles(g: GoldenFile): void {
  const cases = g.cases.filter((c: any) => c.fn === 'fill_holes_sprinkles_emulated');
  it('has fill_holes_sprinkles_emulated cases', () => expect(cases.length).toBeGreaterThan(0));
  for (const c of cases) {
    it(`case ${c.id}: ${c.logits.shape.join('x')} holes <= ${c.max_hole_area}, sprinkles <= ${c.max_sprinkle_area}`, () => {
      const [h, w] = c.logits.shape as [number, number];
      const logits = decodeF32(c.logits);
      const before = logits.slice();
      const out = fillHolesAndSprinkles(logits, h, w, c.mask_threshold, c.max_hole_area, c.max_sprinkle_area);
      expect(Array.from(out)).toEqual(Array.from(decodeF32(c.expected_logits)));
      const thr = Math.fround(c.mask_threshold);
      expect(Array.from(out, (v) => (v > thr ? 1 : 0))).toEqual(Array.from(decodeMask(c.expected_mask_gt_thr)));
      expect(Array.from(logits)).toEqual(Array.from(before));
    });
  }
}

for (const [src, g] of goldenVariants('remove_small_regions.json')) {
  describe(`remove_small_regions.json (${src})`, () => checkRemoveSmallRegions(g));
}
for (const [src, g] of goldenVariants('sam2_differences.json')) {
  describe(`sam2_differences.json fill holes (${src})`, () => checkFillHoles(g));
}

describe('ComponentLabeler (run-based union-find)', () => {
  /** Brute-force 8-connected flood fill, for comparison. */
  function flood(mask: Uint8Array, h: number, w: number, fg: boolean): Int32Array {
    const lab = new Int32Array(h * w);
    let n = 0;
    for (let s = 0; s < h * w; s++) {
      if ((mask[s] !== 0) !== fg || lab[s] !== 0) continue;
      n++;
      const stack = [s];
      lab[s] = n;
      while (stack.length) {
        const i = stack.pop()!;
        const y = Math.floor(i / w);
        const x = i % w;
        for (let dy = -1; dy <= 1; dy++) {
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
            const j = yy * w + xx;
            if ((mask[j] !== 0) === fg && lab[j] === 0) {
              lab[j] = n;
              stack.push(j);
            }
          }
        }
      }
    }
    return lab;
  }

  it('matches a flood fill on random masks (same partition, areas, first 2x2 block)', () => {
    let seed = 7;
    const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
    const labeler = new ComponentLabeler();
    for (let t = 0; t < 60; t++) {
      const h = 1 + Math.floor(rnd() * 40);
      const w = 1 + Math.floor(rnd() * 40);
      const p = rnd();
      const mask = Uint8Array.from({ length: h * w }, () => (rnd() < p ? 1 : 0));
      for (const fg of [true, false]) {
        const ref = flood(mask, h, w, fg);
        const n = labeler.label(mask, h, w, fg);
        expect(n).toBe(Math.max(0, ...ref));
        const labels = labeler.labelImage();
        // Same partition: a bijection between labels.
        const map = new Map<number, number>();
        const area = new Map<number, number>();
        const first = new Map<number, number>();
        for (let i = 0; i < h * w; i++) {
          const a = ref[i]!;
          const b = labels[i]!;
          expect(a === 0).toBe(b === 0);
          if (a === 0) continue;
          if (!map.has(a)) map.set(a, b);
          expect(map.get(a)).toBe(b);
          area.set(b, (area.get(b) ?? 0) + 1);
          const key = (Math.floor(i / w) >> 1) * ((w + 1) >> 1) + ((i % w) >> 1);
          first.set(b, Math.min(first.get(b) ?? Infinity, key));
        }
        expect(new Set(map.values()).size).toBe(map.size);
        for (const [b, a] of area) {
          expect(labeler.area[b]).toBe(a);
          expect(labeler.firstBlock[b]).toBe(first.get(b));
        }
      }
    }
  });
});
