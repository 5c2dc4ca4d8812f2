import { describe, expect, it } from 'vitest';
import { postprocessSmallRegions } from '../src/amg/postprocess.js';
import { maskToRle, rleToMask } from '../src/amg/rle.js';
import { maskToBox } from '../src/amg/boxes.js';
import type { BoxXYXY } from '../src/amg/types.js';
import { decodeMask, goldenVariants } from './helpers/golden.js';

interface Case {
  id: number;
  min_area: number;
  nms_thresh: number;
  masks: { h: number; w: number; bits: string }[];
  boxes: BoxXYXY[];
  expected_keep: number[];
  expected_masks: { h: number; w: number; bits: string }[];
  expected_boxes: BoxXYXY[];
}

function checkCases(cases: Case[]) {
  for (const c of cases) {
    const rles = c.masks.map((m) => maskToRle(decodeMask(m), m.h, m.w));
    const r = postprocessSmallRegions(rles, c.boxes, c.min_area, c.nms_thresh);
    expect(Array.from(r.keep), `case ${c.id} keep`).toEqual(c.expected_keep);
    expect(r.boxes, `case ${c.id} boxes`).toEqual(c.expected_boxes);
    r.rles.forEach((rle, i) => {
      expect(Array.from(rleToMask(rle)), `case ${c.id} mask ${i}`).toEqual(Array.from(decodeMask(c.expected_masks[i]!)));
    });
  }
}

describe('postprocessSmallRegions (reference SamAutomaticMaskGenerator.postprocess_small_regions)', () => {
  for (const [source, g] of goldenVariants('remove_small_regions.json')) {
    it(`agrees with every golden case (${source})`, () => {
      const cases = g.postprocess_small_regions_cases as Case[];
      expect(cases.length).toBeGreaterThan(0);
      checkCases(cases);
    });
  }

  it('prefers an unchanged mask over a changed duplicate and re-encodes only changed masks', () => {
    const h = 20;
    const w = 20;
    const clean = new Uint8Array(h * w);
    for (let y = 2; y < 12; y++) for (let x = 2; x < 12; x++) clean[y * w + x] = 1;
    const dirty = clean.slice();
    dirty[18 * w + 18] = 1; // a 1-px island: removed at min area 4, which moves the box
    const rles = [maskToRle(dirty, h, w), maskToRle(clean, h, w)];
    const boxes = [maskToBox(dirty, h, w), maskToBox(clean, h, w)];
    const r = postprocessSmallRegions(rles, boxes, 4, 0.7);
    // The cleaned copy equals the clean mask, so NMS keeps exactly one: the unchanged one (score 1).
    expect(Array.from(r.keep)).toEqual([1]);
    expect(r.changed).toEqual([false]);
    expect(r.rles[0]).toBe(rles[1]); // untouched object, not re-encoded
  });
});
