/**
 * ONNX protobuf round trip (lossless, unknown fields kept), output pruning and dim edits.
 */
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, attr } from '../src/model/onnx/builder.js';
import { formatDims, modelIo, setInputDim, setOutputDim } from '../src/model/onnx/graph.js';
import { decodeModel, encodeModel, int64ToNumber, isExactInt64 } from '../src/model/onnx/proto.js';
import type { ModelProto, NodeProto } from '../src/model/onnx/proto.js';
import { pruneToOutputs } from '../src/model/onnx/prune.js';
import { oracleDecoder, randomSamDecoder } from './fixtures/index.js';

const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
const session = (bytes: Uint8Array) => ort.InferenceSession.create(Buffer.from(bytes));
const f32 = (data: ArrayLike<number>, dims: number[]) => new ort.Tensor('float32', Float32Array.from(data), dims);

/** A length-delimited protobuf field `(field << 3) | 2`, payload given as bytes (field < 16, payload < 128 bytes). */
function rawField(field: number, payload: Uint8Array): Uint8Array {
  return Uint8Array.from([(field << 3) | 2, payload.length, ...payload]);
}

/** Unknown ModelProto field 26 (length-delimited, payload `08 05`). */
const TOP_UNKNOWN = Uint8Array.from([0xd2, 0x01, 0x02, 0x08, 0x05]);

/** x [1,4,64,64] → `small` = Relu(x)·2 (cheap), `big` = Resize(x) to [1,4,1024,1024] (expensive). */
function twoOutputModel(): GraphBuilder {
  const b = new GraphBuilder('two_outputs');
  const x = b.input('x', 'float32', [1, 4, 64, 64]);
  b.mul(b.node('Relu', [x]), b.constF([2], []), 'small');
  b.node('Resize', [x, '', '', b.constI([1, 4, 1024, 1024])], { mode: 'linear' }, { outputs: ['big'] });
  b.output('small', 'float32', [1, 4, 64, 64]);
  b.output('big', 'float32', [1, 4, 1024, 1024]);
  return b;
}

async function timeRuns(s: ort.InferenceSession, feeds: Record<string, ort.Tensor>, n: number): Promise<number> {
  await s.run(feeds);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await s.run(feeds);
  return (performance.now() - t0) / n;
}

