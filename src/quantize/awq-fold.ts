// Where AWQ's diag(s)⁻¹ goes: a layer input x = f(source) is divided by s per channel by editing the
// source's constants — a norm's gamma and beta, a per-channel multiplier, or a linear layer's output
// columns and bias — when every op between them commutes with a per-channel scale (reshapes,
// transposes, splits, relu, products with an unscaled operand such as attention's softmax·V, a
// constant bias, which is divided too) and every reader of a scaled channel is one of x's scaled
// layers. So no op is added and the float model computes the same function.
//
// Channels are tracked through shapes as a mixed-radix index: each axis holds digits (size, stride);
// the source channel at a position is offset + Σ digit·stride (stride 0: the digit does not name a
// channel). Reshapes regroup digits, transposes permute axes, splits shift the offset.
import type { Graph, Node } from '../ir/graph.js';
import { consumers, producers } from '../ir/graph.js';
import type { Dim } from '../ir/tensor.js';
import { inferTypes } from '../ir/infer.js';
import { attrsOf } from '../ir/registry.js';
import type { ValueType } from '../ir/op.js';

interface Digit {
  size: Dim;
  stride: number;
}
interface Layout {
  axes: Digit[][];
  offset: number;
}

/** An entry of a constant divided by the scale of x's channel `channel`. */
interface Edit {
  constant: string;
  index: number[];
  /** Source channel of each index. */
  source: number[];
}

/** Dividing x by s: which constant entries divide by which of x's channels. */
export interface FoldSite {
  /** The node whose constants absorb diag(s)⁻¹. */
  source: string;
  edits: { constant: string; index: Int32Array; channel: Int32Array }[];
}

const MOVES = new Set(['reshape', 'squeeze', 'unsqueeze', 'flatten', 'transpose', 'split']);
// f(x/s) = f(x)/s for s > 0.
const HOMOGENEOUS = new Set(['relu', 'leakyRelu', 'identity', 'neg']);

const hasChannels = (axis: Digit[]): boolean => axis.some((d) => d.stride !== 0 && d.size !== 1);

/** The channel each position of a concrete axis adds, or undefined for a symbolic one carrying channels. */
function axisChannels(axis: Digit[]): number[] | undefined {
  let out = [0];
  for (const d of axis) {
    if (typeof d.size !== 'number') return hasChannels([d]) ? undefined : out;
    const next: number[] = [];
    for (const base of out) for (let i = 0; i < d.size; i++) next.push(base + i * d.stride);
    out = next;
  }
  return out;
}

/** Every channel a layout holds, or undefined where a symbolic axis carries channels. */
function channelSet(l: Layout): Set<number> | undefined {
  let out = [l.offset];
  for (const axis of l.axes) {
    if (!hasChannels(axis)) continue;
    const ch = axisChannels(axis);
    if (!ch) return undefined;
    out = out.flatMap((b) => ch.map((c) => b + c));
  }
  return new Set(out);
}

const union = (a: Set<number>, b: Set<number> | undefined): Set<number> | undefined => (b ? new Set([...a, ...b]) : undefined);

