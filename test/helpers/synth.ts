/**
 * Synthetic test scenes: flat-coloured shapes on a background, with their exact masks, and small
 * independent helpers to check COCO output (a COCO-string decoder written separately from src/amg/rle.ts,
 * so a bug there cannot hide itself).
 */
import sharp from 'sharp';

export type Rgb = [number, number, number];

export type Shape =
  | { name: string; colour: Rgb; kind: 'rect'; x0: number; y0: number; x1: number; y1: number }
  /** A disk made of `block`×`block` cells: a cell is inside when its centre is within `r` of (cx, cy). */
  | { name: string; colour: Rgb; kind: 'disk'; cx: number; cy: number; r: number; block: number };

export interface Scene {
  width: number;
  height: number;
  rgb: Uint8Array;
  /** Row-major 0/1 mask of each shape as drawn (later shapes cover earlier ones), plus `background`. */
  masks: Map<string, Uint8Array>;
}

function inside(s: Shape, x: number, y: number): boolean {
  if (s.kind === 'rect') return x >= s.x0 && x < s.x1 && y >= s.y0 && y < s.y1;
  const cx = Math.floor(x / s.block) * s.block + s.block / 2;
  const cy = Math.floor(y / s.block) * s.block + s.block / 2;
  return (cx - s.cx) ** 2 + (cy - s.cy) ** 2 <= s.r * s.r;
}

export function drawScene(width: number, height: number, background: Rgb, shapes: Shape[]): Scene {
  const rgb = new Uint8Array(width * height * 3);
  const owner = new Int32Array(width * height).fill(-1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let c = background;
      for (let k = 0; k < shapes.length; k++) {
        if (inside(shapes[k]!, x, y)) {
          c = shapes[k]!.colour;
          owner[y * width + x] = k;
        }
      }
      rgb.set(c, (y * width + x) * 3);
    }
  }
  const masks = new Map<string, Uint8Array>();
  shapes.forEach((s, k) => masks.set(s.name, Uint8Array.from(owner, (o) => (o === k ? 1 : 0))));
  masks.set('background', Uint8Array.from(owner, (o) => (o === -1 ? 1 : 0)));
  return { width, height, rgb, masks };
}

export async function writePng(path: string, scene: { rgb: Uint8Array; width: number; height: number }): Promise<void> {
  await sharp(scene.rgb, { raw: { width: scene.width, height: scene.height, channels: 3 } }).png().toFile(path);
}

/** COCO compressed RLE string → row-major 0/1 mask (independent of src/amg/rle.ts). */
export function decodeCocoCounts(s: string, h: number, w: number): Uint8Array {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = 1;
    while (more) {
      const c = s.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = c & 0x20;
      p++;
      k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2]!;
    counts.push(x);
  }
  const mask = new Uint8Array(h * w);
  let idx = 0;
  let v = 0;
  for (const c of counts) {
    for (let i = 0; i < c; i++, idx++) if (v) mask[(idx % h) * w + Math.floor(idx / h)] = 1;
    v ^= 1;
  }
  if (idx !== h * w) throw new Error(`RLE covers ${idx} pixels, expected ${h * w}`);
  return mask;
}

export function maskIou(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    inter += a[i]! & b[i]!;
    union += a[i]! | b[i]!;
  }
  return union === 0 ? 0 : inter / union;
}

export function maskArea(m: Uint8Array): number {
  let n = 0;
  for (const v of m) n += v;
  return n;
}

/** COCO bbox `[x, y, w, h]` of the pixel extent; `[0,0,0,0]` when empty. */
export function maskExtentXywh(m: Uint8Array, h: number, w: number): [number, number, number, number] {
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (m[y * w + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? [0, 0, 0, 0] : [x0, y0, x1 - x0 + 1, y1 - y0 + 1];
}
