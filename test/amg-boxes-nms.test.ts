/**
 * Golden tests for mask boxes, the crop-edge filter and NMS (`mask_to_box.json`,
 * `near_crop_edge.json`, `nms.json`), plus property tests of NMS against a brute-force implementation.
 *
 * Every golden file is checked from the full shared set when present, and additionally from the
 * committed subset under test/golden/, so that the subset is known to pass too.
 */

import { describe, expect, it } from 'vitest';
import { boxXyxyToXywh, isBoxNearCropEdge, maskToBox } from '../src/amg/boxes.js';
import { cropBoxArea } from '../src/amg/crops.js';
import { nms } from '../src/amg/nms.js';
import { maskToRle, rleToBboxXywh } from '../src/amg/rle.js';
import type { BoxXYXY } from '../src/amg/types.js';
import { decodeMask, goldenSource, num, type GoldenFile, goldenVariants, rng } from './helpers/golden.js';

/** Flatten nested expected boxes (`leading dims + [4]`) to a list of boxes. */
function flattenBoxes(v: unknown): BoxXYXY[] {
  if (Array.isArray(v) && v.length === 4 && v.every((x) => typeof x === 'number')) return [v as BoxXYXY];
  if (Array.isArray(v)) return v.flatMap(flattenBoxes);
  throw new Error('bad expected_boxes');
}

function checkMaskToBox(g: GoldenFile): void {
  it.each(g.cases.map((c) => [c.id, c] as const))('case %i', (_id, c) => {
    const shape = c.input_shape as number[];
    const h = shape[shape.length - 2]!;
    const w = shape[shape.length - 1]!;
    const nLeading = shape.slice(0, -2).reduce((a, b) => a * b, 1);
    const expected = shape.length === 2 ? [c.expected_boxes as BoxXYXY] : flattenBoxes(c.expected_boxes);
    expect(expected.length).toBe(nLeading);
    // Zero-element inputs list no masks; each leading index is then an empty h x w (with h*w = 0) mask.
    const masks: Uint8Array[] =
      c.masks.length === 0 ? Array.from({ length: nLeading }, () => new Uint8Array(h * w)) : c.masks.map(decodeMask);
    expect(masks.length).toBe(nLeading);
    masks.forEach((m, k) => {
      const box = maskToBox(m, h, w);
      expect(box).toEqual(expected[k]);
      // pycocotools toBbox is the exact pixel extent: the inclusive box + 1 (zeros when empty).
      const empty = !m.some((v) => v !== 0);
      const xywh = rleToBboxXywh(maskToRle(m, h, w));
      expect(xywh).toEqual(empty ? [0, 0, 0, 0] : [box[0], box[1], box[2] - box[0] + 1, box[3] - box[1] + 1]);
    });
  });
}

function checkNearCropEdge(g: GoldenFile): void {
  it.each(g.cases.map((c) => [c.id, c] as const))('case %i', (_id, c) => {
    const got = (c.boxes as BoxXYXY[]).map((b) => isBoxNearCropEdge(b, c.crop_box, c.orig_box, c.atol));
    expect(got).toEqual(c.expected_near_crop_edge);
  });
}

/**
 * Straightforward torchvision `nms` (the <= 1000-box path): stable sort via Array.sort, then every
 * kept box suppresses every later box with float32 IoU > thr (dead or not: the result is the same).
 */
function bruteNms(boxes: Float32Array, scores: Float32Array, thr: number): number[] {
  const n = scores.length;
  const f = Math.fround;
  const iou = (i: number, j: number): number => {
    const a = boxes.subarray(4 * i, 4 * i + 4);
    const b = boxes.subarray(4 * j, 4 * j + 4);
    const areaA = f(f(a[2]! - a[0]!) * f(a[3]! - a[1]!));
    const areaB = f(f(b[2]! - b[0]!) * f(b[3]! - b[1]!));
    const w = Math.max(0, f(Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!)));
    const h = Math.max(0, f(Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!)));
    const inter = f(w * h);
    return f(inter / f(f(areaA + areaB) - inter));
  };
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!); // stable
  const keep: number[] = [];
  const dead = new Set<number>();
  order.forEach((i, oi) => {
    if (dead.has(i)) return;
    keep.push(i);
    for (const j of order.slice(oi + 1)) if (iou(i, j) > thr) dead.add(j);
  });
  return keep;
}

