/**
 * The `sam-amg` command line: a thin layer over the library (discoverInputs → resolveModel/loadModel →
 * MaskGenerator → runBatch → CocoWriter). Exit codes: 0 every input succeeded; 1 some inputs failed (the
 * output still holds every good image); 2 usage error or fatal error (bad flag, unusable model, unwritable
 * output); 130 interrupted (the output holds the images finished before the interrupt).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { resolve } from 'node:path';
import { statSync } from 'node:fs';
import { discoverInputs } from '../io/discover.js';
import { CocoWriter } from '../io/coco-writer.js';
import { DEFAULT_MAX_PIXELS } from '../io/image.js';
import { cacheRoot } from '../model/cache-dir.js';
import { loadModel } from '../model/load.js';
import { DEVICES, type Device } from '../model/session.js';
import type { MaskModel } from '../model/types.js';
import { packagedRegistry } from '../registry/registry.js';
import { resolveModel } from '../registry/resolve.js';
import { MaskGenerator } from '../pipeline/generator.js';
import { runBatch } from '../pipeline/batch.js';
import { DEFAULT_AMG_OPTIONS, type AmgOptions } from '../pipeline/options.js';
import { composeOptions, defaultPresetFor, PRESET_NAMES, type PresetName } from '../pipeline/presets.js';
import { createProgress } from './progress.js';
import { createDownloadProgress, registerModelsCommand } from './models-command.js';
import { VERSION } from '../version.js';

export const EXIT_OK = 0;
export const EXIT_SOME_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

function parseNumber(kind: 'int' | 'float', min: number, max = Infinity) {
  return (value: string): number => {
    const v = Number(value);
    if (value.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError(`'${value}' is not a number.`);
    if (kind === 'int' && !Number.isInteger(v)) throw new InvalidArgumentError(`'${value}' is not an integer.`);
    if (v < min || v > max) throw new InvalidArgumentError(`${value} is outside [${min}, ${max === Infinity ? '∞' : max}].`);
    return v;
  };
}

function parseBool(value: string): boolean {
  if (/^(true|1|yes|on)$/i.test(value)) return true;
  if (/^(false|0|no|off)$/i.test(value)) return false;
  throw new InvalidArgumentError(`'${value}' is not true or false.`);
}

function parseObjectScore(value: string): number {
  return /^(off|none)$/i.test(value) ? -Infinity : parseNumber('float', -Infinity)(value);
}

const d = DEFAULT_AMG_OPTIONS;

/** Generator flags: every parameter of the reference generators, with the SAM 1 default. */
const AMG_FLAGS: [flag: string, key: keyof AmgOptions, help: string, parse: (v: string) => number | boolean][] = [
  ['--points-per-side <n>', 'pointsPerSide', 'points sampled along each side of the image (n×n prompts)', parseNumber('int', 1, 1024)],
  ['--points-per-batch <n>', 'pointsPerBatch', 'prompts per decoder call (where the decoder allows batching)', parseNumber('int', 1, 4096)],
  ['--pred-iou-thresh <x>', 'predIouThresh', 'keep masks whose predicted IoU is > x (0 disables; SAM 2 preset: 0.8)', parseNumber('float', -Infinity, 1)],
  ['--stability-score-thresh <x>', 'stabilityScoreThresh', 'keep masks whose stability score is >= x (0 disables)', parseNumber('float', -Infinity, 1)],
  ['--stability-score-offset <x>', 'stabilityScoreOffset', 'logit offset δ of the stability score (cutoffs mask-threshold ± δ)', parseNumber('float', 0)],
  ['--mask-threshold <x>', 'maskThreshold', 'logit threshold that binarises masks', parseNumber('float', -Infinity)],
  ['--box-nms-thresh <x>', 'boxNmsThresh', 'IoU threshold of the per-crop box NMS', parseNumber('float', 0, 1)],
  ['--crop-n-layers <n>', 'cropNLayers', 'zoomed crop layers (layer i has 4^i crops)', parseNumber('int', 0, 6)],
  ['--crop-nms-thresh <x>', 'cropNmsThresh', 'IoU threshold of the NMS across crops', parseNumber('float', 0, 1)],
  ['--crop-overlap-ratio <x>', 'cropOverlapRatio', 'overlap of neighbouring crops, fraction of the shorter side', parseNumber('float', 0, 0.999999)],
  ['--crop-n-points-downscale-factor <n>', 'cropNPointsDownscaleFactor', 'points per side in layer i are divided by n^i', parseNumber('float', 1)],
  ['--min-mask-region-area <n>', 'minMaskRegionArea', 'SAM 1: fill holes / remove islands under n px, then re-NMS; SAM 2: holes/sprinkles <= n low-res px (0 = off)', parseNumber('float', 0)],
  ['--multimask-output <bool>', 'multimaskOutput', 'three masks per prompt (true) or one (false)', parseBool],
  ['--object-score-thresh <x>', 'objectScoreThresh', "drop prompts whose object-score logit is not > x, for decoders that output one ('off' disables)", parseObjectScore],
];