/** Digits of `axes` regrouped into `outShape` (same elements, row-major), or undefined where a channel digit would be cut. */
function reshapeLayout(l: Layout, inShape: Dim[], outShape: Dim[]): Layout | undefined {
  const out: Digit[][] = [];
  let i = 0;
  let j = 0;
  while (i < inShape.length || j < outShape.length) {
    if (i < inShape.length && inShape[i] === 1) {
      i++;
      continue;
    }
    if (j < outShape.length && outShape[j] === 1) {
      out.push([{ size: 1, stride: 0 }]);
      j++;
      continue;
    }
    if (i >= inShape.length || j >= outShape.length) return undefined;
    const [a, b] = [inShape[i]!, outShape[j]!];
    if (typeof a !== 'number' || typeof b !== 'number') {
      if (a !== b) return undefined;
      out.push(l.axes[i]!);
      i++;
      j++;
      continue;
    }
    let [pi, pj] = [a, b];
    const ins = [i++];
    const outs = [j++];
    while (pi !== pj) {
      const [src, at] = pi < pj ? [inShape, i] : [outShape, j];
      const d = src[at];
      if (typeof d !== 'number') return undefined;
      if (pi < pj) (pi *= d), ins.push(i++);
      else (pj *= d), outs.push(j++);
    }
    const stack = ins.flatMap((x) => l.axes[x]!);
    const parts: Digit[][] = [];
    for (let o = outs.length - 1; o >= 0; o--) {
      let need = outShape[outs[o]!] as number;
      const axis: Digit[] = [];
      while (need > 1) {
        const d = stack.pop();
        if (!d) return undefined;
        const size = d.size as number;
        if (size === 1) continue;
        if (need % size === 0) {
          axis.unshift(d);
          need /= size;
        } else if (size % need === 0) {
          axis.unshift({ size: need, stride: d.stride });
          stack.push({ size: size / need, stride: d.stride * need });
          need = 1;
        } else return undefined;
      }
      parts.unshift(axis.length ? axis : [{ size: 1, stride: 0 }]);
    }
    if (stack.some((d) => d.size !== 1)) return undefined;
    out.push(...parts);
  }
  return { axes: out, offset: l.offset };
}

/** The layout of an elementwise result of shape `outShape` from a tracked operand (numpy broadcasting). */
function broadcastLayout(l: Layout, outShape: Dim[]): Layout | undefined {
  const lead = outShape.length - l.axes.length;
  if (lead < 0) return undefined;
  const axes = outShape.map((d, a) => (a < lead || !hasChannels(l.axes[a - lead]!) ? [{ size: d, stride: 0 }] : l.axes[a - lead]!));
  return { axes, offset: l.offset };
}

/** Entries of a constant broadcast against a tracked layout, each with its source channel; undefined if it is broadcast across channels. */
function constantChannels(l: Layout, shape: readonly number[]): { index: number[]; source: number[] } | undefined {
  const lead = l.axes.length - shape.length;
  if (lead < 0) return undefined;
  for (let a = 0; a < lead; a++) if (hasChannels(l.axes[a]!)) return undefined;
  const per: number[][] = [];
  for (let a = 0; a < shape.length; a++) {
    const axis = l.axes[a + lead]!;
    if (!hasChannels(axis)) {
      per.push(new Array<number>(shape[a]!).fill(0));
      continue;
    }
    const ch = axisChannels(axis);
    if (!ch || ch.length !== shape[a]) return undefined;
    per.push(ch);
  }
  const index: number[] = [];
  const source: number[] = [];
  const total = shape.reduce((p, d) => p * d, 1);
  for (let f = 0; f < total; f++) {
    let rest = f;
    let c = l.offset;
    for (let a = shape.length - 1; a >= 0; a--) {
      c += per[a]![rest % shape[a]!]!;
      rest = Math.floor(rest / shape[a]!);
    }
    index.push(f);
    source.push(c);
  }
  return { index, source };
}

/** A constant of `graph` read only by `node` (so editing it changes nothing else). */
function ownConstant(graph: Graph, readers: Map<string, Node[]>, name: string | undefined, node: Node): boolean {
  return name !== undefined && graph.constants.has(name) && (readers.get(name) ?? []).every((n) => n === node) && !graph.outputs.some((o) => o.name === name);
}

type Found = { site: FoldSite } | { reason: string };

/**
 * How x (read by the nodes of `group` as their first input) can be divided per channel with no new op,
 * or why it cannot.
 */