describe('ONNX protobuf round trip', () => {
  it('re-encodes built models byte for byte', () => {
    for (const bytes of [twoOutputModel().toBytes(), oracleDecoder({ m: 1 }), randomSamDecoder({ m: 4, dim: 16, seed: 3 })]) {
      expect(sameBytes(encodeModel(decodeModel(bytes)), bytes)).toBe(true);
    }
  });

  it('keeps unknown fields at every level (model, graph, node, tensor)', () => {
    const model = twoOutputModel().toModel();
    const node = model.graph!.node![0]!;
    node.$unknowns = [rawField(10, Uint8Array.from([1, 2, 3]))]; // e.g. a future NodeProto field
    // Varint field 99 = 42: tag (99 << 3) | 0 = 792 → varint bytes 0x98 0x06.
    model.graph!.initializer![0]!.$unknowns = [Uint8Array.from([0x98, 0x06, 42])];
    const bytes = encodeModel(model);
    // A future ModelProto field 26 (IR 11 `configuration`) holding a message {1: 5}: tag 0xd2 0x01, length 2.
    // Appended after the known fields, as C++ protobuf writes unknown fields.
    const withTop = Buffer.concat([bytes, TOP_UNKNOWN]);
    const decoded = decodeModel(withTop);
    expect(decoded.$unknowns).toHaveLength(1);
    expect(decoded.graph!.node![0]!.$unknowns).toHaveLength(1);
    expect(decoded.graph!.initializer![0]!.$unknowns).toHaveLength(1);
    expect(sameBytes(encodeModel(decoded), withTop)).toBe(true);
    // They survive pruning too.
    const pruned = pruneToOutputs(decoded, ['small']);
    const again = decodeModel(encodeModel(pruned));
    expect(again.$unknowns).toHaveLength(1);
    expect(again.graph!.node!.find((n) => n.op_type === 'Relu')!.$unknowns).toHaveLength(1);
  });

  it('is semantically stable when unknown fields are interleaved', () => {
    const bytes = twoOutputModel().toBytes();
    // Unknown field 26 placed FIRST: re-encoding moves it last, but nothing is lost.
    const interleaved = Buffer.concat([TOP_UNKNOWN, bytes]);
    const once = encodeModel(decodeModel(interleaved));
    expect(once.length).toBe(interleaved.length);
    expect(sameBytes(encodeModel(decodeModel(once)), once)).toBe(true);
    expect(sameBytes(once.subarray(0, bytes.length), bytes)).toBe(true);
  });

  it('keeps int64 values beyond 2^53 exact and explicit zero defaults', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [4]);
    // Old-style Slice attributes: ends = INT64_MAX (as exporters write "to the end").
    b.node('Identity', [x], { big: attr.ints([0]), zero: attr.i(0), fzero: attr.f(0) }, { outputs: ['y'] });
    b.output('y', 'float32', [4]);
    const model = b.toModel();
    const a = model.graph!.node![0]!.attribute![0]!;
    a.ints = [{ low: -1, high: 0x7fffffff, unsigned: false }];
    const bytes = encodeModel(model);
    const decoded = decodeModel(bytes);
    const [big] = decoded.graph!.node![0]!.attribute![0]!.ints!;
    expect(isExactInt64(big!)).toBe(false);
    expect(String(big)).toBe('9223372036854775807');
    expect(sameBytes(encodeModel(decoded), bytes)).toBe(true);
    const zero = decoded.graph!.node![0]!.attribute!.find((t) => t.name === 'zero')!;
    expect(Object.prototype.hasOwnProperty.call(zero, 'i')).toBe(true);
    expect(int64ToNumber(zero.i)).toBe(0);
    expect(typeof decoded.ir_version).toBe('number');
    expect(decoded.graph!.input![0]!.type!.tensor_type!.shape!.dim![0]!.dim_value).toBe(4);
  });
});

