/**
 * Model name → local file paths: looks the model up in the registry, downloads the files of the chosen
 * precision that are not in the cache yet (or explains what to do when offline), and verifies them.
 *
 * Cache layout: `<cacheRoot>/models/<model>/<precision>/<path>`; external-data sidecars sit beside their `.onnx`
 * under their original names, because onnxruntime opens them by the name recorded in the graph.
 */
import { statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { cacheRoot } from '../model/cache-dir.js';
import { downloadFile, sha256File, type ProgressCallback } from './download.js';
import { getPin, pinsPath, readPins, recordPin, type Pin } from './pins.js';
import {
  checkRelativePath, findModel, packagedRegistry, selectPrecision,
  type Contract, type Family, type FileRole, type Registry, type RegistryFile, type RegistryModel,
} from './registry.js';

/** Options of {@link resolveModel} and {@link planVariant}. */
export interface ResolveOptions {
  /** Variant to use (`fp32`, `fp16`, `quantized`/`q8`, ...); default: the model's default precision. */
  precision?: string;
  /** Never connect; default: `SAM_AMG_OFFLINE=1` in `env`. */
  offline?: boolean;
  /** Cache root; default {@link cacheRoot}(env). */
  cacheDir?: string;
  onProgress?: ProgressCallback;
  /** Idle timeout per request in ms; default `$SAM_AMG_TIMEOUT_MS` or 30 s. */
  timeoutMs?: number;
  /** Registry to use; default the packaged `models/registry.json`. */
  registry?: Registry;
  /** Environment (proxy, offline, cache and timeout settings); default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Re-hash files that are already cached (otherwise only their size is checked). */
  verify?: boolean;
  /** Extra download attempts per file (default 3). */
  retries?: number;
  /** First retry backoff in ms (default 1000). */
  retryDelayMs?: number;
  /** Extra trusted CA certificates (PEM). */
  ca?: string | Buffer | (string | Buffer)[];
}

/** Who vouches for a file's content. */
export type Trust = 'registry' | 'first-use' | 'none';

/** One file of a variant as it stands in the cache (no network involved). */
export interface PlannedFile {
  entry: RegistryFile;
  /** Absolute path in the cache. */
  path: string;
  /** Path relative to the cache root (`models/<model>/<precision>/<path>`). */
  cachePath: string;
  exists: boolean;
  /** Size on disk when it exists. */
  cachedSize: number | null;
  pin: Pin | undefined;
  /** Registry hash, else the first-use pin, else null. */
  expectedSha256: string | null;
  expectedSize: number | null;
  trust: Trust;
}

/** A model variant mapped onto the cache. */
export interface VariantPlan {
  model: RegistryModel;
  precision: string;
  cacheDir: string;
  /** `<cache>/models/<model>/<precision>`. */
  dir: string;
  files: PlannedFile[];
}

/** A file of a resolved model. */
export interface ResolvedFile {
  role: FileRole;
  path: string;
  url: string;
  size: number;
  /** Known hash (registry, pin, or computed this run); null when the file was cached before and not re-hashed. */
  sha256: string | null;
  trust: Trust;
}

/** What a caller needs to run a registry model. */
export interface ResolvedModel {
  name: string;
  contract: Contract;
  family: Family;
  precision: string;
  /** Absolute path of the encoder `.onnx`. */
  encoder: string;
  /** Absolute path of the decoder `.onnx`. */
  decoder: string;
  /** Absolute path of `preprocessor_config.json`, for models that have one. */
  preprocessorConfig?: string;
  /** Recommended AMG settings (camelCase `AmgOptions` keys); explicit user flags should win over them. */
  recommended: Record<string, number | boolean>;
  license: string;
  /** Folder holding the files. */
  dir: string;
  files: ResolvedFile[];
}

/** Whether offline mode is on: the explicit option, else `SAM_AMG_OFFLINE` set to 1/true/yes. */
export function isOffline(env: NodeJS.ProcessEnv = process.env, explicit?: boolean): boolean {
  if (explicit !== undefined) return explicit;
  return /^(1|true|yes|on)$/i.test(env.SAM_AMG_OFFLINE ?? '');
}

/** `<cacheDir>/models/<model>/<precision>`. */
export function variantDir(cacheDir: string, model: string, precision: string): string {
  return join(cacheDir, 'models', checkRelativePath(model), checkRelativePath(precision));
}

/** Joins a registry path under `dir`, refusing anything that would land outside it. */
function safeJoin(dir: string, rel: string): string {
  const full = resolve(dir, checkRelativePath(rel));
  if (!full.startsWith(resolve(dir) + sep)) throw new Error(`registry path '${rel}' escapes the cache folder ${dir}`);
  return full;
}

function sizeOf(path: string): number | null {
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

/** Maps a model variant onto the cache without touching the network: which files exist, what they must be. */
export function planVariant(name: string, opts: ResolveOptions = {}): VariantPlan {
  const env = opts.env ?? process.env;
  const registry = opts.registry ?? packagedRegistry();
  const model = findModel(registry, name);
  const precision = selectPrecision(model, opts.precision);
  const cacheDir = resolve(opts.cacheDir ?? cacheRoot(env));
  const dir = variantDir(cacheDir, model.name, precision);
  const pins = readPins(cacheDir);
  const files = model.variants[precision]!.files.map((entry): PlannedFile => {
    const path = safeJoin(dir, entry.path);
    const cachedSize = sizeOf(path);
    const pin = pins[entry.url];
    const trust: Trust = entry.sha256 ? 'registry' : pin ? 'first-use' : 'none';
    return {
      entry, path, cachePath: relative(cacheDir, path).split(sep).join('/'),
      exists: cachedSize !== null, cachedSize, pin,
      expectedSha256: entry.sha256 ?? pin?.sha256 ?? null,
      expectedSize: entry.size ?? pin?.size ?? null,
      trust,
    };
  });
  return { model, precision, cacheDir, dir, files };
}

/**
 * The error for files missing in offline mode: one line naming each missing file, where it must go, where it
 * comes from, and how to supply it.
 */
export function offlineMissingError(plan: VariantPlan, missing: PlannedFile[]): Error {
  const list = missing.map((f) => `${f.entry.role} ${f.entry.path} (expected at ${f.path}; download from ${f.entry.url})`).join('; ');
  return new Error(
    `offline mode: model '${plan.model.name}' (${plan.precision}) is missing ${missing.length} file(s) in the cache: ${list}. ` +
      `Copy each file to its expected path, or run 'sam-amg models pull ${plan.model.name}' while online, ` +
      `or pass --encoder/--decoder paths instead of a registry model`,
  );
}

function describeSource(f: PlannedFile, cacheDir: string): string {
  return f.trust === 'registry' ? 'the registry' : `the first-use pin in ${pinsPath(cacheDir)}`;
}

/**
 * Checks a file already in the cache: size always, sha256 when `verify`. Returns the hash when computed (else the
 * expected one, or null), or `'stale'` when the file does not match what the registry or its pin says.
 */
async function checkCached(f: PlannedFile, plan: VariantPlan, verify: boolean): Promise<string | null | 'stale'> {
  if (f.expectedSize !== null && f.cachedSize !== f.expectedSize) return 'stale';
  if (!verify) return f.expectedSha256;
  const got = await sha256File(f.path);
  if (f.expectedSha256 && got.sha256 !== f.expectedSha256) return 'stale';
  if (!f.expectedSha256) pinFirstUse(plan, f, got);
  return got.sha256;
}

function pinFirstUse(plan: VariantPlan, f: PlannedFile, got: { sha256: string; size: number }): void {
  f.pin = { sha256: got.sha256, size: got.size, file: f.cachePath, pinnedAt: new Date().toISOString() };
  f.trust = 'first-use';
  recordPin(plan.cacheDir, f.entry.url, f.pin);
}

/**
 * Makes every file of `name`'s chosen variant present and verified in the cache, downloading what is missing
 * (unless offline), and returns their paths. Unknown model or precision → an error listing the valid ones.
 */
export async function resolveModel(name: string, opts: ResolveOptions = {}): Promise<ResolvedModel> {
  const env = opts.env ?? process.env;
  const offline = isOffline(env, opts.offline);
  const plan = planVariant(name, opts);
  const hashes = new Map<PlannedFile, string | null>();

  for (const f of plan.files) {
    if (!f.exists) continue;
    const checked = await checkCached(f, plan, opts.verify ?? false);
    if (checked === 'stale') {
      if (offline) {
        throw new Error(`offline mode: cached ${f.path} does not match ${describeSource(f, plan.cacheDir)}; ` +
          `replace it with a good copy from ${f.entry.url}, or pull again while online`);
      }
      await rm(f.path, { force: true }); // fetched again below
      f.exists = false;
    } else {
      hashes.set(f, checked);
    }
  }
  const missing = plan.files.filter((f) => !f.exists);
  if (offline && missing.length > 0) throw offlineMissingError(plan, missing);

  for (const f of missing) {
    const got = await downloadFile({
      url: f.entry.url,
      dest: f.path,
      expectedSize: f.expectedSize,
      expectedSha256: f.expectedSha256,
      expectedFrom: describeSource(f, plan.cacheDir),
      label: `${plan.model.name}/${f.entry.path}`,
      timeoutMs: opts.timeoutMs,
      retries: opts.retries,
      retryDelayMs: opts.retryDelayMs,
      env,
      ca: opts.ca,
      onProgress: opts.onProgress,
    });
    // Trust on first use: remember what this URL served, so a later download of different bytes is refused.
    if (!f.expectedSha256 && !getPin(plan.cacheDir, f.entry.url)) pinFirstUse(plan, f, got);
    f.exists = true;
    f.cachedSize = got.size;
    hashes.set(f, got.sha256);
  }
  return toResolved(plan, hashes);
}

function toResolved(plan: VariantPlan, hashes: Map<PlannedFile, string | null>): ResolvedModel {
  const byRole = (role: FileRole) => plan.files.find((f) => f.entry.role === role)?.path;
  const pre = byRole('preprocessor_config');
  return {
    name: plan.model.name,
    contract: plan.model.contract,
    family: plan.model.family,
    precision: plan.precision,
    encoder: byRole('encoder')!,
    decoder: byRole('decoder')!,
    ...(pre ? { preprocessorConfig: pre } : {}),
    recommended: { ...plan.model.recommended },
    license: plan.model.license,
    dir: plan.dir,
    files: plan.files.map((f) => ({
      role: f.entry.role,
      path: f.path,
      url: f.entry.url,
      size: f.cachedSize ?? 0,
      sha256: hashes.get(f) ?? null,
      trust: f.trust,
    })),
  };
}

/** Whether every file of the variant is in the cache (size not checked). */
export function isCached(plan: VariantPlan): boolean {
  return plan.files.every((f) => f.exists);
}
