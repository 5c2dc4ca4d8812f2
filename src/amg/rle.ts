/**
 * COCO run-length encoding, byte-identical to `pycocotools` (`maskApi.c`) and to the reference's
 * `mask_to_rle_pytorch` / `rle_to_mask` / `area_from_rle` / `coco_encode_rle`.
 *
 * Uncompressed RLE: runs over the mask flattened in COLUMN-major order (column 0 top to bottom, then
 * column 1, …), alternating 0-runs and 1-runs, starting with a 0-run (0 when pixel (0, 0) is set).
 * Counts are uint32, as in pycocotools. In-memory masks elsewhere are row-major, so the functions
 * here transpose on the fly.
 */
import type { Rle } from './types.js';

/** Largest `h * w` a uint32 run can describe. */
const MAX_PIXELS = 0xffffffff;

const ASCII = new TextDecoder('latin1');

function checkSize(h: number, w: number, who: string): void {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 0 || w < 0 || h * w > MAX_PIXELS) {
    throw new RangeError(`${who}: invalid mask size ${h}x${w} (non-negative integers, h*w < 2^32)`);
  }
}

/**
 * Streaming builder of an uncompressed RLE: pixels are pushed in column-major order, in runs or one
 * at a time, and merged into the current run. Reusable: `finish()` returns a tight copy and `reset()`
 * starts a new mask of the same size without reallocating the growable internal buffer.
 *
 * Like pycocotools' encoder, the counts always start with a 0-run (0 when the first pixel is set) and
 * always end with the last run, so a `0 x 0` mask encodes as `[0]`.
 */
export class RleEncoder {
  readonly h: number;
  readonly w: number;
  private buf: Uint32Array;
  /** Completed runs in `buf`. */
  private nRuns = 0;
  /** Value of the run being built (0 at the start: the first run is a 0-run, possibly empty). */
  private cur: 0 | 1 = 0;
  /** Length of the run being built. */
  private run = 0;

  /**
   * @param h - mask height.
   * @param w - mask width (`h * w` must fit in uint32).
   */
  constructor(h: number, w: number) {
    checkSize(h, w, 'RleEncoder');
    this.h = h;
    this.w = w;
    this.buf = new Uint32Array(64);
  }

  /** Forget everything pushed so far (keeps the internal buffer). */
  reset(): void {
    this.nRuns = 0;
    this.cur = 0;
    this.run = 0;
  }

  /**
   * Append `count` pixels of `value` (column-major order). `count = 0` is a no-op, so empty runs are
   * never created except the leading 0-run.
   */
  push(value: 0 | 1, count: number): void {
    if (count === 0) return;
    if (value === this.cur) {
      this.run += count;
    } else {
      this.closeRun();
      this.cur = value;
      this.run = count;
    }
  }

  /** Append one pixel (the hot path of the fused upscale + threshold + encode loop). */
  pushBit(value: 0 | 1): void {
    if (value === this.cur) {
      this.run++;
    } else {
      this.closeRun();
      this.cur = value;
      this.run = 1;
    }
  }

  /**
   * The RLE of everything pushed since the last reset. Does not reset: call `reset()` before the
   * next mask.
   *
   * @throws Error unless exactly `h * w` pixels were pushed.
   */
  finish(): Rle {
    const n = this.nRuns;
    let total = this.run;
    for (let i = 0; i < n; i++) total += this.buf[i]!;
    if (total !== this.h * this.w) {
      throw new Error(`RleEncoder.finish: ${total} pixels pushed for a ${this.h}x${this.w} mask`);
    }
    const counts = new Uint32Array(n + 1);
    counts.set(this.buf.subarray(0, n));
    counts[n] = this.run;
    return { size: [this.h, this.w], counts };
  }

  private closeRun(): void {
    if (this.nRuns === this.buf.length) {
      const bigger = new Uint32Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.nRuns++] = this.run;
  }
}

/**
 * Uncompressed RLE of a row-major mask (the reference's `mask_to_rle_pytorch`, one mask).
 *
 * @param mask - row-major, index `y * w + x`; any non-zero byte counts as set.
 * @returns counts over the column-major order.
 */
