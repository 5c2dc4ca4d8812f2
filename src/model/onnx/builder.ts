/**
 * A small ONNX graph builder: enough to write test fixtures and synthetic models in TypeScript.
 *
 * Names are generated from a counter (`<op>_<n>`), so building the same graph twice gives the same bytes.
 * Initializers are stored as little-endian `raw_data`, like PyTorch exports do.
 *
 * Opset notes for the default opset 17 (what Meta's SAM exporter uses): `ReduceSum` takes `axes` as an input,
 * while `ReduceMean`/`ReduceMax` take it as an attribute (they switched in opset 18); `Unsqueeze`/`Squeeze`/`Slice`/
 * `Pad`/`Clip` take tensors as inputs; there is no `Gelu` op (opset 20), so {@link GraphBuilder.gelu} uses `Erf`
 * like the PyTorch exporter.
 */
import { AttributeType, DataType, encodeModel } from './proto.js';
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from './proto.js';

/** Element types the builder can declare. */
export type DTypeName = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'int8' | 'bool';

/** A dimension: a fixed size or a symbolic name (`dim_param`). */
export type Dim = number | string;

/** Typed arrays accepted as initializer data. */
export type TensorData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;

const DTYPE_CODE: Record<DTypeName, number> = {
  float32: DataType.FLOAT,
  float64: DataType.DOUBLE,
  int64: DataType.INT64,
  int32: DataType.INT32,
  uint8: DataType.UINT8,
  int8: DataType.INT8,
  bool: DataType.BOOL,
};

/** ONNX element type code of a builder dtype name. */
export function dtypeCode(dtype: DTypeName): number {
  return DTYPE_CODE[dtype];
}

/** An attribute value with an explicit ONNX type (use when inference from a JS value would be ambiguous). */
export type TypedAttr =
  | { kind: 'f'; v: number }
  | { kind: 'i'; v: number }
  | { kind: 's'; v: string }
  | { kind: 'floats'; v: number[] }
  | { kind: 'ints'; v: number[] }
  | { kind: 't'; v: TensorProto }
  | { kind: 'g'; v: GraphProto };

/**
 * Attribute value. Plain JS values are inferred: integer number → INT, other number → FLOAT, string → STRING,
 * number[] → INTS when all integers else FLOATS. Use {@link attr} for the ambiguous cases (e.g. `attr.f(1)`).
 */
export type AttrValue = number | string | number[] | TypedAttr;

/** Explicitly typed attribute values. */
export const attr = {
  f: (v: number): TypedAttr => ({ kind: 'f', v }),
  i: (v: number): TypedAttr => ({ kind: 'i', v }),
  s: (v: string): TypedAttr => ({ kind: 's', v }),
  floats: (v: number[]): TypedAttr => ({ kind: 'floats', v }),
  ints: (v: number[]): TypedAttr => ({ kind: 'ints', v }),
  t: (v: TensorProto): TypedAttr => ({ kind: 't', v }),
  g: (v: GraphProto): TypedAttr => ({ kind: 'g', v }),
};

const utf8 = new TextEncoder();

function toAttribute(name: string, value: AttrValue): AttributeProto {
  const typed: TypedAttr =
    typeof value === 'number'
      ? Number.isInteger(value) ? { kind: 'i', v: value } : { kind: 'f', v: value }
      : typeof value === 'string'
        ? { kind: 's', v: value }
        : Array.isArray(value)
          ? value.every(Number.isInteger) ? { kind: 'ints', v: value } : { kind: 'floats', v: value }
          : value;
  switch (typed.kind) {
    case 'f': return { name, type: AttributeType.FLOAT, f: typed.v };
    case 'i': return { name, type: AttributeType.INT, i: typed.v };
    case 's': return { name, type: AttributeType.STRING, s: utf8.encode(typed.v) };
    case 'floats': return { name, type: AttributeType.FLOATS, floats: typed.v };
    case 'ints': return { name, type: AttributeType.INTS, ints: typed.v };
    case 't': return { name, type: AttributeType.TENSOR, t: typed.v };
    case 'g': return { name, type: AttributeType.GRAPH, g: typed.v };
  }
}

function dataTypeOf(data: TensorData): number {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Float64Array) return DataType.DOUBLE;
  if (data instanceof BigInt64Array) return DataType.INT64;
  if (data instanceof Int32Array) return DataType.INT32;
  if (data instanceof Int8Array) return DataType.INT8;
  return DataType.UINT8;
}

