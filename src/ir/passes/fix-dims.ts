// Fixes run-time dims to sizes, for writers whose shapes are static (TFLite) and for a user's
// `--shape NAME=1x128`. Every symbol is replaced in the inputs, outputs and dim attributes; range
// and fill nodes that become static are folded to constants, so a writer never sees a symbol.
import { EdgelmError } from '../../errors.js';
import { allocate } from '../dtype.js';
import { bindShape, dimSymbols, evalDim, isStaticDim, substituteDim, type Dim } from '../dim.js';
import type { AttrValue, Graph, Node } from '../graph.js';
import { inferTypes } from '../infer.js';
import { opDef } from '../registry.js';
import { sizeOf, type Tensor } from '../tensor.js';
import { hasValueInputs } from '../value-dims.js';

/** One chosen size and why it was chosen, for the command's output and the report. */
export interface DimChoice {
  symbol: string;
  size: number;
  reason: 'given' | 'batch' | 'bound' | 'default';
}

/** Size of a non-batch run-time dim when neither the user nor the model says more. */
export const DEFAULT_DIM_SIZE = 128;

/** Every symbol in the graph's inputs, in order of first appearance. */
export function inputSymbols(graph: Graph): string[] {
  const out: string[] = [];
  for (const i of graph.inputs) for (const d of i.shape) for (const s of dimSymbols(d)) if (!out.includes(s)) out.push(s);
  return out;
}

/**
 * Chooses a size for every input symbol: the user's `--shape` values first, then 1 for leading
 * (batch) dims, then the largest size the model allows (a slice or table it indexes, where known,
 * capped at DEFAULT_DIM_SIZE), else DEFAULT_DIM_SIZE.
 */
export function chooseDims(graph: Graph, given: Record<string, number[]> = {}, batch = 1): DimChoice[] {
  const bindings = new Map<string, number>();
  const choices: DimChoice[] = [];
  for (const [name, sizes] of Object.entries(given)) {
    const input = graph.inputs.find((i) => i.name === name);
    if (!input) throw new EdgelmError('usage', `--shape ${name}: the model has no input '${name}' (inputs: ${graph.inputs.map((i) => i.name).join(', ')})`);
    const before = new Set(bindings.keys());
    const err = bindShape(input.shape, sizes, bindings);
    if (err) throw new EdgelmError('usage', `--shape ${name}=${sizes.join('x')}: ${err} (declared [${input.shape.join(', ')}])`);
    for (const [s, v] of bindings) if (!before.has(s)) choices.push({ symbol: s, size: v, reason: 'given' });
  }
  // Sums the model bounds (`past + seq ≤ 64` from a mask it slices): their unset atoms share the bound.
  for (const [expr, bound] of symbolBounds(graph)) {
    const free = dimSymbols(expr).filter((s) => !bindings.has(s));
    const taken = evalDim(expr, new Map([...bindings, ...free.map((s): [string, number] => [s, 0])])) ?? 0;
    const each = Math.min(DEFAULT_DIM_SIZE, Math.max(1, Math.floor((bound - taken) / Math.max(1, free.length))));
    for (const s of free)
      if (!graph.inputs.some((i) => i.shape[0] === s)) {
        bindings.set(s, each);
        choices.push({ symbol: s, size: each, reason: 'bound' });
      }
  }
  for (const i of graph.inputs)
    i.shape.forEach((d, k) => {
      if (typeof d !== 'string' || evalDim(d, bindings) !== undefined) return;
      const free = dimSymbols(d).filter((s) => !bindings.has(s));
      if (free.length !== 1 || free[0] !== d) return; // a compound dim: solved once its atoms are known
      const [size, reason]: [number, DimChoice['reason']] = k === 0 ? [batch, 'batch'] : [DEFAULT_DIM_SIZE, 'default'];
      bindings.set(d, size);
      choices.push({ symbol: d, size, reason });
    });
  for (const s of inputSymbols(graph))
    if (!bindings.has(s)) {
      bindings.set(s, DEFAULT_DIM_SIZE);
      choices.push({ symbol: s, size: DEFAULT_DIM_SIZE, reason: 'default' });
    }
  return choices;
}

/**
 * Upper bounds the graph implies: `x[:e]` on a static axis of size n gives e ≤ n, for e a symbol or
 * a sum of symbols (the smallest bound per expression, fewest symbols first).
 */