export function maskToRle(mask: Uint8Array, h: number, w: number): Rle {
  checkSize(h, w, 'maskToRle');
  if (mask.length !== h * w) throw new RangeError(`maskToRle: mask has ${mask.length} pixels, expected ${h}x${w}`);
  // Count runs first so the counts array is allocated once, exactly.
  let nRuns = 1;
  let prev = 0;
  for (let x = 0; x < w; x++) {
    for (let i = x, end = x + h * w; i < end; i += w) {
      const v = mask[i] !== 0 ? 1 : 0;
      if (v !== prev) {
        nRuns++;
        prev = v;
      }
    }
  }
  const counts = new Uint32Array(nRuns);
  let k = 0;
  let run = 0;
  prev = 0;
  for (let x = 0; x < w; x++) {
    for (let i = x, end = x + h * w; i < end; i += w) {
      const v = mask[i] !== 0 ? 1 : 0;
      if (v !== prev) {
        counts[k++] = run;
        run = 0;
        prev = v;
      }
      run++;
    }
  }
  counts[k] = run;
  return { size: [h, w], counts };
}

/**
 * Decode an uncompressed RLE to a row-major 0/1 mask (the reference's `rle_to_mask`).
 *
 * @throws RangeError if the counts do not add up to `h * w` (the reference would leave garbage).
 */
export function rleToMask(rle: Rle): Uint8Array {
  const [h, w] = rle.size;
  checkSize(h, w, 'rleToMask');
  const counts = rle.counts;
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total !== h * w) throw new RangeError(`rleToMask: counts cover ${total} pixels, size is ${h}x${w}`);
  const out = new Uint8Array(h * w);
  // Walk column-major positions (x, y); only 1-runs write anything.
  let x = 0;
  let y = 0;
  for (let r = 0; r < counts.length; r++) {
    let c = counts[r]!;
    if ((r & 1) === 0) {
      // Skip a 0-run: advance the column-major position by c.
      const pos = x * h + y + c;
      if (h > 0) {
        x = Math.floor(pos / h);
        y = pos - x * h;
      }
      continue;
    }
    while (c > 0) {
      out[y * w + x] = 1;
      c--;
      if (++y === h) {
        y = 0;
        x++;
      }
    }
  }
  return out;
}

/** Number of set pixels: the sum of the odd-indexed (1-run) counts. */
export function rleArea(rle: Rle): number {
  const counts = rle.counts;
  let a = 0;
  for (let i = 1; i < counts.length; i += 2) a += counts[i]!;
  return a;
}

/**
 * pycocotools `toBbox`: `[x, y, w, h]` of the pixel extent, with `w = xmax - xmin + 1` (one MORE than
 * the AMG record's `bbox`, which comes from the inclusive mask box). An empty mask gives `[0, 0, 0, 0]`.
 *
 * Same per-run rule as current pycocotools' `rleToBbox`: a trailing 0-run is ignored, the first and
 * last pixel of every 1-run extend the box, and a 1-run that continues into a later column covers the
 * bottom of one column and the top of the next, hence every row. The result is the exact pixel extent.
 * (Old pycocotools releases lacked that last rule and under-reported the height of such masks; we
 * follow the fixed version, which agrees with the mask.)
 */
export function rleToBboxXywh(rle: Rle): [number, number, number, number] {
  const [h] = rle.size;
  const counts = rle.counts;
  // Only complete (0-run, 1-run) pairs matter; an odd trailing 0-run adds nothing.
  const m = counts.length - (counts.length % 2);
  let xs = Infinity;
  let ys = Infinity;
  let xe = -1;
  let ye = -1;
  let pos = 0;
  for (let j = 0; j < m; j += 2) {
    pos += counts[j]!;
    const len = counts[j + 1]!;
    // An empty 1-run (never produced by an encoder) has no pixels to add.
    if (len === 0) continue;
    const first = pos;
    const last = pos + len - 1;
    pos += len;
    const xFirst = Math.floor(first / h);
    const xLast = Math.floor(last / h);
    const yFirst = first - xFirst * h;
    const yLast = last - xLast * h;
    if (xFirst < xs) xs = xFirst;
    if (xLast > xe) xe = xLast;
    if (xLast > xFirst) {
      ys = 0;
      ye = h - 1;
    } else {
      if (yFirst < ys) ys = yFirst;
      if (yLast > ye) ye = yLast;
    }
  }
  if (xe < 0) return [0, 0, 0, 0];
  return [xs, ys, xe - xs + 1, ye - ys + 1];
}