export function buildProgram(onRun: (inputs: string[], opts: Record<string, unknown>, cmd: Command) => Promise<number>): Command {
  const program = new Command('sam-amg')
    .description('Segment Anything automatic mask generation ("segment everything") over images and folders')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .exitOverride();

  const registry = packagedRegistry();
  const run = program
    .command('run')
    .description(
      'generate masks for image files, folders (recursive) and globs; write one COCO JSON file.\n' +
        `Model: --model NAME (see \`sam-amg models list\`; default ${registry.default}, downloaded on first use) or --encoder/--decoder files.`,
    )
    .argument('<inputs...>', 'image files, folders or quoted glob patterns')
    .requiredOption('-o, --out <file>', 'output COCO JSON file (written atomically)')
    .option('-m, --model <name>', `registry model to use (default: ${registry.default} when no --encoder/--decoder)`)
    .option('--precision <p>', 'model variant: fp32, fp16, quantized (q8), int8, uint8, q4 (default: the model\'s)')
    .option('--encoder <path>', 'image encoder ONNX file (any supported contract)')
    .option('--decoder <path>', 'mask decoder ONNX file (its input names decide the contract)')
    .option('--preprocessor-config <path>', "HF exports: the repository's preprocessor_config.json")
    .option('--offline', 'never download: use the cache (or SAM_AMG_OFFLINE=1)')
    .addOption(
      new Option('--preset <name>', 'generator settings to start from; explicit flags override (default: sam for SAM 1 models, sam2 for SAM 2)')
        .choices([...PRESET_NAMES]),
    )
    .exitOverride();
  for (const [flag, key, help, parse] of AMG_FLAGS) {
    run.addOption(new Option(flag, help).argParser(parse).default(d[key] as number | boolean));
  }
  run
    .option('--use-m2m', 'SAM 2: refine every mask once with its own logits as mask input')
    // CPU by default: the GPU paths are built but not yet verified on hardware (README, Devices).
    .addOption(new Option('--device <name>', 'execution provider (auto = cuda, webgpu, then cpu)').choices([...DEVICES]).default('cpu'))
    .addOption(new Option('--concurrency <n>', 'images processed at once').argParser(parseNumber('int', 1, 64)).default(1))
    .addOption(
      new Option('--threads <n>', 'onnxruntime threads per session (0 = one per core)')
        .argParser(parseNumber('int', 0, 1024))
        .default(0),
    )
    .addOption(
      new Option('--max-pixels <n>', 'refuse images with more pixels than this (decompression-bomb guard)')
        .argParser(parseNumber('int', 1))
        .default(DEFAULT_MAX_PIXELS),
    )
    .option('-q, --quiet', 'print only errors and the summary')
    .option('-v, --verbose', 'print model details before running')
    .action(async (inputs: string[], opts: Record<string, unknown>, cmd: Command) => {
      process.exitCode = await onRun(inputs, opts, cmd);
    });
  registerModelsCommand(program);
  return program;
}

/** Entry point; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram(runCommand);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const code = (err as { code?: string; exitCode?: number }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return EXIT_OK;
    if (code?.startsWith('commander.')) return EXIT_USAGE;
    throw err;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : EXIT_OK;
}

interface ModelChoice {
  model: MaskModel;
  label: string;
  recommended: Partial<AmgOptions>;
}

/** Loads the model named by the flags: local files, a registry name, or the registry's default. */
async function chooseModel(opts: Record<string, unknown>, explicit: Partial<AmgOptions>): Promise<ModelChoice> {
  const common = {
    threads: opts.threads as number,
    device: opts.device as Device,
    promptsPerCall: (explicit.pointsPerBatch ?? opts.pointsPerBatch) as number,
    cacheDir: `${cacheRoot()}/derived`,
  };
  if (opts.encoder || opts.decoder) {
    if (!opts.encoder || !opts.decoder) throw new UsageError('--encoder and --decoder go together (or use --model NAME)');
    if (opts.model) throw new UsageError('give either --model or --encoder/--decoder, not both');
    const model = await loadModel({
      ...common,
      encoder: String(opts.encoder),
      decoder: String(opts.decoder),
      preprocessorConfig: opts.preprocessorConfig ? String(opts.preprocessorConfig) : undefined,
    });
    return { model, label: `${opts.encoder} + ${opts.decoder}`, recommended: {} };
  }
  const name = opts.model ? String(opts.model) : packagedRegistry().default;
  const download = createDownloadProgress(process.stderr);
  try {
    const resolved = await resolveModel(name, {
      precision: opts.precision ? String(opts.precision) : undefined,
      offline: Boolean(opts.offline) || undefined,
      onProgress: opts.quiet ? undefined : download.onProgress,
    });
    const model = await loadModel({
      ...common,
      encoder: resolved.encoder,
      decoder: resolved.decoder,
      preprocessorConfig: resolved.preprocessorConfig,
      contract: resolved.contract,
    });
    return { model, label: `${resolved.name} (${resolved.precision})`, recommended: resolved.recommended as Partial<AmgOptions> };
  } finally {
    download.stop();
  }
}