/** A TensorProto with little-endian `raw_data` (copied, so later changes to `data` don't leak in). */
export function makeTensor(name: string, data: TensorData, dims: number[], dataType = dataTypeOf(data)): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`tensor ${name}: ${data.length} values for dims [${dims.join(',')}]`);
  const raw = new Uint8Array(data.byteLength);
  raw.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return { name, dims: dims.slice(), data_type: dataType, raw_data: raw };
}

/** A ValueInfoProto of a tensor with the given element type and dims. */
export function makeValueInfo(name: string, dtype: DTypeName, dims: Dim[] | null): ValueInfoProto {
  const tensorType: NonNullable<NonNullable<ValueInfoProto['type']>['tensor_type']> = { elem_type: DTYPE_CODE[dtype] };
  if (dims !== null) {
    tensorType.shape = { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) };
  }
  return { name, type: { tensor_type: tensorType } };
}

/** IR version that goes with an opset of the default domain (per the ONNX versioning table). */
export function irVersionForOpset(opset: number): number {
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  if (opset >= 15) return 8;
  return 7;
}

/** Options of {@link GraphBuilder.node}. */
export interface NodeOptions {
  /** Output names; a number asks for that many generated names. Default: one generated name. */
  outputs?: string[] | number;
  /** Node name; default: generated. */
  name?: string;
  domain?: string;
}

export interface ModelOptions {
  opset?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  /** Extra `metadata_props` entries. */
  metadata?: Record<string, string>;
}

