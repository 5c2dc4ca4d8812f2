/**
 * The `sam-amg` command line: a thin layer over the library (discoverInputs → Sam1Model → MaskGenerator →
 * runBatch → CocoWriter). Exit codes: 0 every input succeeded; 1 some inputs failed (the output still holds
 * every good image); 2 usage error or fatal error (bad flag, unreadable model, unwritable output);
 * 130 interrupted (the output holds the images finished before the interrupt).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { statSync } from 'node:fs';
import { discoverInputs } from '../io/discover.js';
import { CocoWriter } from '../io/coco-writer.js';
import { DEFAULT_MAX_PIXELS } from '../io/image.js';
import { cacheRoot } from '../model/cache-dir.js';
import { Sam1Model } from '../model/sam1.js';
import { MaskGenerator } from '../pipeline/generator.js';
import { runBatch } from '../pipeline/batch.js';
import { DEFAULT_AMG_OPTIONS, type AmgOptions } from '../pipeline/options.js';
import { createProgress } from './progress.js';
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

const d = DEFAULT_AMG_OPTIONS;

/** Generator flags: every parameter of the reference generator, with its default. */
const AMG_FLAGS: [flag: string, key: keyof AmgOptions, help: string, parse: (v: string) => number][] = [
  ['--points-per-side <n>', 'pointsPerSide', 'points sampled along each side of the image (n×n prompts)', parseNumber('int', 1, 1024)],
  ['--points-per-batch <n>', 'pointsPerBatch', 'prompts per decoder call (where the decoder allows batching)', parseNumber('int', 1, 4096)],
  ['--pred-iou-thresh <x>', 'predIouThresh', 'keep masks whose predicted IoU is > x (0 disables)', parseNumber('float', -Infinity, 1)],
  ['--stability-score-thresh <x>', 'stabilityScoreThresh', 'keep masks whose stability score is >= x (0 disables)', parseNumber('float', -Infinity, 1)],
  ['--stability-score-offset <x>', 'stabilityScoreOffset', 'logit offset δ of the stability score (cutoffs mask-threshold ± δ)', parseNumber('float', 0)],
  ['--mask-threshold <x>', 'maskThreshold', 'logit threshold that binarises masks', parseNumber('float', -Infinity)],
  ['--box-nms-thresh <x>', 'boxNmsThresh', 'IoU threshold of the per-crop box NMS', parseNumber('float', 0, 1)],
  ['--crop-n-layers <n>', 'cropNLayers', 'zoomed crop layers (layer i has 4^i crops)', parseNumber('int', 0, 6)],
  ['--crop-nms-thresh <x>', 'cropNmsThresh', 'IoU threshold of the NMS across crops', parseNumber('float', 0, 1)],
  ['--crop-overlap-ratio <x>', 'cropOverlapRatio', 'overlap of neighbouring crops, fraction of the shorter side', parseNumber('float', 0, 0.999999)],
  ['--crop-n-points-downscale-factor <n>', 'cropNPointsDownscaleFactor', 'points per side in layer i are divided by n^i', parseNumber('float', 1)],
  ['--min-mask-region-area <n>', 'minMaskRegionArea', 'fill holes / remove islands smaller than n px, then re-NMS (0 = off)', parseNumber('float', 0)],
];

export function buildProgram(onRun: (inputs: string[], opts: Record<string, unknown>) => Promise<number>): Command {
  const program = new Command('sam-amg')
    .description('Segment Anything automatic mask generation ("segment everything") over images and folders')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .exitOverride();

  const run = program
    .command('run')
    .description('generate masks for image files, folders (recursive) and globs; write one COCO JSON file')
    .argument('<inputs...>', 'image files, folders or quoted glob patterns')
    .requiredOption('-o, --out <file>', 'output COCO JSON file (written atomically)')
    .requiredOption('--encoder <path>', 'image encoder ONNX file (samexporter `input_image` HWC, or [1,3,1024,1024])')
    .requiredOption('--decoder <path>', "mask decoder ONNX file (Meta's SamOnnxModel export)")
    .exitOverride();
  for (const [flag, key, help, parse] of AMG_FLAGS) {
    run.addOption(new Option(flag, help).argParser(parse).default(d[key] as number));
  }
  run
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
    .action(async (inputs: string[], opts: Record<string, unknown>) => {
      process.exitCode = await onRun(inputs, opts);
    });
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

async function runCommand(inputs: string[], opts: Record<string, unknown>): Promise<number> {
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

  const amg: Partial<AmgOptions> = {};
  for (const [, key] of AMG_FLAGS) (amg as Record<string, unknown>)[key] = opts[key];

  let model: Sam1Model;
  try {
    model = await Sam1Model.load({
      encoder: String(opts.encoder),
      decoder: String(opts.decoder),
      threads: opts.threads as number,
      promptsPerCall: amg.pointsPerBatch,
      cacheDir: `${cacheRoot()}/derived`,
    });
  } catch (e) {
    err((e as Error).message);
    return EXIT_USAGE;
  }
  let generator: MaskGenerator;
  try {
    generator = new MaskGenerator(model, amg);
  } catch (e) {
    err((e as Error).message);
    await model.dispose();
    return EXIT_USAGE;
  }
  if (opts.verbose) {
    const info = model.info;
    process.stderr.write(`sam-amg: model ${info.contract} (${info.family}), ${info.promptsPerCall} prompt(s) per decoder call, ` +
      `${Object.entries(info.details).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
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
      model: { contract: model.info.contract, encoder: String(opts.encoder), decoder: String(opts.decoder) },
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
