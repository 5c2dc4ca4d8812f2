/**
 * The model registry: `models/registry.json` lists, per model, where its ONNX files live and how to check them
 * (no weights are shipped). This module loads and validates it and answers look-ups.
 *
 * A file's `sha256`/`size` may be null ("unknown"): the downloader then trusts the first complete download and
 * records it in `<cache>/pins.json` (see pins.ts). A registry hash always wins over a first-use pin.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_AMG_OPTIONS } from '../pipeline/options.js';

export const CONTRACTS = ['sx-sam1+meta-decoder', 'hf-sam', 'hf-sam2', 'sx-sam2'] as const;
export type Contract = (typeof CONTRACTS)[number];
export const FAMILIES = ['sam1', 'sam2'] as const;
export type Family = (typeof FAMILIES)[number];
export const FILE_ROLES = ['encoder', 'decoder', 'preprocessor_config', 'external_data'] as const;
export type FileRole = (typeof FILE_ROLES)[number];

/** Precision names a user may type for another one (transformers.js calls its q8 files `_quantized`). */
export const PRECISION_ALIASES: Readonly<Record<string, string>> = Object.freeze({ q8: 'quantized', fp: 'fp32' });

/** One file of a model variant. */
export interface RegistryFile {
  role: FileRole;
  /** https URL to download from (pinned revision where the host has them). */
  url: string;
  /** Relative file name in `<cache>/models/<model>/<precision>/`; external data keeps its original name. */
  path: string;
  /** Size in bytes, or null when unknown. */
  size: number | null;
  /** Lower-case hex sha256, or null when unknown (trust on first use). */
  sha256: string | null;
}

/** The files of one precision of a model. */
export interface RegistryVariant {
  files: RegistryFile[];
}

/** One model entry. */
export interface RegistryModel {
  name: string;
  description: string;
  contract: Contract;
  family: Family;
  license: string;
  /** Human-readable page of the upstream repository or release. */
  source: string;
  /** Short description of the image preprocessing the encoder expects. */
  preprocessing: string;
  /** AMG settings recommended for this model: camelCase keys of `AmgOptions`. */
  recommended: Record<string, number | boolean>;
  /** Precision used when none is asked for; defaults to `fp32`, or the first variant when there is no fp32. */
  defaultPrecision?: string;
  /** Keyed by precision: fp32, fp16, quantized (q8), int8, uint8, q4, ... */
  variants: Record<string, RegistryVariant>;
  /** Free text: what is confirmed, what is not. */
  notes?: string;
}

/** The whole manifest. */
export interface Registry {
  schemaVersion: 1;
  /** Name of the model used when the user names none. */
  default: string;
  models: RegistryModel[];
}

/** Where the packaged registry lives: `models/registry.json` beside package.json (from src/ or dist/src/). */
export function defaultRegistryPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'models', 'registry.json');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('models/registry.json not found next to the sam-amg package (is the install complete?)');
}