describe('pruneToOutputs', () => {
  it('drops an expensive unused output branch and keeps the results', async () => {
    const bytes = twoOutputModel().toBytes();
    const pruned = pruneToOutputs(decodeModel(bytes), ['small']);
    expect(pruned.graph!.node!.some((n) => n.op_type === 'Resize')).toBe(false);
    expect(pruned.graph!.output!.map((o) => o.name)).toEqual(['small']);
    expect(pruned.graph!.input!.map((o) => o.name)).toEqual(['x']);
    // The Resize's `sizes` initializer went with it.
    expect(pruned.graph!.initializer!.length).toBe(1);
    const full = await session(bytes);
    const small = await session(encodeModel(pruned));
    const feeds = { x: f32(Array.from({ length: 4 * 64 * 64 }, (_, i) => Math.cos(i)), [1, 4, 64, 64]) };
    const a = await full.run(feeds);
    const b = await small.run(feeds);
    expect(b.small!.data).toEqual(a.small!.data);
    const tFull = await timeRuns(full, feeds, 5);
    const tPruned = await timeRuns(small, feeds, 5);
    console.log(`two-output model: full ${tFull.toFixed(2)} ms, pruned ${tPruned.toFixed(2)} ms, ratio ${(tFull / tPruned).toFixed(1)}×`);
  });

  it('prunes `masks` from a SAM decoder: same iou/low-res outputs, faster calls', async () => {
    const bytes = randomSamDecoder({ m: 4, dim: 32, seed: 1 });
    const decoded = decodeModel(bytes);
    const pruned = pruneToOutputs(decoded, ['iou_predictions', 'low_res_masks']);
    expect(pruned.graph!.node!.some((n) => n.op_type === 'Resize')).toBe(false);
    // All declared inputs stay (orig_im_size is now unused but still part of the contract).
    expect(modelIo(pruned).inputs.map((i) => i.name)).toEqual(modelIo(decoded).inputs.map((i) => i.name));
    const full = await session(bytes);
    const small = await session(encodeModel(pruned));
    expect(small.outputNames).toEqual(['iou_predictions', 'low_res_masks']);
    expect(small.inputNames).toEqual(full.inputNames); // ORT keeps the now-unused orig_im_size input
    const feeds = {
      image_embeddings: f32(Array.from({ length: 256 * 4096 }, (_, i) => Math.sin(i * 0.1)), [1, 256, 64, 64]),
      point_coords: f32([300, 200, 0, 0], [1, 2, 2]),
      point_labels: f32([1, -1], [1, 2]),
      mask_input: f32(new Float32Array(65536), [1, 1, 256, 256]),
      has_mask_input: f32([0], [1]),
      orig_im_size: f32([1200, 1800], [2]),
    };
    const a = await full.run(feeds);
    const b = await small.run(feeds);
    expect(b.low_res_masks!.data).toEqual(a.low_res_masks!.data);
    expect(b.iou_predictions!.data).toEqual(a.iou_predictions!.data);
    const tFull = await timeRuns(full, feeds, 8);
    const tPruned = await timeRuns(small, feeds, 8);
    console.log(`random decoder dim 32 (orig 1200×1800): full ${tFull.toFixed(1)} ms/call, pruned ${tPruned.toFixed(1)} ms/call, ratio ${(tFull / tPruned).toFixed(2)}×`);
  });

  it('treats names used inside subgraphs (If branches) as used', async () => {
    const branch = (name: string, op: string) => {
      const g = new GraphBuilder(name);
      g.node(op, ['outer'], {}, { outputs: [`${name}_out`] });
      g.output(`${name}_out`, 'float32', [2]);
      return g.toGraph();
    };
    const b = new GraphBuilder('with_if');
    const x = b.input('x', 'float32', [2]);
    const cond = b.input('cond', 'bool', []);
    b.node('Mul', [x, b.constF([3, 3])], {}, { outputs: ['outer'] }); // only referenced from the branches
    b.node('If', [cond], { then_branch: attr.g(branch('then', 'Identity')), else_branch: attr.g(branch('else', 'Neg')) }, { outputs: ['y'] });
    b.node('Exp', [x], {}, { outputs: ['z'] });
    b.output('y', 'float32', [2]);
    b.output('z', 'float32', [2]);
    const pruned = pruneToOutputs(decodeModel(b.toBytes()), ['y']);
    expect(pruned.graph!.node!.map((n: NodeProto) => n.op_type)).toEqual(['Mul', 'If']);
    const s = await session(encodeModel(pruned));
    const out = await s.run({ x: f32([1, 2], [2]), cond: new ort.Tensor('bool', [false], []) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([-3, -6]);
  });

  it('rejects names that are not graph outputs and leaves its input untouched', () => {
    const model = decodeModel(twoOutputModel().toBytes());
    expect(() => pruneToOutputs(model, ['nope'])).toThrow(/not a graph output/);
    const before = encodeModel(model);
    pruneToOutputs(model, ['small']);
    expect(sameBytes(encodeModel(model), before)).toBe(true);
  });
});

describe('setInputDim / setOutputDim / modelIo', () => {
  const model: ModelProto = decodeModel(oracleDecoder({ m: 4 }));

  it('lists I/O with dim values and params', () => {
    const io = modelIo(model);
    expect(io.inputs.map((i) => `${i.name}${formatDims(i.dims)}`)).toEqual([
      'image_embeddings[1,256,64,64]',
      'point_coords[1,"num_points",2]',
      'point_labels[1,"num_points"]',
      'mask_input[1,1,256,256]',
      'has_mask_input[1]',
      'orig_im_size[2]',
    ]);
    expect(io.outputs.map((o) => o.dtype)).toEqual(['float32', 'float32', 'float32']);
  });

  it('edits one dim without touching the original', () => {
    const edited = setOutputDim(setInputDim(model, 'point_coords', 0, 'batch'), 'iou_predictions', 1, 7);
    expect(modelIo(edited).inputs[1]!.dims).toEqual(['batch', 'num_points', 2]);
    expect(modelIo(edited).outputs[1]!.dims).toEqual([1, 7]);
    expect(modelIo(model).inputs[1]!.dims).toEqual([1, 'num_points', 2]);
    expect(() => setInputDim(model, 'nope', 0, 'b')).toThrow(/no graph input/);
    expect(() => setInputDim(model, 'orig_im_size', 3, 'b')).toThrow(/rank 1/);
  });
});
