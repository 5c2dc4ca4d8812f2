/**
 * Loading of the golden vectors computed with Meta's reference code.
 *
 * The full set lives in `../shared/golden/` (beside the checkout); the project keeps a subset under
 * `test/golden/` so that `npm test` is meaningful on a fresh clone without `../shared`. Tests call
 * `loadGolden(name)` and get the full file when it exists, else the committed subset.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
export const sharedDir = join(repoRoot, '..', 'shared');
export const sharedGoldenDir = join(sharedDir, 'golden');
export const localGoldenDir = join(repoRoot, 'test', 'golden');

export interface GoldenFile<C = any> {
  family: string;
  description?: string;
  cases: C[];
  [extra: string]: unknown;
}

/** Where a golden file is read from: the full shared copy, the committed subset, or nowhere. */
export function goldenSource(name: string): 'shared' | 'local' | null {
  if (existsSync(join(sharedGoldenDir, name))) return 'shared';
  if (existsSync(join(localGoldenDir, name))) return 'local';
  return null;
}

export function loadGolden<C = any>(name: string): GoldenFile<C> {
  const src = goldenSource(name);
  if (src === null) throw new Error(`golden file ${name} is in neither ${sharedGoldenDir} nor ${localGoldenDir}`);
  const dir = src === 'shared' ? sharedGoldenDir : localGoldenDir;
  return JSON.parse(readFileSync(join(dir, name), 'utf8')) as GoldenFile<C>;
}

/** `{h, w, bits}`: row-major, 8 pixels per byte, MSB first, base64 → Uint8Array of 0/1 (row-major). */
export function decodeMask(enc: { h: number; w: number; bits: string }): Uint8Array {
  const bytes = Buffer.from(enc.bits, 'base64');
  const n = enc.h * enc.w;
  const out = new Uint8Array(n);
  for (let k = 0; k < n; k++) out[k] = (bytes[k >> 3]! >> (7 - (k & 7))) & 1;
  return out;
}

/** `{shape, f32}`: little-endian float32, C order, base64. */
export function decodeF32(enc: { shape: number[]; f32: string }): Float32Array {
  const bytes = Buffer.from(enc.f32, 'base64');
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

/** `{shape, u8}`: raw bytes, C order, base64. */
export function decodeU8(enc: { shape: number[]; u8: string }): Uint8Array {
  return new Uint8Array(Buffer.from(enc.u8, 'base64'));
}

/** JSON numbers, with the string "NaN" standing for NaN. */
export function num(v: number | string): number {
  return v === 'NaN' ? Number.NaN : (v as number);
}

/**
 * The golden file as `loadGolden` sees it, labelled with its source, plus the committed subset when the full
 * shared copy is used — so the subset a fresh clone relies on is proven to pass too.
 */
export function goldenVariants(name: string): Array<[string, GoldenFile]> {
  const src = goldenSource(name);
  if (src === null) return [];
  const out: Array<[string, GoldenFile]> = [[src, loadGolden(name)]];
  const local = join(localGoldenDir, name);
  if (src === 'shared' && existsSync(local)) out.push(['local subset', JSON.parse(readFileSync(local, 'utf8')) as GoldenFile]);
  return out;
}

/** Small deterministic PRNG (mulberry32) for property tests: uniform in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
