/**
 * The per-folder flow: decode → generate → hand to a writer, with several images in flight.
 *
 * Results reach the writer in input order (a bounded reorder window), so output ids are deterministic
 * whatever the concurrency, and a streaming/resumable writer sees a clean prefix of the input list.
 * A failing image is reported and skipped; the batch goes on.
 */
import pLimit from 'p-limit';
import type { InputFile } from '../io/discover.js';
import { decodeImageFile, ImageDecodeError } from '../io/image.js';
import type { ResultWriter } from '../io/coco-writer.js';
import type { MaskGenerator } from './generator.js';

export interface BatchEvent {
  kind: 'done' | 'failed';
  index: number;
  file: InputFile;
  /** Masks written for this image (0 for failures). */
  masks: number;
  /** One-line reason, for failures. */
  error?: string;
  ms: number;
}

export interface BatchOptions {
  files: InputFile[];
  generator: MaskGenerator;
  writer: ResultWriter;
  /** Images processed at once (decode, encode and decode overlap across images). Default 1. */
  concurrency?: number;
  maxPixels?: number;
  onEvent?: (e: BatchEvent) => void;
  /** When aborted, no new image starts; the ones in flight finish and are written. */
  signal?: AbortSignal;
}

export interface BatchSummary {
  images: number;
  succeeded: number;
  failed: number;
  masks: number;
  /** Images never started because the run was interrupted. */
  skipped: number;
  /** Per-stage milliseconds: image decoding, then the generator's own stages. */
  times: { decodeImage: number; encode: number; decode: number; postprocess: number; write: number; total: number };
}

type Outcome =
  | { ok: true; width: number; height: number; records: Awaited<ReturnType<MaskGenerator['generate']>>; ms: number }
  | { ok: false; error: string; ms: number };

export async function runBatch(opts: BatchOptions): Promise<BatchSummary> {
  const concurrency = Math.max(1, opts.concurrency ?? 1);
  const limit = pLimit(concurrency);
  const window = concurrency * 4;
  const t0 = performance.now();
  const summary: BatchSummary = {
    images: opts.files.length,
    succeeded: 0,
    failed: 0,
    masks: 0,
    skipped: 0,
    times: { decodeImage: 0, encode: 0, decode: 0, postprocess: 0, write: 0, total: 0 },
  };
  const gen = opts.generator;
  const before = { ...gen.times };

  const pending = new Map<number, Outcome>();
  let nextToWrite = 0;
  let wake: (() => void) | null = null;
  let writing: Promise<void> = Promise.resolve();
  let writeError: unknown = null;

  const flush = async () => {
    while (pending.has(nextToWrite)) {
      const i = nextToWrite;
      const out = pending.get(i)!;
      pending.delete(i);
      nextToWrite++;
      const file = opts.files[i]!;
      if (out.ok) {
        const t = performance.now();
        await opts.writer.writeImage({ id: i + 1, fileName: file.fileName, width: out.width, height: out.height, records: out.records });
        summary.times.write += performance.now() - t;
        summary.succeeded++;
        summary.masks += out.records.length;
        opts.onEvent?.({ kind: 'done', index: i, file, masks: out.records.length, ms: out.ms });
      } else {
        await opts.writer.writeFailure({ id: i + 1, fileName: file.fileName, error: out.error });
        summary.failed++;
        opts.onEvent?.({ kind: 'failed', index: i, file, masks: 0, error: out.error, ms: out.ms });
      }
      wake?.();
    }
  };

  const processOne = async (i: number): Promise<Outcome> => {
    const file = opts.files[i]!;
    const start = performance.now();
    try {
      const image = await decodeImageFile(file.path, { maxPixels: opts.maxPixels });
      summary.times.decodeImage += performance.now() - start;
      const records = await gen.generate(image);
      return { ok: true, width: image.width, height: image.height, records, ms: performance.now() - start };
    } catch (err) {
      const msg = err instanceof ImageDecodeError || err instanceof Error ? err.message : String(err);
      return { ok: false, error: msg.split('\n')[0]!, ms: performance.now() - start };
    }
  };

  const tasks: Promise<void>[] = [];
  for (let i = 0; i < opts.files.length; i++) {
    if (opts.signal?.aborted || writeError) break;
    // Bound the reorder buffer: a slow early image must not let later results pile up without limit.
    while (i - nextToWrite >= window && !writeError) await new Promise<void>((r) => (wake = r));
    if (opts.signal?.aborted || writeError) break;
    tasks.push(
      limit(() => processOne(i)).then((out) => {
        pending.set(i, out);
        writing = writing.then(flush).catch((err) => {
          // A writer failure (disk full, permissions) ends the batch: nothing more can be saved.
          writeError ??= err;
          wake?.();
        });
        return writing;
      }),
    );
  }
  await Promise.all(tasks);
  await writing;
  if (writeError) throw writeError;
  summary.skipped = opts.files.length - summary.succeeded - summary.failed;
  summary.times.encode = gen.times.encode - before.encode;
  summary.times.decode = gen.times.decode - before.decode;
  summary.times.postprocess = gen.times.postprocess - before.postprocess;
  summary.times.total = performance.now() - t0;
  return summary;
}