function symbolBounds(graph: Graph): Map<string, number> {
  const bounds = new Map<string, number>();
  const types = inferTypes(graph, graph.name);
  for (const n of graph.nodes) {
    if (n.op !== 'slice') continue;
    const shape = types.get(n.inputs[0]!)?.shape ?? [];
    const ends = (n.attrs.ends ?? []) as Dim[];
    ((n.attrs.axes ?? []) as number[]).forEach((ax, j) => {
      const d = shape[ax < 0 ? ax + shape.length : ax];
      const e = ends[j];
      if (typeof d === 'number' && typeof e === 'string' && /^[A-Za-z_][\w.:]*( \+ [A-Za-z_][\w.:]*)*$/.test(e)) bounds.set(e, Math.min(bounds.get(e) ?? d, d));
    });
  }
  return new Map([...bounds].sort(([a], [b]) => dimSymbols(a).length - dimSymbols(b).length));
}

const fixAttr = (v: AttrValue, b: ReadonlyMap<string, number>): AttrValue =>
  Array.isArray(v) ? (v as Dim[]).map((d) => substituteDim(d, b)) : typeof v === 'string' || typeof v === 'number' ? substituteDim(v, b) : v;

/** The graph with every symbol in `choices` replaced by its size; static range/fill nodes become constants. */
export function fixDims(graph: Graph, choices: readonly DimChoice[]): Graph {
  const b = new Map(choices.map((c) => [c.symbol, c.size]));
  const constants = new Map(graph.constants);
  const nodes: Node[] = [];
  for (const n of graph.nodes) {
    const dimAttrs = opDef(n.op).dimAttrs ?? [];
    const attrs = { ...n.attrs };
    for (const k of dimAttrs) if (k in attrs) attrs[k] = fixAttr(attrs[k]!, b);
    const folded = foldStatic({ ...n, attrs });
    if (folded) constants.set(folded.name, folded);
    else nodes.push({ ...n, attrs });
  }
  const fix = (s: readonly Dim[]): Dim[] => s.map((d) => substituteDim(d, b));
  const out: Graph = {
    ...graph,
    inputs: graph.inputs.map((i) => ({ ...i, shape: fix(i.shape) })),
    outputs: graph.outputs.map((o) => ({ ...o, shape: fix(o.shape) })),
    nodes,
    constants,
  };
  // Shapes follow from the inputs; re-inferred so outputs declared with other symbols get sizes too.
  let types: ReturnType<typeof inferTypes>;
  try {
    types = inferTypes(out, graph.name);
  } catch (e) {
    if (!(e instanceof EdgelmError)) throw e;
    const sizes = choices.map((c) => `${c.symbol}=${c.size}`).join(', ');
    throw new EdgelmError('usage', `${e.message.replace(/\.$/, '')} — with run-time dims fixed to ${sizes}; choose sizes with --shape NAME=1x…`);
  }
  out.outputs = out.outputs.map((o) => ({ ...o, shape: types.get(o.name)?.shape ?? o.shape }));
  return out;
}

/** A zero-input node (range, fill) with static attributes, as the constant it computes. */
function foldStatic(n: Node): Tensor | undefined {
  // Its attributes are defaults when the values arrive as tensors (value inputs).
  if (hasValueInputs(opDef(n.op), n)) return undefined;
  if (n.op === 'range') {
    const { start, limit, delta, dtype } = n.attrs as { start?: Dim; limit?: Dim; delta?: number; dtype?: Tensor['dtype'] };
    const s = start ?? 0;
    const d = delta ?? 1;
    if (!isStaticDim(s) || !isStaticDim(limit ?? 0)) return undefined;
    const count = Math.max(0, Math.ceil(((limit as number) - s) / d));
    const t = dtype ?? 'int64';
    const data = allocate(t, count);
    for (let i = 0; i < count; i++) (data as unknown as (number | bigint)[])[i] = data instanceof BigInt64Array ? BigInt(s + i * d) : s + i * d;
    return { name: n.outputs[0]!, dtype: t, shape: [count], data };
  }
  if (n.op === 'dimValues') {
    const { values, shape, dtype } = n.attrs as { values?: Dim[]; shape?: number[]; dtype?: Tensor['dtype'] };
    if (!(values ?? []).every(isStaticDim)) return undefined;
    const t = dtype ?? 'int64';
    const data = allocate(t, (values ?? []).length);
    (values as number[]).forEach((v, i) => ((data as unknown as (number | bigint)[])[i] = data instanceof BigInt64Array ? BigInt(v) : v));
    return { name: n.outputs[0]!, dtype: t, shape: shape ?? [], data };
  }
  if (n.op === 'fill') {
    const { shape, value, dtype } = n.attrs as { shape?: Dim[]; value?: number; dtype?: Tensor['dtype'] };
    if (!(shape ?? []).every(isStaticDim)) return undefined;
    const dims = (shape ?? []) as number[];
    const t = dtype ?? 'float32';
    const data = allocate(t, sizeOf(dims));
    if (data instanceof BigInt64Array) data.fill(BigInt(value ?? 0));
    else (data as Float32Array).fill(value ?? 0);
    return { name: n.outputs[0]!, dtype: t, shape: dims, data };
  }
  return undefined;
}