export function findFold(graph: Graph, x: string, group: ReadonlySet<Node>, types: Map<string, ValueType> = inferTypes(graph)): Found {
  const prod = producers(graph);
  const readers = consumers(graph);
  const isConst = (v: string): boolean => graph.constants.has(v);
  const floats = (v: string): number[] | undefined => {
    const c = graph.constants.get(v);
    return c && c.dtype === 'float32' ? (c.shape as number[]) : undefined;
  };
  const channelsOf = (v: string): number | undefined => {
    const s = types.get(v)?.shape;
    const last = s?.[s.length - 1];
    return typeof last === 'number' ? last : undefined;
  };
  // Back from x through ops that commute with the scale, to the op whose constants take it.
  let v = x;
  let source: Node | undefined;
  let edits: Edit[] = [];
  for (;;) {
    const p = prod.get(v);
    if (!p) return { reason: `its input ${v} is a model input` };
    const a = attrsOf(p);
    const c = channelsOf(p.outputs[0]!);
    const perChannel = (name: string | undefined): boolean => {
      const s = name ? floats(name) : undefined;
      return s !== undefined && c !== undefined && c > 1 && s.reduce((q, d) => q * d, 1) === c && s[s.length - 1] === c;
    };
    const all = (name: string, n: number, index: (i: number) => number, channel: (i: number) => number): Edit => ({ constant: name, index: Array.from({ length: n }, (_, i) => index(i)), source: Array.from({ length: n }, (_, i) => channel(i)) });
    if (p.op === 'layerNorm' && c !== undefined && (a.axis === -1 || a.axis === (types.get(p.inputs[0]!)?.shape.length ?? 0) - 1) && perChannel(p.inputs[1])) {
      if (p.inputs[2] && !perChannel(p.inputs[2])) return { reason: `${p.name}'s beta is not a per-channel constant` };
      for (const w of [p.inputs[1]!, p.inputs[2]].filter((q): q is string => !!q)) {
        if (!ownConstant(graph, readers, w, p)) return { reason: `${w} of ${p.name} is shared with other nodes` };
        edits.push(all(w, c, (i) => i, (i) => i));
      }
      source = p;
      break;
    }
    if (p.op === 'mul' && c !== undefined) {
      const k = p.inputs.findIndex((i) => perChannel(i));
      if (k >= 0 && !isConst(p.inputs[1 - k]!)) {
        if (!ownConstant(graph, readers, p.inputs[k], p)) return { reason: `${p.inputs[k]} of ${p.name} is shared with other nodes` };
        edits.push(all(p.inputs[k]!, c, (i) => i, (i) => i));
        source = p;
        break;
      }
    }
    if ((p.op === 'dense' || p.op === 'matMul') && isConst(p.inputs[1]!) && c !== undefined) {
      const w = graph.constants.get(p.inputs[1]!)!;
      if (w.dtype !== 'float32' || w.shape.length !== 2 || (p.op === 'matMul' && a.transposeA === true)) return { reason: `${p.name}'s weight is not a float [K, N] matrix` };
      if (!ownConstant(graph, readers, p.inputs[1], p)) return { reason: `${p.inputs[1]} of ${p.name} is shared with other nodes` };
      const rowsFirst = p.op === 'matMul' && a.transposeB === true;
      const k = rowsFirst ? w.shape[1]! : w.shape[0]!;
      edits.push(all(p.inputs[1]!, k * c, (i) => i, (i) => (rowsFirst ? Math.floor(i / k) : i % c)));
      if (p.inputs[2]) {
        if (!perChannel(p.inputs[2]) || !ownConstant(graph, readers, p.inputs[2], p)) return { reason: `${p.name}'s bias is not its own per-channel constant` };
        edits.push(all(p.inputs[2], c, (i) => i, (i) => i));
      }
      source = p;
      break;
    }
    const data = p.inputs.filter((i) => i && !isConst(i));
    if (MOVES.has(p.op) || HOMOGENEOUS.has(p.op) || ((p.op === 'add' || p.op === 'sub') && data.length === 1)) v = data[0]!;
    else if ((p.op === 'mul' || p.op === 'div') && data.length === 1) v = data[0]!;
    else if (p.op === 'matMul' && data.length === 2) v = p.inputs[1]!;
    else return { reason: `its input comes from ${p.op} ${p.name}, which does not commute with a per-channel scale` };
  }

  // Forward from the source: every reader of a scaled channel must pass it on unchanged up to x.
  const outShape = types.get(source.outputs[0]!)!.shape;
  const tracked = new Map<string, Layout>([[source.outputs[0]!, { axes: outShape.map((d, i) => [{ size: d, stride: i === outShape.length - 1 ? 1 : 0 }]), offset: 0 }]]);
  const start = graph.nodes.indexOf(source);
  // Channels that cannot be followed are fine as long as none of them reaches x: the refusals are
  // kept with their channels and checked once x's channels are known.
  const refusals: { why: string; channels: Set<number> | undefined }[] = [];
  for (const node of graph.nodes.slice(start + 1)) {
    const at = node.inputs.map((i) => (i ? tracked.get(i) : undefined));
    const k = at.findIndex((l) => l !== undefined);
    if (k < 0) continue;
    const l = at[k]!;
    const refuse = (why: string): void => {
      refusals.push({ why: `${node.name} (${node.op}) ${why}`, channels: at.reduce<Set<number> | undefined>((set, q) => (q && set ? union(set, channelSet(q)) : set), new Set()) });
    };
    if (at.filter((q) => q).length > 1) {
      refuse('combines two scaled values');
      continue;
    }
    if (group.has(node) && k === 0 && node.inputs[0] === x) continue;
    const shapes = node.outputs.map((o) => types.get(o)?.shape);
    const inShape = types.get(node.inputs[k]!)?.shape;
    if (shapes.some((q) => !q) || !inShape) {
      refuse('has values of unknown shape');
      continue;
    }
    const a = attrsOf(node);
    let outs: (Layout | undefined)[];
    if (HOMOGENEOUS.has(node.op) && k === 0) outs = [l];
    else if (['reshape', 'squeeze', 'unsqueeze', 'flatten'].includes(node.op) && k === 0) outs = [reshapeLayout(l, inShape, shapes[0]!)];
    else if (node.op === 'transpose' && k === 0) outs = [{ axes: (a.perm as number[]).length ? (a.perm as number[]).map((q) => l.axes[q]!) : [...l.axes].reverse(), offset: l.offset }];
    else if (node.op === 'split' && k === 0) {
      const axis = ((a.axis as number) + inShape.length) % inShape.length;
      const digits = l.axes[axis]!;
      let offset = 0;
      outs = shapes.map((q) => {
        const size = q![axis]!;
        const o = hasChannels(digits)
          ? digits.length === 1 && typeof size === 'number'
            ? { axes: l.axes.map((d, i) => (i === axis ? [{ size, stride: digits[0]!.stride }] : d)), offset: l.offset + offset * digits[0]!.stride }
            : undefined
          : { axes: l.axes.map((d, i) => (i === axis ? [{ size, stride: 0 }] : d)), offset: l.offset };
        offset += typeof size === 'number' ? size : 0;
        return o;
      });
    } else if (node.op === 'matMul' && k === 1 && !isConst(node.inputs[0]!)) {
      const rv = l.axes.length;
      const [kAxis, nAxis] = a.transposeB === true ? [rv - 1, rv - 2] : [rv - 2, rv - 1];
      if (hasChannels(l.axes[kAxis]!)) {
        refuse('reduces over scaled channels');
        continue;
      }
      const out = shapes[0]!;
      const lead = out.length - rv;
      outs = [{ axes: out.map((d, i) => (i === out.length - 1 ? l.axes[nAxis]! : i < out.length - 2 && i - lead >= 0 && hasChannels(l.axes[i - lead]!) ? l.axes[i - lead]! : [{ size: d, stride: 0 }])), offset: l.offset }];
    } else if ((node.op === 'mul' || (node.op === 'div' && k === 0)) && node.inputs.length === 2) outs = [broadcastLayout(l, shapes[0]!)];
    else if ((node.op === 'add' || node.op === 'sub') && node.inputs.length === 2 && isConst(node.inputs[1 - k]!)) {
      const name = node.inputs[1 - k]!;
      const shape = floats(name);
      const out = broadcastLayout(l, shapes[0]!);
      const ch = shape && out ? constantChannels(out, shape) : undefined;
      if (!ch) refuse(`adds ${name}, which is not a float constant per scaled channel`);
      else if (!ownConstant(graph, readers, name, node)) refuse(`adds ${name}, which other nodes read too`);
      else edits.push({ constant: name, ...ch });
      outs = ch ? [out] : [];
    } else {
      refuse(group.has(node) ? `reads the channels of ${x} through another value` : 'reads them too');
      continue;
    }
    for (const [i, o] of outs.entries()) {
      if (!o) refuse('regroups the channel axis in a way edgelm cannot follow');
      else if (o.axes.some(hasChannels)) tracked.set(node.outputs[i]!, o);
    }
  }
  for (const o of graph.outputs) {
    const l = tracked.get(o.name);
    if (l) refusals.push({ why: `they reach the model output ${o.name}`, channels: channelSet(l) });
  }
  const at = tracked.get(x);
  if (!at) return { reason: `the channels of ${source.name} do not reach ${x} whole${refusals.length ? `: ${refusals[0]!.why}` : ''}` };
  if (at.axes.slice(0, -1).some(hasChannels)) return { reason: `${x}'s channels are not along its last axis` };
  const map = axisChannels(at.axes[at.axes.length - 1]!)?.map((c) => c + at.offset);
  if (!map || new Set(map).size !== map.length) return { reason: `${x}'s last axis does not name each channel of ${source.name} once` };
  const hit = refusals.find((r) => !r.channels || map.some((c) => r.channels!.has(c)));
  if (hit) return { reason: `the scaled channels of ${source.name} go elsewhere too: ${hit.why}` };
  const jOf = new Map(map.map((c, j) => [c, j]));
  // Entries whose channel does not reach x keep their value.
  edits = edits.map((e) => {
    const keep = e.source.map((c) => jOf.has(c));
    return { constant: e.constant, index: e.index.filter((_, i) => keep[i]), source: e.source.filter((_, i) => keep[i]) };
  });
  return { site: { source: source.name, edits: edits.map((e) => ({ constant: e.constant, index: Int32Array.from(e.index), channel: Int32Array.from(e.source, (c) => jOf.get(c)!) })) } };
}