class UsageError extends Error {}

async function runCommand(inputs: string[], opts: Record<string, unknown>, cmd: Command): Promise<number> {
  const err = (msg: string) => process.stderr.write(`sam-amg: error: ${msg}\n`);
  const out = resolve(String(opts.out));
  try {
    if (statSync(out).isDirectory()) {
      err(`--out ${out} is a folder; give a file name such as ${out}/masks.json`);
      return EXIT_USAGE;
    }
  } catch {
    /* does not exist yet: fine */
  }

  const found = discoverInputs(inputs);
  for (const m of found.missing) err(`${m.input}: ${m.reason}`);
  if (found.files.length === 0) {
    err('no input images');
    return EXIT_USAGE;
  }

  // Flags given on the command line win over the preset and the model's recommended settings.
  const explicit: Partial<AmgOptions> = {};
  for (const [, key] of AMG_FLAGS) if (cmd.getOptionValueSource(key) === 'cli') (explicit as Record<string, unknown>)[key] = opts[key];
  if (opts.useM2m) explicit.useM2m = true;

  let choice: ModelChoice;
  try {
    choice = await chooseModel(opts, explicit);
  } catch (e) {
    const msg = (e as Error).message;
    const hint = /^download of /.test(msg)
      ? ' (no network? pass --encoder/--decoder files, or put the files where `sam-amg models path NAME` says and use --offline)'
      : '';
    err(msg + hint);
    return EXIT_USAGE;
  }
  const { model } = choice;
  const preset = (opts.preset as PresetName | undefined) ?? defaultPresetFor(model.info.family);
  const amg = opts.preset ? composeOptions(preset, {}, explicit) : composeOptions(preset, choice.recommended, explicit);
  let generator: MaskGenerator;
  try {
    generator = new MaskGenerator(model, amg);
  } catch (e) {
    err((e as Error).message);
    await model.dispose();
    return EXIT_USAGE;
  }
  const info = model.info;
  if (!opts.quiet) {
    process.stderr.write(`sam-amg: model ${choice.label}: ${info.contract} on ${info.details.device ?? 'cpu'}, preset ${preset}\n`);
  }
  if (opts.verbose) {
    const g = generator.options;
    process.stderr.write(
      `sam-amg: ${info.promptsPerCall} prompt(s) per decoder call; ${Object.entries(info.details).map(([k, v]) => `${k}=${v}`).join(' ')}\n` +
        `sam-amg: generator ${Object.entries(g).filter(([k]) => k !== 'pointGrids').map(([k, v]) => `${k}=${v}`).join(' ')}\n`,
    );
  }

  const writer = new CocoWriter(out);
  const progress = createProgress(found.files.length, { quiet: Boolean(opts.quiet) });
  const abort = new AbortController();
  const onSigint = () => {
    if (abort.signal.aborted) process.exit(EXIT_INTERRUPTED);
    process.stderr.write('\nsam-amg: interrupted; finishing the images in flight and writing the output (Ctrl-C again to quit now)\n');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const summary = await runBatch({
      files: found.files,
      generator,
      writer,
      concurrency: opts.concurrency as number,
      maxPixels: opts.maxPixels as number,
      onEvent: (e) => progress.event(e),
      signal: abort.signal,
    });
    progress.stop();
    await writer.finish({
      description: 'sam-amg automatic masks',
      version: VERSION,
      date_created: new Date().toISOString(),
      model: { name: choice.label, contract: info.contract, family: info.family, device: info.details.device ?? 'cpu' },
      preset,
      generator: { ...generator.options, pointGrids: undefined },
    });
    const secs = summary.times.total / 1000;
    process.stderr.write(
      `sam-amg: ${summary.succeeded + summary.failed} of ${summary.images} images done (${summary.succeeded} ok, ` +
        `${summary.failed} failed${summary.skipped ? `, ${summary.skipped} not started` : ''}), ${summary.masks} masks, ` +
        `${secs.toFixed(1)} s (${(summary.succeeded / Math.max(secs, 1e-9)).toFixed(2)} images/s) → ${out}\n`,
    );
    if (abort.signal.aborted) return EXIT_INTERRUPTED;
    return summary.failed > 0 || found.missing.length > 0 ? EXIT_SOME_FAILED : EXIT_OK;
  } catch (e) {
    progress.stop();
    await writer.abort();
    err((e as Error).message);
    return EXIT_USAGE;
  } finally {
    process.off('SIGINT', onSigint);
    await model.dispose();
  }
}