/**
 * pycocotools `rleToString`: the compressed COCO text form of a counts list.
 *
 * Each value — `counts[i]` for `i <= 2`, `counts[i] - counts[i - 2]` for `i > 2` (index 2 itself is
 * NOT delta-coded) — is written as little-endian 5-bit groups, each group `+ 0x20` when more follow
 * and `+ 48` to be printable; the last group carries the sign in bit `0x10`. Counts are uint32 and
 * deltas are computed in 64-bit in the C code; here in exact double arithmetic (no 32-bit bitwise
 * ops), so counts >= 2^31 and negative deltas are fine.
 *
 * @param counts - uncompressed counts (integers in `[0, 2^32)`).
 */
export function rleToString(counts: Uint32Array | ArrayLike<number>): string {
  const n = counts.length;
  // A value is a difference of two uint32s: 33 bits with the sign, so at most 7 groups of 5 bits.
  const bytes = new Uint8Array(7 * n);
  let p = 0;
  for (let i = 0; i < n; i++) {
    const c = counts[i]!;
    if (!Number.isInteger(c) || c < 0 || c > MAX_PIXELS) {
      throw new RangeError(`rleToString: count ${c} at index ${i} is not a uint32`);
    }
    let x = i > 2 ? c - counts[i - 2]! : c;
    let more = true;
    while (more) {
      // `x & 0x1f` and `x >>= 5` of a two's-complement long, written with floor arithmetic.
      const q = Math.floor(x / 32);
      let g = x - q * 32;
      x = q;
      more = (g & 0x10) !== 0 ? x !== -1 : x !== 0;
      if (more) g |= 0x20;
      bytes[p++] = g + 48;
    }
  }
  // All characters are ASCII ('0'..'o').
  return ASCII.decode(bytes.subarray(0, p));
}

/**
 * pycocotools `rleFrString`: parse the compressed COCO text form back into counts.
 *
 * @throws RangeError on characters outside the alphabet (`'0'..'o'`), a value cut off in the middle,
 *   or a value longer than any uint32 delta needs.
 */
export function rleFromString(s: string, h: number, w: number): Rle {
  checkSize(h, w, 'rleFromString');
  const values: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let scale = 1; // 32^k
    let more = true;
    let k = 0;
    while (more) {
      if (p >= s.length) throw new RangeError(`rleFromString: value cut off at end of string`);
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 0x3f) throw new RangeError(`rleFromString: invalid character ${JSON.stringify(s[p])} at ${p}`);
      if (++k > 8) throw new RangeError(`rleFromString: value at ${p} has more than 8 groups`);
      x += (c & 0x1f) * scale;
      scale *= 32;
      more = (c & 0x20) !== 0;
      p++;
      // Sign extension of the last group: x |= -1 << 5k, i.e. subtract 32^k.
      if (!more && (c & 0x10) !== 0) x -= scale;
    }
    const m = values.length;
    if (m > 2) x += values[m - 2]!;
    // The C code stores into a uint: wrap modulo 2^32.
    values.push(x >>> 0);
  }
  return { size: [h, w], counts: Uint32Array.from(values) };
}

/** Same size and same counts. */
export function rleEquals(a: Rle, b: Rle): boolean {
  if (a.size[0] !== b.size[0] || a.size[1] !== b.size[1]) return false;
  const ca = a.counts;
  const cb = b.counts;
  if (ca.length !== cb.length) return false;
  for (let i = 0; i < ca.length; i++) if (ca[i] !== cb[i]) return false;
  return true;
}
