/**
 * onnxruntime-node session creation, shared by all adapters: one place for threading and graph
 * optimisation settings, and errors that name the file.
 */
import * as ort from 'onnxruntime-node';

export interface RuntimeOptions {
  /** Intra-op threads per session (0 = onnxruntime's default: one per core). */
  threads?: number;
}

export function sessionOptions(opts: RuntimeOptions, quiet = false): ort.InferenceSession.SessionOptions {
  return {
    // 3 = errors only; 4 = fatal only, for probe sessions whose failures are expected and handled.
    logSeverityLevel: quiet ? 4 : 3,
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: opts.threads && opts.threads > 0 ? opts.threads : 0,
    // One inference at a time per session call; the pipeline overlaps images at a coarser level.
    interOpNumThreads: 1,
    executionMode: 'sequential',
    enableCpuMemArena: true,
    enableMemPattern: true,
  };
}

/** Creates a session from a file path or model bytes; `label` names the model in errors. */
export async function createSession(
  model: string | Uint8Array,
  label: string,
  opts: RuntimeOptions,
  quiet = false,
): Promise<ort.InferenceSession> {
  try {
    return typeof model === 'string'
      ? await ort.InferenceSession.create(model, sessionOptions(opts, quiet))
      : await ort.InferenceSession.create(model, sessionOptions(opts, quiet));
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(`cannot load ONNX model ${label}: ${reason}`);
  }
}

/** Shape of a session input as declared in the graph (numbers for fixed dims, strings for symbolic). */
export function inputShape(session: ort.InferenceSession, name: string): ReadonlyArray<number | string> | undefined {
  const meta = session.inputMetadata.find((m) => m.name === name);
  return meta && meta.isTensor ? meta.shape : undefined;
}

export function outputShape(session: ort.InferenceSession, name: string): ReadonlyArray<number | string> | undefined {
  const meta = session.outputMetadata.find((m) => m.name === name);
  return meta && meta.isTensor ? meta.shape : undefined;
}

/** One-line description of a session's inputs and outputs, for errors and `--verbose`. */
export function describeIo(session: ort.InferenceSession): string {
  const fmt = (m: ort.InferenceSession.ValueMetadata) =>
    m.isTensor ? `${m.name}:${m.type}[${m.shape.join(',')}]` : m.name;
  return `inputs ${session.inputMetadata.map(fmt).join(' ')}; outputs ${session.outputMetadata.map(fmt).join(' ')}`;
}
