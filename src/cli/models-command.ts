/**
 * `sam-amg models ...`: list the registry, download (pull) a model, show its files and pins (info), print its
 * cached paths (path), print registry-ready hashes of cached files (pin), and list an ONNX file's I/O (info --io).
 *
 * Exit codes as in the rest of the CLI: 0 ok, 2 usage or fatal error; errors are one line `sam-amg: error: ...`.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { decodeModel } from '../model/onnx/proto.js';
import { formatDims, modelIo } from '../model/onnx/graph.js';
import {
  FILE_ROLES, defaultPrecision, hfRevision, packagedRegistry, type FileRole, type Registry, type RegistryFile,
  type RegistryModel,
} from '../registry/registry.js';
import { sha256File, type ProgressCallback } from '../registry/download.js';
import { pinsPath } from '../registry/pins.js';
import { isOffline, planVariant, resolveModel, type PlannedFile, type ResolveOptions, type VariantPlan } from '../registry/resolve.js';

/** Output stream as the command uses it (process.stdout/stderr, or a capture in tests). */
export interface OutStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

/** Injection points; everything defaults to the real process. */
export interface ModelsCommandContext {
  /** Registry to show and resolve against (default: the packaged models/registry.json). */
  registry?: Registry;
  /** Environment for cache dir, offline mode, proxies and timeouts (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  stdout?: OutStream;
  stderr?: OutStream;
  /** Receives the exit code of each action (default: sets `process.exitCode`, as `main` expects). */
  setExitCode?: (code: number) => void;
  /** Extra download options (e.g. `retryDelayMs`, `ca`), mostly for tests. */
  download?: Partial<ResolveOptions>;
}

const EXIT_OK = 0;
const EXIT_USAGE = 2;

