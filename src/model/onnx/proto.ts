/**
 * ONNX protobuf schema and (de)serialisation.
 *
 * The schema is our own protobufjs JSON descriptor of `onnx.proto` (proto2, package `onnx`), written from the
 * field numbers of the official file (IR version 10 era: `FunctionProto`, `TypeProto.Optional`/`SparseTensor`,
 * `NodeProto.overload`, `metadata_props` on nodes, graphs, tensors and value infos). `TypeProto.opaque_type`
 * (field 7) comes from `onnx-ml.proto`, which is what the `onnx` Python package serialises with.
 *
 * Lossless round trip (why it matters: we prune third-party models and must never silently drop data):
 * - protobufjs 8 keeps unknown fields when the reader's `discardUnknown` is false: each message gets a
 *   non-enumerable `$unknowns: Uint8Array[]` that `encode` writes back after the known fields. We set that flag on
 *   our own reader instance, so fields newer than this schema (e.g. IR 11 device configurations) survive.
 *   They come back after the known fields of their message; C++ protobuf also writes unknown fields last, so a file
 *   written by C++ protobuf re-encodes byte for byte unless it interleaved unknown fields (semantically equal then).
 * - The descriptor is proto2 (`edition: 'proto2'` on every top-level type): explicit presence for optional
 *   scalars, so an explicitly serialised default (`i: 0`, `f: 0`) is written back; repeated scalars are unpacked
 *   except the five `[packed = true]` data fields of `TensorProto`, exactly as in `onnx.proto`.
 * - Enum-typed fields (`AttributeProto.type`, `TensorProto.data_location`) are declared `int32` (same wire format)
 *   so that unknown enum values stay in place instead of moving to `$unknowns`.
 * - Fields are encoded in field-number order, as C++ protobuf does.
 *
 * int64 handling: decoded 64-bit integers are JS `number`s when they are safe integers; values beyond 2^53 (e.g.
 * INT64_MAX used as a Slice end in an `ints` attribute) stay as `Long`-like objects `{low, high, unsigned}` so that
 * they re-encode exactly. This is done by overriding the 64-bit read methods on our reader instance only; the
 * global protobufjs configuration is not touched. Use {@link int64ToNumber} to read such values. The encoder
 * accepts both numbers and `Long`s.
 *
 * Messages decoded by protobufjs are class instances whose prototypes carry defaults (empty frozen arrays for
 * repeated fields, '' for strings). Treat them as read-only: never `push` into a repeated field of a decoded
 * message; assign a new array instead (see {@link cloneMessage}).
 */
import protobuf from 'protobufjs';

/** A 64-bit integer as decoded: a number when it is a safe integer, else a `Long`-like object. */
export type Int64 = number | LongLike;

/** Shape of protobufjs' `Long` (from the `long` package) as far as we need it. */
export interface LongLike {
  low: number;
  high: number;
  unsigned: boolean;
  toNumber?: () => number;
  toString?: () => string;
}

/** Unknown fields preserved by the decoder (raw wire bytes including tags). */
export interface HasUnknowns {
  $unknowns?: Uint8Array[];
}

export interface StringStringEntryProto extends HasUnknowns {
  key?: string;
  value?: string;
}

export interface OperatorSetIdProto extends HasUnknowns {
  domain?: string;
  version?: Int64;
}

export interface TensorShapeDimension extends HasUnknowns {
  dim_value?: Int64;
  dim_param?: string;
  denotation?: string;
}

export interface TensorShapeProto extends HasUnknowns {
  dim?: TensorShapeDimension[];
}

export interface TypeProtoTensor extends HasUnknowns {
  elem_type?: number;
  shape?: TensorShapeProto;
}

export interface TypeProto extends HasUnknowns {
  tensor_type?: TypeProtoTensor;
  sequence_type?: { elem_type?: TypeProto } & HasUnknowns;
  map_type?: { key_type?: number; value_type?: TypeProto } & HasUnknowns;
  optional_type?: { elem_type?: TypeProto } & HasUnknowns;
  sparse_tensor_type?: TypeProtoTensor;
  opaque_type?: { domain?: string; name?: string } & HasUnknowns;
  denotation?: string;
}

