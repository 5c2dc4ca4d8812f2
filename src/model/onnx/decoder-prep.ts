/**
 * Load-time preparation of a mask decoder graph:
 *  1. check the contract's input names (clear error listing what the file has);
 *  2. prune the graph to the outputs the pipeline reads — Meta's export upsamples every mask to 1024² and
 *     then to the image size in-graph, and onnxruntime runs the whole graph even when only some outputs
 *     are fetched, so this removes the dominant cost of each decoder call on large images;
 *  3. optionally make a fixed batch dim (1) symbolic, so several prompts go in one call. Whether that is
 *     safe depends on the graph; the adapter verifies it numerically before using it.
 */
import { modelIo, setInputDim, setOutputDim, formatDims } from './graph.js';
import { decodeModel, encodeModel, type ModelProto } from './proto.js';
import { pruneToOutputs } from './prune.js';

export interface DecoderPrepOptions {
  /** Names the file in errors. */
  label: string;
  requiredInputs: string[];
  /** Outputs to keep (the rest are pruned), or null to keep the graph as exported. */
  keepOutputs: string[] | null;
  /** Inputs and outputs whose dim 0 is the prompt batch. */
  batchInputs: string[];
  batchOutputs: string[];
  wantDynamicBatch: boolean;
}

export interface PreparedDecoder {
  /** The (pruned) graph with its batch dim as exported. */
  fixed: Uint8Array;
  /** The (pruned) graph with a symbolic batch dim, when asked for and the exported dim was fixed at 1;
   * equal to `fixed` when the export already had a symbolic batch dim; null otherwise. */
  dynamic: Uint8Array | null;
  /** Size of dim 1 of the first batch output (mask tokens M), or NaN if symbolic. */
  maskTokens: number;
}

/** Name to use for a batch dim made symbolic. */
export const PROMPT_BATCH_DIM = 'prompt_batch';

export function prepareDecoder(bytes: Uint8Array, opts: DecoderPrepOptions): PreparedDecoder {
  let model: ModelProto;
  try {
    model = decodeModel(bytes);
  } catch (err) {
    throw new Error(`${opts.label} is not an ONNX model (${(err as Error).message})`);
  }
  const io = modelIo(model);
  const inputNames = io.inputs.map((i) => i.name);
  const missing = opts.requiredInputs.filter((n) => !inputNames.includes(n));
  const outputNames = io.outputs.map((o) => o.name);
  const missingOut = (opts.keepOutputs ?? opts.batchOutputs).filter((n) => !outputNames.includes(n));
  if (missing.length > 0 || missingOut.length > 0) {
    const list = (xs: typeof io.inputs) => xs.map((x) => `${x.name}${formatDims(x.dims)}`).join(', ');
    throw new Error(
      `${opts.label} does not match the expected decoder contract: missing ${[...missing, ...missingOut].join(', ')}; ` +
        `it has inputs ${list(io.inputs)} and outputs ${list(io.outputs)}`,
    );
  }
  const firstOut = io.outputs.find((o) => o.name === opts.batchOutputs[0])!;
  const tokensDim = firstOut.dims?.[1];
  const maskTokens = typeof tokensDim === 'number' ? tokensDim : Number.NaN;

  if (opts.keepOutputs) model = pruneToOutputs(model, opts.keepOutputs);
  const fixed = encodeModel(model);

  let dynamic: Uint8Array | null = null;
  if (opts.wantDynamicBatch) {
    const batchDims = opts.batchInputs.map((n) => io.inputs.find((i) => i.name === n)?.dims?.[0]);
    if (batchDims.every((d) => typeof d === 'string' || d === null)) {
      dynamic = fixed;
    } else if (batchDims.every((d) => d === 1)) {
      let m = model;
      for (const n of opts.batchInputs) m = setInputDim(m, n, 0, PROMPT_BATCH_DIM);
      for (const n of opts.batchOutputs) m = setOutputDim(m, n, 0, PROMPT_BATCH_DIM);
      // Shapes inferred at export time still say 1; drop them and let onnxruntime infer again.
      m = { ...m, graph: { ...m.graph, value_info: [] } };
      dynamic = encodeModel(m);
    }
  }
  return { fixed, dynamic, maskTokens };
}