/** A weight whose input channels are multiplied by s: stored [K, N], or [N, K] when `rowsFirst`. */
export interface ScaledWeight {
  name: string;
  rowsFirst: boolean;
}

/**
 * The graph with each group's weights multiplied by diag(s) along their input axis and diag(s)⁻¹
 * folded into its site; constants are copied, the source graph is left as it was.
 */
export function applyScales(graph: Graph, groups: readonly { site: FoldSite; weights: readonly ScaledWeight[]; s: Float32Array }[]): Graph {
  const constants = new Map(graph.constants);
  const own = new Set<string>();
  const data = (name: string): Float32Array => {
    const t = constants.get(name)!;
    if (!own.has(name)) {
      constants.set(name, { ...t, data: Float32Array.from(t.data as Float32Array) });
      own.add(name);
    }
    return constants.get(name)!.data as Float32Array;
  };
  for (const g of groups) {
    const k = g.s.length;
    for (const w of g.weights) {
      const d = data(w.name);
      const n = d.length / k;
      for (let i = 0; i < d.length; i++) d[i] = d[i]! * g.s[w.rowsFirst ? i % k : Math.floor(i / n)]!;
    }
    for (const e of g.site.edits) {
      const d = data(e.constant);
      for (let i = 0; i < e.index.length; i++) d[e.index[i]!] = d[e.index[i]!]! / g.s[e.channel[i]!]!;
    }
  }
  return { ...graph, constants };
}