/** Reads and validates a registry file (default: the packaged one). Throws one line naming the problem. */
export function loadRegistry(path: string = defaultRegistryPath()): Registry {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read model registry ${path}: ${(e as Error).message}`);
  }
  return validateRegistry(data, path);
}

let cached: Registry | undefined;

/** The packaged registry, loaded once per process. */
export function packagedRegistry(): Registry {
  cached ??= loadRegistry();
  return cached;
}

const HEX64 = /^[0-9a-f]{64}$/;
const NAME = /^[a-z0-9][a-z0-9._-]*$/;
const AMG_KEYS = new Set(Object.keys(DEFAULT_AMG_OPTIONS));

/**
 * Checks that a registry-supplied relative path stays inside its folder: no absolute paths, no `..`, no
 * backslashes or drive letters (they would escape on Windows), no empty segments. Returns the path unchanged.
 */
export function checkRelativePath(p: string): string {
  const bad =
    typeof p !== 'string' || p.length === 0 || p.length > 255 || p.startsWith('/') || p.includes('\\') ||
    /^[a-zA-Z]:/.test(p) || p.includes('\0') ||
    p.split('/').some((seg) => seg === '' || seg === '.' || seg === '..');
  if (bad) throw new Error(`unsafe file path '${p}': must be a relative path without '..'`);
  return p;
}

/** The file name at the end of a URL's path, decoded. */
export function urlBaseName(url: string): string {
  return decodeURIComponent(posix.basename(new URL(url).pathname));
}

/** The Hugging Face revision in a `/resolve/<revision>/` URL, or null for other hosts. */
export function hfRevision(url: string): string | null {
  const u = new URL(url);
  if (u.hostname !== 'huggingface.co') return null;
  const m = /^\/[^/]+\/[^/]+\/resolve\/([^/]+)\//.exec(u.pathname);
  return m ? decodeURIComponent(m[1]!) : null;
}

/** Collects problems instead of stopping at the first, so a maintainer sees them all. */
class Problems {
  readonly list: string[] = [];
  check(cond: boolean, msg: string): boolean {
    if (!cond) this.list.push(msg);
    return cond;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validateFile(f: unknown, where: string, p: Problems): void {
  if (!p.check(isObject(f), `${where} is not an object`)) return;
  const file = f as Record<string, unknown>;
  p.check(FILE_ROLES.includes(file.role as FileRole), `${where}.role must be one of ${FILE_ROLES.join(', ')}`);
  let urlOk = false;
  try {
    urlOk = typeof file.url === 'string' && new URL(file.url).protocol === 'https:';
  } catch {
    /* reported below */
  }
  p.check(urlOk, `${where}.url must be an https URL`);
  try {
    checkRelativePath(file.path as string);
  } catch (e) {
    p.list.push(`${where}.path: ${(e as Error).message}`);
  }
  p.check(file.size === null || (Number.isSafeInteger(file.size) && (file.size as number) > 0),
    `${where}.size must be a positive integer or null`);
  p.check(file.sha256 === null || (typeof file.sha256 === 'string' && HEX64.test(file.sha256)),
    `${where}.sha256 must be 64 lower-case hex digits or null`);
}

function validateVariant(v: unknown, where: string, p: Problems): void {
  if (!p.check(isObject(v) && Array.isArray(v.files), `${where}.files must be an array`)) return;
  const files = (v as { files: unknown[] }).files;
  files.forEach((f, i) => validateFile(f, `${where}.files[${i}]`, p));
  const typed = files.filter(isObject) as unknown as RegistryFile[];
  for (const role of ['encoder', 'decoder'] as const) {
    p.check(typed.filter((f) => f.role === role).length === 1, `${where} needs exactly one ${role} file`);
  }
  p.check(typed.filter((f) => f.role === 'preprocessor_config').length <= 1, `${where} has more than one preprocessor_config`);
  const paths = typed.map((f) => f.path);
  p.check(new Set(paths).size === paths.length, `${where} lists the same path twice`);
  // onnxruntime finds external data by the name written inside the .onnx, relative to the .onnx's folder.
  const onnxDirs = new Set(typed.filter((f) => f.role === 'encoder' || f.role === 'decoder').map((f) => posix.dirname(String(f.path))));
  for (const f of typed.filter((x) => x.role === 'external_data')) {
    p.check(onnxDirs.has(posix.dirname(String(f.path))), `${where}: external data ${f.path} must sit in the same folder as its .onnx`);
    try {
      p.check(urlBaseName(f.url) === posix.basename(f.path),
        `${where}: external data ${f.path} must keep its original name (${urlBaseName(f.url)})`);
    } catch {
      /* bad URL already reported */
    }
  }
}

function validateModel(m: unknown, where: string, p: Problems): void {
  if (!p.check(isObject(m), `${where} is not an object`)) return;
  const model = m as Record<string, unknown>;
  p.check(typeof model.name === 'string' && NAME.test(model.name), `${where}.name must be lower-case letters, digits, '.', '_' or '-'`);
  for (const key of ['description', 'license', 'source', 'preprocessing'] as const) {
    p.check(typeof model[key] === 'string' && (model[key] as string).length > 0, `${where}.${key} must be a non-empty string`);
  }
  p.check(CONTRACTS.includes(model.contract as Contract), `${where}.contract must be one of ${CONTRACTS.join(', ')}`);
  p.check(FAMILIES.includes(model.family as Family), `${where}.family must be one of ${FAMILIES.join(', ')}`);
  if (p.check(isObject(model.recommended), `${where}.recommended must be an object`)) {
    for (const [k, v] of Object.entries(model.recommended as object)) {
      p.check(AMG_KEYS.has(k), `${where}.recommended.${k} is not a generator option (${[...AMG_KEYS].join(', ')})`);
      p.check(typeof v === 'number' || typeof v === 'boolean', `${where}.recommended.${k} must be a number or boolean`);
    }
  }
  if (!p.check(isObject(model.variants) && Object.keys(model.variants).length > 0, `${where}.variants must name at least one precision`)) return;
  for (const [prec, v] of Object.entries(model.variants as object)) {
    p.check(NAME.test(prec), `${where}.variants: bad precision name '${prec}'`);
    validateVariant(v, `${where}.variants.${prec}`, p);
  }
  if (model.defaultPrecision !== undefined) {
    p.check(typeof model.defaultPrecision === 'string' && Object.hasOwn(model.variants as object, model.defaultPrecision),
      `${where}.defaultPrecision must name one of its variants`);
  }
  p.check(model.notes === undefined || typeof model.notes === 'string', `${where}.notes must be a string`);
}

/** Validates parsed registry JSON; throws one line listing every problem found. */
export function validateRegistry(data: unknown, source = 'registry'): Registry {
  const p = new Problems();
  if (!p.check(isObject(data), 'the top level must be an object')) return fail(source, p);
  const reg = data as Record<string, unknown>;
  p.check(reg.schemaVersion === 1, `schemaVersion must be 1 (got ${JSON.stringify(reg.schemaVersion)})`);
  if (p.check(Array.isArray(reg.models) && reg.models.length > 0, 'models must be a non-empty array')) {
    const models = reg.models as unknown[];
    models.forEach((m, i) => validateModel(m, `models[${i}]${isObject(m) && typeof m.name === 'string' ? ` (${m.name})` : ''}`, p));
    const names = models.map((m) => (isObject(m) ? m.name : undefined));
    const dupes = names.filter((n, i) => names.indexOf(n) !== i);
    p.check(dupes.length === 0, `duplicate model names: ${[...new Set(dupes)].join(', ')}`);
    p.check(typeof reg.default === 'string' && names.includes(reg.default), `default must name a listed model (got ${JSON.stringify(reg.default)})`);
  }
  if (p.list.length > 0) return fail(source, p);
  return data as Registry;
}

function fail(source: string, p: Problems): never {
  const shown = p.list.slice(0, 5).join('; ');
  const more = p.list.length > 5 ? `; and ${p.list.length - 5} more` : '';
  throw new Error(`invalid model registry ${source}: ${shown}${more}`);
}

/** The model called `name`; throws listing the known names when there is none. */
export function findModel(registry: Registry, name: string): RegistryModel {
  const model = registry.models.find((m) => m.name === name);
  if (!model) {
    throw new Error(`unknown model '${name}'; known models: ${registry.models.map((m) => m.name).join(', ')} (see 'sam-amg models list')`);
  }
  return model;
}

/** The precision used for `model` when the user names none. */
export function defaultPrecision(model: RegistryModel): string {
  if (model.defaultPrecision) return model.defaultPrecision;
  return Object.hasOwn(model.variants, 'fp32') ? 'fp32' : Object.keys(model.variants)[0]!;
}

/**
 * Resolves a user-typed precision (or undefined = the model's default) to a variant key, following aliases
 * such as `q8` → `quantized`. Throws listing the model's precisions when it has no such variant.
 */
export function selectPrecision(model: RegistryModel, precision?: string): string {
  if (precision === undefined || precision === '') return defaultPrecision(model);
  const p = precision.toLowerCase();
  if (Object.hasOwn(model.variants, p)) return p;
  const alias = PRECISION_ALIASES[p];
  if (alias && Object.hasOwn(model.variants, alias)) return alias;
  throw new Error(`model '${model.name}' has no precision '${precision}'; it has: ${Object.keys(model.variants).join(', ')}`);
}

/** Sum of the known sizes of a variant's files, and whether every size is known. */
export function variantSize(variant: RegistryVariant): { bytes: number; complete: boolean } {
  let bytes = 0;
  let complete = true;
  for (const f of variant.files) {
    if (f.size === null) complete = false;
    else bytes += f.size;
  }
  return { bytes, complete };
}