export interface ValueInfoProto extends HasUnknowns {
  name?: string;
  type?: TypeProto;
  doc_string?: string;
  metadata_props?: StringStringEntryProto[];
}

export interface TensorProto extends HasUnknowns {
  dims?: Int64[];
  data_type?: number;
  segment?: { begin?: Int64; end?: Int64 } & HasUnknowns;
  float_data?: number[];
  int32_data?: number[];
  string_data?: Uint8Array[];
  int64_data?: Int64[];
  name?: string;
  doc_string?: string;
  raw_data?: Uint8Array;
  external_data?: StringStringEntryProto[];
  data_location?: number;
  double_data?: number[];
  uint64_data?: Int64[];
  metadata_props?: StringStringEntryProto[];
}

export interface SparseTensorProto extends HasUnknowns {
  values?: TensorProto;
  indices?: TensorProto;
  dims?: Int64[];
}

export interface AttributeProto extends HasUnknowns {
  name?: string;
  ref_attr_name?: string;
  doc_string?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparse_tensor?: SparseTensorProto;
  tp?: TypeProto;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  sparse_tensors?: SparseTensorProto[];
  type_protos?: TypeProto[];
}

export interface NodeProto extends HasUnknowns {
  input?: string[];
  output?: string[];
  name?: string;
  op_type?: string;
  domain?: string;
  overload?: string;
  attribute?: AttributeProto[];
  doc_string?: string;
  metadata_props?: StringStringEntryProto[];
}

export interface TensorAnnotation extends HasUnknowns {
  tensor_name?: string;
  quant_parameter_tensor_names?: StringStringEntryProto[];
}

export interface GraphProto extends HasUnknowns {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  sparse_initializer?: SparseTensorProto[];
  doc_string?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  value_info?: ValueInfoProto[];
  quantization_annotation?: TensorAnnotation[];
  metadata_props?: StringStringEntryProto[];
}

export interface TrainingInfoProto extends HasUnknowns {
  initialization?: GraphProto;
  algorithm?: GraphProto;
  initialization_binding?: StringStringEntryProto[];
  update_binding?: StringStringEntryProto[];
}

export interface FunctionProto extends HasUnknowns {
  name?: string;
  input?: string[];
  output?: string[];
  attribute?: string[];
  attribute_proto?: AttributeProto[];
  node?: NodeProto[];
  doc_string?: string;
  opset_import?: OperatorSetIdProto[];
  domain?: string;
  overload?: string;
  value_info?: ValueInfoProto[];
  metadata_props?: StringStringEntryProto[];
}

export interface ModelProto extends HasUnknowns {
  ir_version?: Int64;
  opset_import?: OperatorSetIdProto[];
  producer_name?: string;
  producer_version?: string;
  domain?: string;
  model_version?: Int64;
  doc_string?: string;
  graph?: GraphProto;
  metadata_props?: StringStringEntryProto[];
  training_info?: TrainingInfoProto[];
  functions?: FunctionProto[];
}

/** `TensorProto.DataType` values. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
} as const;

/** `AttributeProto.AttributeType` values. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Descriptor helpers: keep the table below readable.

type FieldJson = { id: number; type: string; rule?: 'repeated'; options?: Record<string, unknown> };

const opt = (id: number, type: string): FieldJson => ({ id, type });
const rep = (id: number, type: string): FieldJson => ({ id, type, rule: 'repeated' });
const packed = (id: number, type: string): FieldJson => ({ id, type, rule: 'repeated', options: { packed: true } });

/** A proto2 message type; `oneofs` lists oneof groups by name. */
function msg(
  fields: Record<string, FieldJson>,
  extra: { nested?: Record<string, unknown>; oneofs?: Record<string, string[]> } = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = { edition: 'proto2', fields };
  if (extra.nested) out.nested = extra.nested;
  if (extra.oneofs) out.oneofs = Object.fromEntries(Object.entries(extra.oneofs).map(([k, v]) => [k, { oneof: v }]));
  return out;
}

