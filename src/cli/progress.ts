/**
 * Progress on stderr: a cli-progress bar when stderr is a terminal, one plain line per image otherwise
 * (logs, CI, pipes). Errors are always one line: `sam-amg: error: <file>: <reason>`.
 */
import cliProgress from 'cli-progress';
import type { BatchEvent } from '../pipeline/batch.js';

export interface Progress {
  event(e: BatchEvent): void;
  stop(): void;
}

export function createProgress(total: number, opts: { quiet: boolean; stream?: NodeJS.WriteStream }): Progress {
  const stream = opts.stream ?? process.stderr;
  const errorLine = (e: BatchEvent) => `sam-amg: error: ${e.file.path}: ${e.error}\n`;
  if (opts.quiet) {
    return { event: (e) => e.kind === 'failed' && stream.write(errorLine(e)), stop: () => {} };
  }
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream,
        format: 'sam-amg {bar} {value}/{total} images | {masks} masks | {failed} failed | ETA {eta_formatted}',
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    let masks = 0;
    let failed = 0;
    bar.start(total, 0, { masks, failed });
    return {
      event(e) {
        masks += e.masks;
        if (e.kind === 'failed') {
          failed++;
          // Print the error above the bar so it stays readable.
          stream.write('\r\x1b[K' + errorLine(e));
        }
        bar.increment(1, { masks, failed });
      },
      stop: () => bar.stop(),
    };
  }
  let n = 0;
  return {
    event(e) {
      n++;
      if (e.kind === 'failed') stream.write(errorLine(e));
      else stream.write(`sam-amg: [${n}/${total}] ${e.file.fileName}: ${e.masks} masks (${(e.ms / 1000).toFixed(2)} s)\n`);
    },
    stop: () => {},
  };
}