function checkNms(g: GoldenFile): void {
  it.each(g.cases.map((c) => [c.id, c.note ?? '', c] as const))('case %i: %s', (_id, _note, c) => {
    const boxes = Float32Array.from((c.boxes as number[][]).flat());
    const scores = Float32Array.from((c.scores as (number | string)[]).map(num));
    // Inputs were float32 in the reference: no rounding happens when loading them.
    expect(Array.from(boxes)).toEqual((c.boxes as number[][]).flat());
    const keep = nms(boxes, scores, c.iou_threshold);
    expect(Array.from(keep)).toEqual(c.expected_keep);
    if (c.float32_iou !== undefined) {
      // The brute-force IoU reproduces the reference's float32 IoU of the pair.
      expect(bruteNms(boxes, scores, c.iou_threshold)).toEqual(c.expected_keep);
      const f = Math.fround;
      const [a, b] = c.boxes as number[][];
      const inter = f(f(Math.min(a![2]!, b![2]!) - Math.max(a![0]!, b![0]!)) * f(Math.min(a![3]!, b![3]!) - Math.max(a![1]!, b![1]!)));
      const areaA = f(f(a![2]! - a![0]!) * f(a![3]! - a![1]!));
      const areaB = f(f(b![2]! - b![0]!) * f(b![3]! - b![1]!));
      expect(f(inter / f(f(areaA + areaB) - inter))).toBe(c.float32_iou);
    }
    if (c.crop_boxes !== undefined) {
      // AMG cross-crop NMS scores: float32(1 / area of the crop box).
      const s = (c.crop_boxes as BoxXYXY[]).map((cb) => Math.fround(1 / cropBoxArea(cb)));
      expect(s).toEqual(Array.from(scores));
    }
  });
}

for (const [src, g] of goldenVariants('mask_to_box.json')) describe(`mask_to_box.json (${src})`, () => checkMaskToBox(g));
for (const [src, g] of goldenVariants('near_crop_edge.json'))
  describe(`near_crop_edge.json (${src})`, () => checkNearCropEdge(g));
for (const [src, g] of goldenVariants('nms.json')) describe(`nms.json (${src})`, () => checkNms(g));

describe('golden files are present', () => {
  it.each(['mask_to_box.json', 'near_crop_edge.json', 'nms.json'])('%s', (name) => {
    expect(goldenSource(name)).not.toBeNull();
  });
});

describe('boxes properties', () => {
  it('maskToBox equals the min/max of set pixel coordinates on random masks', () => {
    const r = rng(1);
    for (let t = 0; t < 300; t++) {
      const h = 1 + Math.floor(r() * 20);
      const w = 1 + Math.floor(r() * 20);
      const density = r() < 0.2 ? 0.01 : r() * 0.5;
      const m = new Uint8Array(h * w);
      for (let i = 0; i < m.length; i++) m[i] = r() < density ? 1 : 0;
      let [x0, y0, x1, y1] = [Infinity, Infinity, -1, -1];
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          if (m[y * w + x]) {
            x0 = Math.min(x0, x);
            y0 = Math.min(y0, y);
            x1 = Math.max(x1, x);
            y1 = Math.max(y1, y);
          }
      expect(maskToBox(m, h, w)).toEqual(x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1, y1]);
    }
  });

  it('boxXyxyToXywh uses the reference width x1 - x0 (one less than the pixel extent)', () => {
    expect(boxXyxyToXywh([3, 4, 3, 4])).toEqual([3, 4, 0, 0]);
    expect(boxXyxyToXywh([10, 20, 29, 59])).toEqual([10, 20, 19, 39]);
  });

  it('isBoxNearCropEdge: inclusive tolerance, crop-local box, image edges excluded', () => {
    const crop: BoxXYXY = [100, 100, 300, 300];
    const img: BoxXYXY = [0, 0, 1000, 1000];
    expect(isBoxNearCropEdge([20, 50, 60, 60], crop, img)).toBe(true); // x0 at distance 20
    expect(isBoxNearCropEdge([21, 50, 60, 60], crop, img)).toBe(false);
    expect(isBoxNearCropEdge([50, 50, 180, 60], crop, img)).toBe(true); // x1 = 280, crop x1 = 300: 20
    expect(isBoxNearCropEdge([50, 50, 179, 60], crop, img)).toBe(false); // 21
    expect(isBoxNearCropEdge([0, 0, 199, 199], [0, 0, 200, 200], [0, 0, 200, 200])).toBe(false);
    expect(isBoxNearCropEdge([0, 0, 10, 10], [0, 0, 500, 500], img)).toBe(false); // image corner
  });
});