/** Field numbers checked against onnx/onnx `onnx/onnx.proto` (IR 10). Nested types inherit proto2. */
const ONNX_DESCRIPTOR = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: msg({
          name: opt(1, 'string'),
          f: opt(2, 'float'),
          i: opt(3, 'int64'),
          s: opt(4, 'bytes'),
          t: opt(5, 'TensorProto'),
          g: opt(6, 'GraphProto'),
          floats: rep(7, 'float'),
          ints: rep(8, 'int64'),
          strings: rep(9, 'bytes'),
          tensors: rep(10, 'TensorProto'),
          graphs: rep(11, 'GraphProto'),
          doc_string: opt(13, 'string'),
          tp: opt(14, 'TypeProto'),
          type_protos: rep(15, 'TypeProto'),
          type: opt(20, 'int32'),
          ref_attr_name: opt(21, 'string'),
          sparse_tensor: opt(22, 'SparseTensorProto'),
          sparse_tensors: rep(23, 'SparseTensorProto'),
        }),
        ValueInfoProto: msg({
          name: opt(1, 'string'),
          type: opt(2, 'TypeProto'),
          doc_string: opt(3, 'string'),
          metadata_props: rep(4, 'StringStringEntryProto'),
        }),
        NodeProto: msg({
          input: rep(1, 'string'),
          output: rep(2, 'string'),
          name: opt(3, 'string'),
          op_type: opt(4, 'string'),
          attribute: rep(5, 'AttributeProto'),
          doc_string: opt(6, 'string'),
          domain: opt(7, 'string'),
          overload: opt(8, 'string'),
          metadata_props: rep(9, 'StringStringEntryProto'),
        }),
        TrainingInfoProto: msg({
          initialization: opt(1, 'GraphProto'),
          algorithm: opt(2, 'GraphProto'),
          initialization_binding: rep(3, 'StringStringEntryProto'),
          update_binding: rep(4, 'StringStringEntryProto'),
        }),
        ModelProto: msg({
          ir_version: opt(1, 'int64'),
          producer_name: opt(2, 'string'),
          producer_version: opt(3, 'string'),
          domain: opt(4, 'string'),
          model_version: opt(5, 'int64'),
          doc_string: opt(6, 'string'),
          graph: opt(7, 'GraphProto'),
          opset_import: rep(8, 'OperatorSetIdProto'),
          metadata_props: rep(14, 'StringStringEntryProto'),
          training_info: rep(20, 'TrainingInfoProto'),
          functions: rep(25, 'FunctionProto'),
        }),
        StringStringEntryProto: msg({ key: opt(1, 'string'), value: opt(2, 'string') }),
        TensorAnnotation: msg({
          tensor_name: opt(1, 'string'),
          quant_parameter_tensor_names: rep(2, 'StringStringEntryProto'),
        }),
        GraphProto: msg({
          node: rep(1, 'NodeProto'),
          name: opt(2, 'string'),
          initializer: rep(5, 'TensorProto'),
          doc_string: opt(10, 'string'),
          input: rep(11, 'ValueInfoProto'),
          output: rep(12, 'ValueInfoProto'),
          value_info: rep(13, 'ValueInfoProto'),
          quantization_annotation: rep(14, 'TensorAnnotation'),
          sparse_initializer: rep(15, 'SparseTensorProto'),
          metadata_props: rep(16, 'StringStringEntryProto'),
        }),
        TensorProto: msg(
          {
            dims: rep(1, 'int64'),
            data_type: opt(2, 'int32'),
            segment: opt(3, 'Segment'),
            float_data: packed(4, 'float'),
            int32_data: packed(5, 'int32'),
            string_data: rep(6, 'bytes'),
            int64_data: packed(7, 'int64'),
            name: opt(8, 'string'),
            raw_data: opt(9, 'bytes'),
            double_data: packed(10, 'double'),
            uint64_data: packed(11, 'uint64'),
            doc_string: opt(12, 'string'),
            external_data: rep(13, 'StringStringEntryProto'),
            data_location: opt(14, 'int32'),
            metadata_props: rep(16, 'StringStringEntryProto'),
          },
          { nested: { Segment: msg({ begin: opt(1, 'int64'), end: opt(2, 'int64') }) } },
        ),
        SparseTensorProto: msg({
          values: opt(1, 'TensorProto'),
          indices: opt(2, 'TensorProto'),
          dims: rep(3, 'int64'),
        }),
        TensorShapeProto: msg(
          { dim: rep(1, 'Dimension') },
          {
            nested: {
              Dimension: msg(
                { dim_value: opt(1, 'int64'), dim_param: opt(2, 'string'), denotation: opt(3, 'string') },
                { oneofs: { value: ['dim_value', 'dim_param'] } },
              ),
            },
          },
        ),
        TypeProto: msg(
          {
            tensor_type: opt(1, 'Tensor'),
            sequence_type: opt(4, 'Sequence'),
            map_type: opt(5, 'Map'),
            denotation: opt(6, 'string'),
            opaque_type: opt(7, 'Opaque'),
            sparse_tensor_type: opt(8, 'SparseTensor'),
            optional_type: opt(9, 'Optional'),
          },
          {
            oneofs: {
              value: ['tensor_type', 'sequence_type', 'map_type', 'opaque_type', 'sparse_tensor_type', 'optional_type'],
            },
            nested: {
              Tensor: msg({ elem_type: opt(1, 'int32'), shape: opt(2, 'TensorShapeProto') }),
              Sequence: msg({ elem_type: opt(1, 'TypeProto') }),
              Map: msg({ key_type: opt(1, 'int32'), value_type: opt(2, 'TypeProto') }),
              Optional: msg({ elem_type: opt(1, 'TypeProto') }),
              SparseTensor: msg({ elem_type: opt(1, 'int32'), shape: opt(2, 'TensorShapeProto') }),
              Opaque: msg({ domain: opt(1, 'string'), name: opt(2, 'string') }),
            },
          },
        ),
        OperatorSetIdProto: msg({ domain: opt(1, 'string'), version: opt(2, 'int64') }),
        FunctionProto: msg({
          name: opt(1, 'string'),
          input: rep(4, 'string'),
          output: rep(5, 'string'),
          attribute: rep(6, 'string'),
          node: rep(7, 'NodeProto'),
          doc_string: opt(8, 'string'),
          opset_import: rep(9, 'OperatorSetIdProto'),
          domain: opt(10, 'string'),
          attribute_proto: rep(11, 'AttributeProto'),
          value_info: rep(12, 'ValueInfoProto'),
          overload: opt(13, 'string'),
          metadata_props: rep(14, 'StringStringEntryProto'),
        }),
      },
    },
  },
};