/** Builds one ONNX graph. All methods return tensor names so calls can be chained as expressions. */
export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly valueInfos: ValueInfoProto[] = [];
  private counter = 0;

  constructor(readonly graphName = 'graph') {}

  /** A fresh unique tensor/node name. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  /** Declares a graph input. */
  input(name: string, dtype: DTypeName, dims: Dim[]): string {
    this.inputs.push(makeValueInfo(name, dtype, dims));
    return name;
  }

  /** Declares a graph output (the tensor must be produced by a node or be an input/initializer). */
  output(name: string, dtype: DTypeName, dims: Dim[] | null): void {
    this.outputs.push(makeValueInfo(name, dtype, dims));
  }

  /** Adds a `value_info` entry (optional shape annotation of an intermediate tensor). */
  valueInfo(name: string, dtype: DTypeName, dims: Dim[] | null): void {
    this.valueInfos.push(makeValueInfo(name, dtype, dims));
  }

  /** Adds an initializer and returns its name. */
  init(name: string, data: TensorData, dims: number[]): string {
    this.initializers.push(makeTensor(name, data, dims));
    return name;
  }

  /** A float32 constant initializer (dims default to `[values.length]`; `[]` for a scalar). */
  constF(values: ArrayLike<number>, dims: number[] = [values.length], prefix = 'cf'): string {
    return this.init(this.fresh(prefix), Float32Array.from(values), dims);
  }

  /** An int64 constant initializer (dims default to `[values.length]`). */
  constI(values: ArrayLike<number>, dims: number[] = [values.length], prefix = 'ci'): string {
    return this.init(this.fresh(prefix), BigInt64Array.from(Array.from(values, (v) => BigInt(v))), dims);
  }

  /** Adds a node with one output and returns the output name. */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: NodeOptions = {}): string {
    return this.nodeN(op, inputs, attrs, { ...opts, outputs: opts.outputs ?? 1 })[0]!;
  }

  /** Adds a node and returns all its output names. */
  nodeN(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: NodeOptions = {}): string[] {
    const outs = typeof opts.outputs === 'number' || opts.outputs === undefined
      ? Array.from({ length: (opts.outputs as number | undefined) ?? 1 }, () => this.fresh(op))
      : opts.outputs;
    const node: NodeProto = {
      input: inputs,
      output: outs,
      name: opts.name ?? this.fresh(`n_${op}`),
      op_type: op,
      attribute: Object.entries(attrs).map(([k, v]) => toAttribute(k, v)),
    };
    if (opts.domain) node.domain = opts.domain;
    this.nodes.push(node);
    return outs;
  }

  // ---- Sugar for common ops (opset 17 signatures) ------------------------------------------------------------

  add(a: string, b: string, out?: string): string { return this.node('Add', [a, b], {}, out ? { outputs: [out] } : {}); }
  sub(a: string, b: string, out?: string): string { return this.node('Sub', [a, b], {}, out ? { outputs: [out] } : {}); }
  mul(a: string, b: string, out?: string): string { return this.node('Mul', [a, b], {}, out ? { outputs: [out] } : {}); }
  div(a: string, b: string, out?: string): string { return this.node('Div', [a, b], {}, out ? { outputs: [out] } : {}); }
  matmul(a: string, b: string, out?: string): string { return this.node('MatMul', [a, b], {}, out ? { outputs: [out] } : {}); }

  /** Identity under a chosen name (to give a graph output its contract name). */
  identity(x: string, out: string): string {
    return this.node('Identity', [x], {}, { outputs: [out] });
  }

  /** `Shape` of `x`, optionally restricted to dims `[start, end)` (opset 15 attributes). */
  shape(x: string, start?: number, end?: number): string {
    const attrs: Record<string, AttrValue> = {};
    if (start !== undefined) attrs.start = start;
    if (end !== undefined) attrs.end = end;
    return this.node('Shape', [x], attrs);
  }

  cast(x: string, to: DTypeName): string {
    return this.node('Cast', [x], { to: DTYPE_CODE[to] });
  }

  unsqueeze(x: string, axes: number[]): string {
    return this.node('Unsqueeze', [x, this.constI(axes)]);
  }

  /** Reshape to a constant shape (0 copies the input dim, -1 infers). */
  reshape(x: string, shape: number[] | string): string {
    return this.node('Reshape', [x, typeof shape === 'string' ? shape : this.constI(shape)]);
  }

  transpose(x: string, perm: number[]): string {
    return this.node('Transpose', [x], { perm });
  }

  /** Slice with constant starts/ends (or a tensor name for ends) along `axes`. */
  slice(x: string, starts: number[], ends: number[] | string, axes: number[]): string {
    return this.node('Slice', [x, this.constI(starts), typeof ends === 'string' ? ends : this.constI(ends), this.constI(axes)]);
  }

  concat(xs: string[], axis: number): string {
    return this.node('Concat', xs, { axis });
  }

  /** Sum over `axes` (opset 13+: axes is an input). */
  reduceSum(x: string, axes: number[], keepdims = true): string {
    return this.node('ReduceSum', [x, this.constI(axes)], { keepdims: keepdims ? 1 : 0 });
  }

  /** Mean over `axes` (opset < 18: axes is an attribute). */
  reduceMean(x: string, axes: number[], keepdims = true): string {
    return this.node('ReduceMean', [x], { axes, keepdims: keepdims ? 1 : 0 });
  }

  /** `x @ w + b` for `x [..., K]`, `w [K, N]`, `b [N]` (b optional). */
  linear(x: string, w: string, b?: string): string {
    const y = this.matmul(x, w);
    return b ? this.add(y, b) : y;
  }

  /** Exact GELU as the PyTorch exporter writes it below opset 20: `0.5·x·(1 + erf(x/√2))`. */
  gelu(x: string): string {
    const e = this.node('Erf', [this.div(x, this.constF([Math.SQRT2], []))]);
    const onePlus = this.add(e, this.constF([1], []));
    return this.mul(this.mul(x, onePlus), this.constF([0.5], []));
  }

  /** The graph built so far. */
  toGraph(): GraphProto {
    return {
      node: this.nodes.slice(),
      name: this.graphName,
      initializer: this.initializers.slice(),
      input: this.inputs.slice(),
      output: this.outputs.slice(),
      value_info: this.valueInfos.slice(),
    };
  }

  /** Wraps the graph in a ModelProto importing the default domain at `opset` (default 17). */
  toModel(opts: ModelOptions = {}): ModelProto {
    const opset = opts.opset ?? 17;
    const model: ModelProto = {
      ir_version: irVersionForOpset(opset),
      opset_import: [{ domain: '', version: opset }],
      producer_name: opts.producerName ?? 'sam-amg-builder',
      producer_version: opts.producerVersion ?? '1',
      graph: this.toGraph(),
    };
    if (opts.docString) model.doc_string = opts.docString;
    if (opts.metadata) model.metadata_props = Object.entries(opts.metadata).map(([key, value]) => ({ key, value }));
    return model;
  }

  /** Serialised model bytes. */
  toBytes(opts: ModelOptions = {}): Uint8Array {
    return encodeModel(this.toModel(opts));
  }
}
