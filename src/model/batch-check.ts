/**
 * Shared load-time helpers of the adapters: reading model files with one-line errors, and the numerical
 * check that a decoder whose prompt batch was made symbolic really batches.
 */
import { readFileSync } from 'node:fs';
import type * as ort from 'onnxruntime-node';

/** Reads a model file; errors name the file and the reason in one line. */
export function readModelFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot read model file ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

/** onnxruntime's run errors carry source paths and assertion text; keep the op that failed. */
export function ortRunFailure(err: unknown): string {
  const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
  return msg.replace(/Status Message: .*$/, '').replace(/^Non-zero status code returned while running /, 'failed at ').trim();
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-4 + 1e-4 * Math.abs(b);

/**
 * Whether running prompts `0..n-1` in one call gives, output by output, the same values (within 1e-4) as
 * running each alone. `run(indices)` runs the decoder on those prompts (batch dim 0 or 1 first, so each
 * prompt's outputs are one contiguous slice). Returns true or the reason it does not.
 */
export async function batchMatchesSingles(
  run: (prompts: number[]) => Promise<ort.InferenceSession.OnnxValueMapType>,
  outputs: readonly string[],
  n = 2,
): Promise<true | string> {
  try {
    const all = await run(Array.from({ length: n }, (_, i) => i));
    for (let i = 0; i < n; i++) {
      const one = await run([i]);
      for (const name of outputs) {
        const a = one[name]!.data as Float32Array;
        const b = (all[name]!.data as Float32Array).subarray(i * a.length, (i + 1) * a.length);
        if (b.length !== a.length) return `batched ${name} has the wrong size`;
        for (let j = 0; j < a.length; j++) if (!close(a[j]!, b[j]!)) return `${name} value ${j} of prompt ${i} differs`;
      }
    }
    return true;
  } catch (err) {
    return ortRunFailure(err);
  }
}