/** The protobufjs root holding the `onnx.*` types. */
export const onnxRoot: protobuf.Root = protobuf.Root.fromJSON(ONNX_DESCRIPTOR as protobuf.INamespace);

/** Reflected message types, for callers that need other messages than `ModelProto`. */
export const onnxTypes = {
  ModelProto: onnxRoot.lookupType('onnx.ModelProto'),
  GraphProto: onnxRoot.lookupType('onnx.GraphProto'),
  NodeProto: onnxRoot.lookupType('onnx.NodeProto'),
  TensorProto: onnxRoot.lookupType('onnx.TensorProto'),
  ValueInfoProto: onnxRoot.lookupType('onnx.ValueInfoProto'),
  AttributeProto: onnxRoot.lookupType('onnx.AttributeProto'),
};

// ---------------------------------------------------------------------------------------------------------------
// int64 handling on our reader instance.

function isLongLike(v: unknown): v is LongLike {
  return typeof v === 'object' && v !== null && 'low' in v && 'high' in v;
}

/** A `Long` → number when exact, else the `Long` itself (so it re-encodes exactly). */
function narrowLong(v: unknown): Int64 {
  if (typeof v === 'number') return v;
  if (isLongLike(v)) {
    const n = longToNumber(v);
    if (Number.isSafeInteger(n)) return n;
    return v;
  }
  throw new TypeError(`unexpected 64-bit value ${String(v)}`);
}

function longToNumber(v: LongLike): number {
  if (typeof v.toNumber === 'function') return v.toNumber();
  const hi = v.unsigned ? v.high >>> 0 : v.high | 0;
  return hi * 4294967296 + (v.low >>> 0);
}