describe('nms properties', () => {
  it('matches a brute-force implementation on random boxes (ties, duplicates, zero areas)', () => {
    const r = rng(7);
    for (let t = 0; t < 200; t++) {
      const n = Math.floor(r() * 60);
      const boxes = new Float32Array(4 * n);
      const scores = new Float32Array(n);
      const integer = r() < 0.5;
      for (let i = 0; i < n; i++) {
        if (i > 0 && r() < 0.1) {
          // exact duplicate of an earlier box
          const k = Math.floor(r() * i);
          boxes.copyWithin(4 * i, 4 * k, 4 * k + 4);
        } else {
          const q = (v: number): number => (integer ? Math.floor(v) : v);
          const x0 = q(r() * 50);
          const y0 = q(r() * 50);
          const zero = r() < 0.1;
          boxes[4 * i] = x0;
          boxes[4 * i + 1] = y0;
          boxes[4 * i + 2] = zero ? x0 : x0 + q(r() * 30);
          boxes[4 * i + 3] = y0 + q(r() * 30);
        }
        scores[i] = r() < 0.3 ? 0.5 : r();
      }
      const thr = [0, 0.3, 0.5, 0.7, 1, -0.1][Math.floor(r() * 6)]!; // -0.1: disjoint boxes suppress too
      expect(Array.from(nms(boxes, scores, thr))).toEqual(bruteNms(boxes, scores, thr));
    }
  });

  it('above 1000 boxes only the order of tied scores changes (vanilla batched_nms path)', () => {
    const r = rng(11);
    for (const n of [1001, 1500]) {
      const boxes = new Float32Array(4 * n);
      const scores = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const x = Math.floor(r() * 400);
        const y = Math.floor(r() * 400);
        boxes.set([x, y, x + 1 + Math.floor(r() * 60), y + 1 + Math.floor(r() * 60)], 4 * i);
        scores[i] = Math.floor(r() * 8) / 8; // many ties
      }
      const keep = Array.from(nms(boxes, scores, 0.5));
      const stable = bruteNms(boxes, scores, 0.5);
      // Same kept set, same (non-increasing) score sequence, but not the stable tie order.
      expect([...keep].sort((a, b) => a - b)).toEqual([...stable].sort((a, b) => a - b));
      expect(keep.map((i) => scores[i])).toEqual(stable.map((i) => scores[i]));
      expect(keep).not.toEqual(stable);
    }
  });

  it('1000 boxes still use the stable order; 1001 do not', () => {
    for (const n of [1000, 1001]) {
      // Disjoint boxes, one shared score: nothing is suppressed, only the order of ties shows.
      const boxes = new Float32Array(4 * n);
      for (let i = 0; i < n; i++) boxes.set([10 * i, 0, 10 * i + 5, 5], 4 * i);
      const keep = Array.from(nms(boxes, new Float32Array(n).fill(0.5), 0.7));
      const identity = Array.from({ length: n }, (_, i) => i);
      expect([...keep].sort((a, b) => a - b)).toEqual(identity);
      if (n === 1000) expect(keep).toEqual(identity);
      else expect(keep).not.toEqual(identity);
    }
  });

  it('NaN scores sort first (torch descending sort), then by index', () => {
    const boxes = Float32Array.from([0, 0, 10, 10, 50, 50, 60, 60, 0, 0, 10, 10]);
    const scores = Float32Array.from([0.9, Number.NaN, Number.NaN]);
    expect(Array.from(nms(boxes, scores, 0.5))).toEqual([1, 2]);
  });

  it('rejects mismatched lengths', () => {
    expect(() => nms(new Float32Array(7), new Float32Array(2), 0.5)).toThrow(RangeError);
  });

  it('is fast for 4000 boxes', () => {
    const r = rng(3);
    const n = 4000;
    const boxes = new Float32Array(4 * n);
    const scores = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const x = r() * 2000;
      const y = r() * 2000;
      boxes.set([x, y, x + 5 + r() * 300, y + 5 + r() * 300], 4 * i);
      scores[i] = r();
    }
    const t0 = performance.now();
    const keep = nms(boxes, scores, 0.7);
    const ms = performance.now() - t0;
    expect(keep.length).toBeGreaterThan(0);
    expect(ms).toBeLessThan(2000);
  });
});