/** `16.6 MB`-style sizes (decimal units, as Hugging Face shows them). */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '?';
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`;
}

/**
 * Download progress on `stream`: a cli-progress bar per file on a terminal, otherwise a plain line when a file
 * starts, at each quarter, and when it completes (keeps logs short).
 */
export function createDownloadProgress(stream: OutStream = process.stderr): { onProgress: ProgressCallback; stop(): void } {
  if (stream.isTTY) {
    let bar: cliProgress.SingleBar | undefined;
    let current = '';
    const stop = () => {
      bar?.stop();
      bar = undefined;
    };
    return {
      onProgress(file, received, total) {
        if (file !== current || !bar) {
          stop();
          current = file;
          bar = new cliProgress.SingleBar({
            stream: stream as NodeJS.WriteStream,
            format: `sam-amg ${file} {bar} {percentage}% | {got} / {all} | ETA {eta_formatted}`,
            hideCursor: true,
            clearOnComplete: false,
          }, cliProgress.Presets.shades_classic);
          bar.start(total ?? 0, received, { got: formatBytes(received), all: formatBytes(total) });
        }
        if (total !== null) bar.setTotal(total);
        bar.update(received, { got: formatBytes(received), all: formatBytes(total) });
      },
      stop,
    };
  }
  let current = '';
  let quarter = 0;
  return {
    onProgress(file, received, total) {
      if (file !== current) {
        current = file;
        quarter = total ? Math.floor((4 * received) / total) : 0;
        const resumed = received > 0 ? `, resuming at ${formatBytes(received)}` : '';
        stream.write(`sam-amg: downloading ${file} (${formatBytes(total)}${resumed})\n`);
      }
      if (!total) return;
      const q = Math.floor((4 * received) / total);
      if (q > quarter) {
        quarter = q;
        stream.write(q >= 4 ? `sam-amg: ${file}: done (${formatBytes(received)})\n` : `sam-amg: ${file}: ${q * 25}%\n`);
      }
    },
    stop() {},
  };
}

function parsePositiveInt(value: string): number {
  const v = Number(value);
  if (!Number.isSafeInteger(v) || v <= 0) throw new InvalidArgumentError(`'${value}' is not a positive integer.`);
  return v;
}

/** Shared plumbing of the actions: streams, exit code, one-line errors. */
class Io {
  readonly out: OutStream;
  readonly err: OutStream;
  readonly env: NodeJS.ProcessEnv;
  constructor(private readonly ctx: ModelsCommandContext) {
    this.out = ctx.stdout ?? process.stdout;
    this.err = ctx.stderr ?? process.stderr;
    this.env = ctx.env ?? process.env;
  }
  get registry(): Registry {
    return this.ctx.registry ?? packagedRegistry();
  }
  print(line = ''): void {
    this.out.write(`${line}\n`);
  }
  note(line: string): void {
    this.err.write(`sam-amg: ${line}\n`);
  }
  exit(code: number): void {
    (this.ctx.setExitCode ?? ((c: number) => (process.exitCode = c)))(code);
  }
  resolveOptions(extra: Partial<ResolveOptions>): ResolveOptions {
    return { env: this.env, registry: this.registry, ...this.ctx.download, ...extra };
  }
  /** Runs an action body; any thrown error becomes `sam-amg: error: <message>` and exit code 2. */
  run(body: () => Promise<void> | void): () => Promise<void> {
    return async () => {
      try {
        await body();
        this.exit(EXIT_OK);
      } catch (e) {
        this.err.write(`sam-amg: error: ${(e as Error).message}\n`);
        this.exit(EXIT_USAGE);
      }
    };
  }
}

/** Pads columns to the widest cell; the last column is left ragged. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

function cachedPrecisions(io: Io, model: RegistryModel): string[] {
  return Object.keys(model.variants).filter((p) => {
    try {
      return planVariant(model.name, io.resolveOptions({ precision: p })).files.every((f) => f.exists);
    } catch {
      return false;
    }
  });
}

function listAction(io: Io, opts: { json?: boolean }): void {
  const reg = io.registry;
  if (opts.json) {
    io.print(JSON.stringify(reg.models.map((m) => ({
      name: m.name, default: m.name === reg.default, contract: m.contract, family: m.family, license: m.license,
      precisions: Object.keys(m.variants), defaultPrecision: defaultPrecision(m), cached: cachedPrecisions(io, m),
      description: m.description,
    })), null, 2));
    return;
  }
  const rows = [['  NAME', 'CONTRACT', 'FAMILY', 'PRECISIONS', 'CACHED', 'LICENSE']];
  for (const m of reg.models) {
    const cached = cachedPrecisions(io, m);
    rows.push([`${m.name === reg.default ? '*' : ' '} ${m.name}`, m.contract, m.family, Object.keys(m.variants).join(','),
      cached.length ? cached.join(',') : '-', m.license]);
  }
  for (const line of table(rows)) io.print(line);
  io.print();
  io.print(`* default model. Details: sam-amg models info NAME; download: sam-amg models pull NAME [--precision P]`);
}

function trustText(f: PlannedFile, pinsFile: string): string {
  if (f.entry.sha256) return `pinned by registry (sha256 ${f.entry.sha256})`;
  if (f.pin) return `pinned on first use ${f.pin.pinnedAt} (sha256 ${f.pin.sha256}, ${f.pin.size} bytes, in ${pinsFile})`;
  return 'unpinned (the first download records its sha256)';
}

function infoModel(io: Io, name: string, opts: { precision?: string; json?: boolean }): void {
  const reg = io.registry;
  const first = planVariant(name, io.resolveOptions({ precision: opts.precision }));
  const model = first.model;
  const precisions = opts.precision ? [first.precision] : Object.keys(model.variants);
  const plans = precisions.map((p) => (p === first.precision ? first : planVariant(name, io.resolveOptions({ precision: p }))));
  if (opts.json) {
    io.print(JSON.stringify({
      ...model, default: model.name === reg.default, cacheDir: first.cacheDir,
      variants: Object.fromEntries(plans.map((pl) => [pl.precision, {
        dir: pl.dir,
        files: pl.files.map((f) => ({ ...f.entry, cachedPath: f.path, cached: f.exists, cachedSize: f.cachedSize,
          trust: f.trust, pin: f.pin ?? null })),
      }])),
    }, null, 2));
    return;
  }
  const revision = hfRevision(model.variants[first.precision]!.files[0]!.url);
  io.print(`${model.name}${model.name === reg.default ? ' (default model)' : ''}: ${model.description}`);
  io.print(`  contract:      ${model.contract} (family ${model.family})`);
  io.print(`  license:       ${model.license}`);
  io.print(`  source:        ${model.source}${revision ? ` @ ${revision}` : ''}`);
  io.print(`  preprocessing: ${model.preprocessing}`);
  const rec = Object.entries(model.recommended);
  io.print(`  recommended:   ${rec.length ? rec.map(([k, v]) => `${k}=${v}`).join(' ') : '(generator defaults)'}`);
  if (model.notes) io.print(`  notes:         ${model.notes}`);
  const pinsFile = pinsPath(first.cacheDir);
  for (const pl of plans) {
    const state = pl.files.every((f) => f.exists) ? 'cached' : pl.files.some((f) => f.exists) ? 'partly cached' : 'not cached';
    io.print();
    io.print(`  precision ${pl.precision}${pl.precision === defaultPrecision(model) ? ' (default)' : ''}: ${state} in ${pl.dir}`);
    for (const f of pl.files) {
      const local = f.exists ? `cached, ${formatBytes(f.cachedSize)}` : 'not cached';
      io.print(`    ${f.entry.role} ${f.entry.path} (size ${f.entry.size ?? 'unknown'}; ${local})`);
      io.print(`      url:    ${f.entry.url}`);
      io.print(`      sha256: ${trustText(f, pinsFile)}`);
    }
  }
  if (plans.some((pl) => pl.files.some((f) => f.trust === 'first-use'))) {
    io.print();
    io.print(`  First-use pins live in ${pinsFile}. To move them into the registry, run 'sam-amg models pin ${model.name}'`);
    io.print(`  and replace the matching "files" arrays under "variants" in models/registry.json with its output.`);
  }
}

function infoIo(io: Io, file: string): void {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new Error(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  let parsed;
  try {
    parsed = decodeModel(bytes);
  } catch (e) {
    throw new Error(`${file} is not an ONNX model: ${(e as Error).message}`);
  }
  const { inputs, outputs } = modelIo(parsed);
  io.print(`${file}: ${inputs.length} input(s), ${outputs.length} output(s)`);
  for (const [title, list] of [['inputs', inputs], ['outputs', outputs]] as const) {
    io.print(`${title}:`);
    for (const line of table(list.map((v) => ['  ' + v.name, v.dtype, formatDims(v.dims)]))) io.print(line);
  }
}

async function pullAction(io: Io, name: string, opts: { precision?: string; verify?: boolean; timeoutMs?: number; offline?: boolean }): Promise<void> {
  const progress = createDownloadProgress(io.err);
  let resolved;
  try {
    resolved = await resolveModel(name, io.resolveOptions({
      precision: opts.precision, verify: opts.verify ?? true, timeoutMs: opts.timeoutMs,
      offline: opts.offline ? true : undefined, onProgress: progress.onProgress,
    }));
  } finally {
    progress.stop();
  }
  io.note(`${resolved.name} (${resolved.precision}) ready in ${resolved.dir}`);
  for (const f of resolved.files) {
    io.print(`${f.role}\t${f.path}\t${formatBytes(f.size)}\tsha256 ${f.sha256 ?? '?'} (${f.trust === 'registry' ? 'registry' : f.trust === 'first-use' ? 'pinned on first use' : 'unpinned'})`);
  }
}

function pathAction(io: Io, name: string, opts: { precision?: string; role?: FileRole }): void {
  const plan = planVariant(name, io.resolveOptions({ precision: opts.precision }));
  const missing = plan.files.filter((f) => !f.exists);
  if (missing.length > 0) {
    const list = missing.map((f) => `${f.entry.role} ${f.path} (from ${f.entry.url})`).join('; ');
    const how = isOffline(io.env)
      ? `copy the files there, or run 'sam-amg models pull ${plan.model.name}' while online`
      : `run 'sam-amg models pull ${plan.model.name}${opts.precision ? ` --precision ${plan.precision}` : ''}' first`;
    throw new Error(`model '${plan.model.name}' (${plan.precision}) is not in the cache: missing ${list}; ${how}`);
  }
  if (opts.role) {
    const f = plan.files.find((x) => x.entry.role === opts.role);
    if (!f) throw new Error(`model '${plan.model.name}' (${plan.precision}) has no ${opts.role} file`);
    io.print(f.path);
    return;
  }
  for (const f of plan.files) io.print(`${f.entry.role}\t${f.path}`);
}

/** Registry entry for one cached file: size and hash from the bytes on disk, checked against what is expected. */
async function pinnedEntry(f: PlannedFile, plan: VariantPlan): Promise<RegistryFile> {
  const got = await sha256File(f.path);
  if (f.expectedSha256 && f.expectedSha256 !== got.sha256) {
    throw new Error(`cached ${f.path} has sha256 ${got.sha256}, but ${f.entry.sha256 ? 'the registry' : 'its first-use pin'} says ${f.expectedSha256}; ` +
      `delete it and run 'sam-amg models pull ${plan.model.name} --precision ${plan.precision}'`);
  }
  return { role: f.entry.role, url: f.entry.url, path: f.entry.path, size: got.size, sha256: got.sha256 };
}

async function pinAction(io: Io, name: string, opts: { precision?: string }): Promise<void> {
  const first = planVariant(name, io.resolveOptions({ precision: opts.precision }));
  const precisions = opts.precision ? [first.precision] : Object.keys(first.model.variants);
  const variants: Record<string, { files: RegistryFile[] }> = {};
  for (const p of precisions) {
    const plan = p === first.precision ? first : planVariant(name, io.resolveOptions({ precision: p }));
    if (!plan.files.some((f) => f.exists)) continue;
    const files: RegistryFile[] = [];
    for (const f of plan.files) {
      if (f.exists) files.push(await pinnedEntry(f, plan));
      else {
        io.note(`${p}/${f.entry.path} is not cached; its size/sha256 stay as in the registry`);
        files.push({ ...f.entry });
      }
    }
    variants[p] = { files };
  }
  if (Object.keys(variants).length === 0) {
    throw new Error(`nothing of '${name}' is cached${opts.precision ? ` for ${first.precision}` : ''}; run 'sam-amg models pull ${name}' first`);
  }
  io.note(`registry-ready "variants" entries of ${name} from the cache; paste them into models/registry.json (model "${name}")`);
  io.print(JSON.stringify(variants, null, 2));
}

/**
 * Adds `models list | pull NAME | info NAME | info --io FILE | path NAME | pin NAME` to `program`.
 * Each action reports its exit code through `ctx.setExitCode` (default: `process.exitCode`).
 */
export function registerModelsCommand(program: Command, ctx: ModelsCommandContext = {}): void {
  const io = new Io(ctx);
  const precisionOpt = () => new Option('-p, --precision <precision>', 'variant: fp32, fp16, quantized (q8), int8, uint8, q4 (as the model has)');
  const models = program
    .command('models')
    .description('list, download and inspect registry models (cache: $SAM_AMG_HOME, else $XDG_CACHE_HOME/sam-amg, else ~/.cache/sam-amg)')
    .exitOverride();

  models.command('list')
    .description('list the registry models (* marks the default)')
    .option('--json', 'print JSON')
    .exitOverride()
    .action((opts: { json?: boolean }) => io.run(() => listAction(io, opts))());

  models.command('pull')
    .description('download and verify a model into the cache (resumes partial downloads)')
    .argument('<name>', 'model name (see models list)')
    .addOption(precisionOpt())
    .option('--no-verify', 'do not re-hash files already in the cache (only their size is checked)')
    .option('--offline', 'do not connect; fail if files are missing (also SAM_AMG_OFFLINE=1)')
    .addOption(new Option('--timeout-ms <ms>', 'idle timeout per request (default $SAM_AMG_TIMEOUT_MS or 30000)').argParser(parsePositiveInt))
    .exitOverride()
    .action((name: string, opts: { precision?: string; verify?: boolean; timeoutMs?: number; offline?: boolean }) =>
      io.run(() => pullAction(io, name, opts))());

  models.command('info')
    .description('show a model\'s files, cache state and pins; or, with --io FILE, the inputs/outputs of an ONNX file')
    .argument('[name]', 'model name')
    .addOption(precisionOpt())
    .option('--io <file>', 'print the graph inputs and outputs of an ONNX file instead')
    .option('--json', 'print JSON')
    .exitOverride()
    .action((name: string | undefined, opts: { precision?: string; io?: string; json?: boolean }) =>
      io.run(() => {
        if (opts.io !== undefined && name !== undefined) throw new Error('give either a model name or --io FILE, not both');
        if (opts.io !== undefined) return infoIo(io, opts.io);
        if (name === undefined) throw new Error('missing model name (or --io FILE); see sam-amg models list');
        infoModel(io, name, opts);
      })());

  models.command('path')
    .description('print the cached file paths of a model (role<TAB>path per line); never downloads')
    .argument('<name>', 'model name')
    .addOption(precisionOpt())
    .addOption(new Option('--role <role>', 'print only this file\'s path').choices([...FILE_ROLES]))
    .exitOverride()
    .action((name: string, opts: { precision?: string; role?: FileRole }) => io.run(() => pathAction(io, name, opts))());

  models.command('pin')
    .description('print registry-ready "files" entries (size + sha256 from the cache) to move first-use pins into models/registry.json')
    .argument('<name>', 'model name')
    .addOption(precisionOpt())
    .exitOverride()
    .action((name: string, opts: { precision?: string }) => io.run(() => pinAction(io, name, opts))());
}