/**
 * Converts a decoded int64 to a number. Values beyond 2^53 lose precision (e.g. INT64_MAX becomes 2^63); use this
 * only where that does not matter (dims, opset versions) or check {@link isExactInt64} first.
 */
export function int64ToNumber(v: Int64 | undefined | null): number {
  if (v === undefined || v === null) return 0;
  return typeof v === 'number' ? v : longToNumber(v);
}

/** Whether {@link int64ToNumber} is exact for this value. */
export function isExactInt64(v: Int64): boolean {
  return typeof v === 'number' || Number.isSafeInteger(longToNumber(v));
}

const LONG_READERS = ['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64'] as const;

/** A reader over `bytes` that keeps unknown fields and narrows 64-bit integers (see file header). */
function losslessReader(bytes: Uint8Array): protobuf.Reader {
  const r = protobuf.Reader.create(bytes);
  r.discardUnknown = false;
  const methods = r as unknown as Record<string, (this: protobuf.Reader) => unknown>;
  for (const m of LONG_READERS) {
    const orig = methods[m]!;
    // Instance-level override: the generated decoders (and the packed `int64s()` helpers) call `r.int64()`.
    methods[m] = function (this: protobuf.Reader) {
      return narrowLong(orig.call(this));
    };
  }
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// Public (de)serialisation.

/** Decodes an ONNX model (`.onnx` bytes). Unknown fields are preserved (see file header). */
export function decodeModel(bytes: Uint8Array): ModelProto {
  return onnxTypes.ModelProto.decode(losslessReader(bytes)) as unknown as ModelProto;
}

/** Encodes a model (decoded or built from plain objects) to `.onnx` bytes. */
export function encodeModel(model: ModelProto): Uint8Array {
  const out = onnxTypes.ModelProto.encode(model as unknown as protobuf.Message).finish();
  // protobufjs returns a Buffer slice in Node; hand out a plain view with the same bytes.
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Decodes any message of the schema, e.g. `decodeMessage('onnx.TensorProto', bytes)`. */
export function decodeMessage<T>(typeName: string, bytes: Uint8Array): T {
  return onnxRoot.lookupType(typeName).decode(losslessReader(bytes)) as unknown as T;
}

/** Encodes any message of the schema. */
export function encodeMessage(typeName: string, message: object): Uint8Array {
  const out = onnxRoot.lookupType(typeName).encode(message as protobuf.Message).finish();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Shallow copy of a message that keeps its prototype (protobufjs defaults) and its preserved unknown fields.
 * Use it before changing fields of a decoded message so the original stays untouched.
 */
export function cloneMessage<T extends object>(message: T): T {
  const copy = Object.create(Object.getPrototypeOf(message) as object | null) as T;
  Object.assign(copy, message);
  const unknowns = (message as HasUnknowns).$unknowns;
  if (unknowns && Object.prototype.hasOwnProperty.call(message, '$unknowns')) {
    // Non-enumerable on decoded messages, so Object.assign skipped it.
    Object.defineProperty(copy, '$unknowns', { value: unknowns.slice(), enumerable: false, writable: true, configurable: true });
  }
  return copy;
}

/** Whether a message has a field of its own (protobufjs puts defaults on the prototype). */
export function hasField(message: object | undefined, field: string): boolean {
  return message !== undefined && Object.prototype.hasOwnProperty.call(message, field);
}

/** ONNX element type → the name onnxruntime uses for tensors (`'float32'`, `'int64'`, ...). */
export function dataTypeName(elemType: number): string {
  switch (elemType) {
    case DataType.FLOAT: return 'float32';
    case DataType.UINT8: return 'uint8';
    case DataType.INT8: return 'int8';
    case DataType.UINT16: return 'uint16';
    case DataType.INT16: return 'int16';
    case DataType.INT32: return 'int32';
    case DataType.INT64: return 'int64';
    case DataType.STRING: return 'string';
    case DataType.BOOL: return 'bool';
    case DataType.FLOAT16: return 'float16';
    case DataType.DOUBLE: return 'float64';
    case DataType.UINT32: return 'uint32';
    case DataType.UINT64: return 'uint64';
    case DataType.BFLOAT16: return 'bfloat16';
    default: return `onnx-type-${elemType}`;
  }
}
