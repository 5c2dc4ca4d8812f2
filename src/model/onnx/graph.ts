/**
 * Pure helpers over decoded ONNX models: I/O listing and dimension edits.
 *
 * All functions return new objects and never modify their argument. Unchanged sub-messages are shared between the
 * input and the result (cheap for multi-GB models), so treat both as read-only afterwards.
 */
import { cloneMessage, dataTypeName, int64ToNumber } from './proto.js';
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorShapeDimension, ValueInfoProto } from './proto.js';

/** One graph input or output as listed by {@link modelIo}. */
export interface IoInfo {
  name: string;
  /** ONNX element type code (1 = float, 7 = int64, ...); 0 when the value is not a tensor. */
  elemType: number;
  /** onnxruntime's name for the element type (`'float32'`, `'int64'`, ...). */
  dtype: string;
  /** Per dim: the fixed size, the symbolic name, or null when neither is set; null when the shape is unknown. */
  dims: (number | string | null)[] | null;
}

/** A model's inputs and outputs, in declaration order. */
export interface ModelIo {
  inputs: IoInfo[];
  outputs: IoInfo[];
}

function describe(v: ValueInfoProto): IoInfo {
  const tt = v.type?.tensor_type;
  const elemType = tt?.elem_type ?? 0;
  const dims = tt?.shape
    ? (tt.shape.dim ?? []).map((d): number | string | null =>
        Object.prototype.hasOwnProperty.call(d, 'dim_value')
          ? int64ToNumber(d.dim_value)
          : d.dim_param ? d.dim_param : null)
    : null;
  return { name: v.name ?? '', elemType, dtype: dataTypeName(elemType), dims };
}

/**
 * Names, dtypes and shapes of the graph inputs and outputs, for `--io` logging and contract detection.
 * Inputs that are backed by an initializer (IR < 4 style "overridable constants") are left out, as
 * onnxruntime's `session.inputNames` does.
 */
export function modelIo(model: ModelProto): ModelIo {
  const g = model.graph ?? {};
  const inits = new Set((g.initializer ?? []).map((t) => t.name));
  return {
    inputs: (g.input ?? []).filter((v) => !inits.has(v.name)).map(describe),
    outputs: (g.output ?? []).map(describe),
  };
}

/** Formats a shape for logs: `[1,"num_points",2]`. */
export function formatDims(dims: IoInfo['dims']): string {
  if (dims === null) return '?';
  return `[${dims.map((d) => (d === null ? '?' : typeof d === 'string' ? JSON.stringify(d) : String(d))).join(',')}]`;
}

/** A Dimension message holding `value` (number → dim_value, string → dim_param), keeping the denotation. */
function makeDim(old: TensorShapeDimension | undefined, value: number | string): TensorShapeDimension {
  const d: TensorShapeDimension = typeof value === 'number' ? { dim_value: value } : { dim_param: value };
  if (old?.denotation) d.denotation = old.denotation;
  return d;
}

/** Copy of `vi` with dim `dimIndex` replaced; clones along the path so `vi` is untouched. */
function withDim(vi: ValueInfoProto, dimIndex: number, value: number | string): ValueInfoProto {
  const tt = vi.type?.tensor_type;
  const dims = tt?.shape?.dim;
  if (!tt || !dims) throw new Error(`'${vi.name}' has no tensor shape to edit`);
  if (dimIndex < 0 || dimIndex >= dims.length) {
    throw new Error(`'${vi.name}' has rank ${dims.length}; dim ${dimIndex} does not exist`);
  }
  const newDims = dims.slice();
  newDims[dimIndex] = makeDim(dims[dimIndex], value);
  const shape = cloneMessage(tt.shape!);
  shape.dim = newDims;
  const tensorType = cloneMessage(tt);
  tensorType.shape = shape;
  const type = cloneMessage(vi.type!);
  type.tensor_type = tensorType;
  const out = cloneMessage(vi);
  out.type = type;
  return out;
}

type IoList = 'input' | 'output';

function setDim(model: ModelProto, list: IoList, name: string, dimIndex: number, value: number | string): ModelProto {
  const graph = model.graph;
  if (!graph) throw new Error('model has no graph');
  const items = graph[list] ?? [];
  const at = items.findIndex((v) => v.name === name);
  if (at < 0) throw new Error(`no graph ${list} named '${name}' (have: ${items.map((v) => v.name).join(', ')})`);
  const newItems = items.slice();
  newItems[at] = withDim(items[at]!, dimIndex, value);
  const g = cloneMessage(graph);
  g[list] = newItems;
  // A value_info entry with the same name would contradict the new declaration; drop it (pure annotation).
  if (g.value_info?.some((v) => v.name === name)) g.value_info = g.value_info.filter((v) => v.name !== name);
  const m = cloneMessage(model);
  m.graph = g;
  return m;
}

/**
 * Sets dim `dimIndex` of graph input `inputName` to a fixed size (number) or a symbolic name (string), e.g.
 * `setInputDim(m, 'point_coords', 0, 'batch')` to make a static batch of 1 dynamic. This only edits the
 * declaration; whether the graph computes correctly for other sizes is up to the graph (check it).
 */
export function setInputDim(model: ModelProto, inputName: string, dimIndex: number, dimParamOrValue: number | string): ModelProto {
  return setDim(model, 'input', inputName, dimIndex, dimParamOrValue);
}

/** Like {@link setInputDim}, for a graph output's declared shape. */
export function setOutputDim(model: ModelProto, outputName: string, dimIndex: number, dimParamOrValue: number | string): ModelProto {
  return setDim(model, 'output', outputName, dimIndex, dimParamOrValue);
}

// ---- Name walking, shared with prune.ts ----------------------------------------------------------------------

/** Subgraphs held by a node's attributes (`If` branches, `Loop`/`Scan` bodies, any `g`/`graphs`). */
export function subgraphsOf(node: NodeProto): GraphProto[] {
  const out: GraphProto[] = [];
  for (const a of node.attribute ?? ([] as AttributeProto[])) {
    if (a.g) out.push(a.g);
    for (const g of a.graphs ?? []) out.push(g);
  }
  return out;
}

/**
 * Every tensor name a subgraph mentions as a node input or graph output, recursively. Names it defines itself are
 * included too: deciding scoping exactly is not worth the risk, and an extra kept name only costs a kept tensor.
 */
export function namesReferencedBySubgraph(g: GraphProto, into: Set<string> = new Set()): Set<string> {
  for (const n of g.node ?? []) {
    for (const i of n.input ?? []) if (i) into.add(i);
    for (const sg of subgraphsOf(n)) namesReferencedBySubgraph(sg, into);
  }
  for (const o of g.output ?? []) if (o.name) into.add(o.name);
  return into;
}

/** The names a node needs: its inputs plus whatever its subgraphs reference from the enclosing scope. */
export function namesUsedByNode(node: NodeProto): string[] {
  const names = (node.input ?? []).filter((i) => i !== '');
  for (const sg of subgraphsOf(node)) names.push(...namesReferencedBySubgraph(sg));
  return names;
}
