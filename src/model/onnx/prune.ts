/**
 * Output pruning: drop graph outputs a caller does not need, together with the computation only they used.
 *
 * Typical use: Meta's SAM decoder export computes `masks` (a 1024² bilinear upscale plus a resize to the original
 * image size) on every call; an AMG pipeline that works from `low_res_masks` prunes it away.
 */
import { cloneMessage } from './proto.js';
import type { GraphProto, ModelProto, NodeProto } from './proto.js';
import { namesUsedByNode } from './graph.js';

/**
 * Returns a model that computes only the graph outputs named in `keep` (in their original order).
 *
 * - Walks backwards from the kept outputs over node inputs; a kept node keeps all its outputs.
 * - Subgraphs (`If`/`Loop`/`Scan` attributes `g`/`graphs`) are handled conservatively: every name mentioned inside
 *   a kept node's subgraphs counts as used in the enclosing graph.
 * - Initializers, sparse initializers, `value_info` entries and quantization annotations are kept when their
 *   tensor is still used or produced.
 * - ALL declared graph inputs are kept, even if nothing uses them any more: callers feed inputs by the model's
 *   contract, and removing one would make a feed that is valid for the original model fail on the pruned one.
 * - Everything else (opset imports, metadata, functions, training info, unknown fields) is carried over.
 *
 * Throws if a name in `keep` is not a graph output. The input model is not modified; unchanged sub-messages are
 * shared with the result.
 */
export function pruneToOutputs(model: ModelProto, keep: string[]): ModelProto {
  const graph = model.graph;
  if (!graph) throw new Error('model has no graph');
  const outputs = graph.output ?? [];
  const outputNames = new Set(outputs.map((o) => o.name ?? ''));
  for (const k of keep) {
    if (!outputNames.has(k)) throw new Error(`pruneToOutputs: '${k}' is not a graph output (have: ${[...outputNames].join(', ')})`);
  }
  const keepSet = new Set(keep);
  const { nodes, used } = liveNodes(graph.node ?? [], keep);

  const produced = new Set<string>();
  for (const n of nodes) for (const o of n.output ?? []) produced.add(o);
  const live = (name: string | undefined): boolean => name !== undefined && (used.has(name) || produced.has(name));

  const g: GraphProto = cloneMessage(graph);
  g.node = nodes;
  g.output = outputs.filter((o) => keepSet.has(o.name ?? ''));
  g.initializer = (graph.initializer ?? []).filter((t) => used.has(t.name ?? ''));
  g.sparse_initializer = (graph.sparse_initializer ?? []).filter((s) => used.has(s.values?.name ?? ''));
  g.value_info = (graph.value_info ?? []).filter((v) => live(v.name));
  g.quantization_annotation = (graph.quantization_annotation ?? []).filter((a) => live(a.tensor_name));
  // Inputs stay as declared (see the doc comment).
  g.input = (graph.input ?? []).slice();

  const m = cloneMessage(model);
  m.graph = g;
  return m;
}

/**
 * The nodes needed for `targets`, in their original (topological) order, and the set of all names they use.
 * Works on any node order: a producer map plus a worklist, not a single reverse pass.
 */
function liveNodes(nodes: NodeProto[], targets: string[]): { nodes: NodeProto[]; used: Set<string> } {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) if (o) producer.set(o, i);
  });
  const used = new Set<string>();
  const keepNode = new Set<number>();
  const work = [...targets];
  while (work.length > 0) {
    const name = work.pop()!;
    if (used.has(name)) continue;
    used.add(name);
    const i = producer.get(name);
    if (i === undefined || keepNode.has(i)) continue;
    keepNode.add(i);
    for (const dep of namesUsedByNode(nodes[i]!)) if (!used.has(dep)) work.push(dep);
  }
  return { nodes: nodes.filter((_, i) => keepNode.has(i)), used };
}
