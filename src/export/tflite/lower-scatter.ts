// TFLite lowerings of the ops of src/ir/ops/scatter.ts. Merged into TFLITE_LOWERINGS (lower.ts).
// SCATTER_ND writes into zeros and sums duplicates: add is data + SCATTER_ND, none selects the
// scattered values where a mask of the written positions is set, and mul (constant indices only)
// multiplies one SCATTER_ND per layer of duplicates into the data.
import type { DType } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import type { OpType } from '../../ir/registry.js';
import { sizeOf } from '../../ir/tensor.js';
import type { Lowering } from './helpers.js';
import type { Lowerer } from './lowerer.js';
import { OPTIONS } from './schema.js';

/** Row-major strides of a static shape. */
function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let k = shape.length - 2; k >= 0; k--) s[k] = s[k + 1]! * shape[k + 1]!;
  return s;
}

const wrap = (v: number, d: number): number => ((v % d) + d) % d;

function reshape(l: Lowerer, name: string, x: number, shape: number[], dtype: DType): number {
  const t = l.activation(name, shape, dtype, x);
  l.emit('RESHAPE', [x, l.int32Const(`${name}/shape`, shape)], [t], { type: OPTIONS.ReshapeOptions, fields: [[0, 'i32[]', shape]] });
  return t;
}

type Code = 'ADD' | 'SUB' | 'MUL' | 'SELECT_V2' | 'GREATER' | 'FLOOR_MOD' | 'FLOOR_DIV' | 'MINIMUM' | 'POW' | 'SCATTER_ND' | 'GATHER';
function op(l: Lowerer, name: string, code: Code, ins: number[], shape: number[], dtype: DType): number {
  const t = l.activation(name, shape, dtype);
  const options =
    code === 'ADD' ? { type: OPTIONS.AddOptions, fields: [[0, 'i8', 0]] as const }
    : code === 'MUL' ? { type: OPTIONS.MulOptions, fields: [[0, 'i8', 0]] as const }
    : code === 'SUB' ? { type: OPTIONS.SubOptions, fields: [[0, 'i8', 0]] as const }
    : code === 'SELECT_V2' ? { type: OPTIONS.SelectV2Options, fields: [] }
    : code === 'GATHER' ? { type: OPTIONS.GatherOptions, fields: [[0, 'i32', 0]] as const }
    : undefined;
  l.emit(code, ins, [t], options as Parameters<Lowerer['emit']>[3]);
  return t;
}

/**
 * Index tuples [.., k] as an int32 tensor with negative entries wrapped by the sizes `dims`: folded
 * when the indices are constant (then also returned as values), else CAST and FLOOR_MOD.
 */
function indexTuples(l: Lowerer, n: Node, value: string, dims: number[]): { tensor: number; values?: number[] } {
  const shape = l.shapeOf(value);
  const k = dims.length;
  const c = l.constant(value);
  if (c) {
    const v = Array.from(c.data as ArrayLike<number | bigint>, (e, i) => wrap(Number(e), dims[i % k]!));
    return { tensor: l.int32Const(`${n.name}/indices`, v, shape), values: v };
  }
  let i = l.get(value);
  if (l.dtypeOf(value) !== 'int32') {
    const cast = l.activation(`${n.name}/indices_int32`, shape, 'int32');
    l.emit('CAST', [i], [cast], { type: OPTIONS.CastOptions, fields: [[0, 'i8', l.tensors[i]!.type], [1, 'i8', l.tensors[cast]!.type]] });
    i = cast;
  }
  return { tensor: op(l, `${n.name}/indices_wrapped`, 'FLOOR_MOD', [i, l.int32Const(`${n.name}/dims`, dims)], shape, 'int32') };
}

/**
 * data (tensor of `shape`) with the slices `upd` ([count, …slice]) scattered at the index tuples
 * `idx` ([count, k]; `values` when constant) under `reduction`. Returns the result tensor.
 */
function scatterCore(l: Lowerer, n: Node, data: number, shape: number[], dtype: DType, idx: { tensor: number; values?: number[] }, upd: number, count: number, k: number, reduction: string): number {
  if (dtype === 'bool') throw l.fail(n, 'TFLite SCATTER_ND does not scatter bool values');
  const shapeT = l.int32Const(`${n.name}/shape`, shape);
  const scatter = (name: string, i: number, u: number): number => op(l, name, 'SCATTER_ND', [i, u, shapeT], shape, dtype);
  if (reduction === 'add') return op(l, `${n.name}/sum`, 'ADD', [data, scatter(`${n.name}/scattered`, idx.tensor, upd)], shape, dtype);
  const slice = sizeOf(shape.slice(k));
  const st = strides(shape.slice(0, k));
  // Position of each update among the data's first k axes (constant indices only).
  const flat = idx.values && Array.from({ length: count }, (_, r) => st.reduce((p, s, j) => p + s * idx.values![r * k + j]!, 0));
  const maskOf = (name: string, rows: number[]): number => {
    const m = new Uint8Array(sizeOf(shape));
    for (const r of rows) m.fill(1, flat![r]! * slice, (flat![r]! + 1) * slice);
    return l.constTensor(name, 'bool', shape, m);
  };
  if (reduction === 'none') {
    let mask: number;
    if (flat) mask = maskOf(`${n.name}/mask`, [...flat.keys()]);
    else {
      const ones = l.constTensor(`${n.name}/ones`, 'int32', [count, ...shape.slice(k)], new Int32Array(count * slice).fill(1));
      const hits = op(l, `${n.name}/hits`, 'SCATTER_ND', [idx.tensor, ones, shapeT], shape, 'int32');
      mask = op(l, `${n.name}/mask`, 'GREATER', [hits, l.int32Const(`${n.name}/zero`, [0], [])], shape, 'bool');
    }
    return op(l, `${n.name}/select`, 'SELECT_V2', [mask, scatter(`${n.name}/scattered`, idx.tensor, upd), data], shape, dtype);
  }
  if (!flat) throw l.fail(n, 'reduction mul needs constant indices for TFLite (SCATTER_ND sums duplicates; there is no product)');
  // Layer j holds the j-th update of every position: within a layer the positions are distinct.
  const layers: number[][] = [];
  const seen = new Map<number, number>();
  flat.forEach((p, r) => {
    const j = seen.get(p) ?? 0;
    seen.set(p, j + 1);
    (layers[j] ??= []).push(r);
  });
  let y = data;
  layers.forEach((rows, j) => {
    const rowsT = l.int32Const(`${n.name}/rows${j}`, rows);
    const part = op(l, `${n.name}/updates${j}`, 'GATHER', [upd, rowsT], [rows.length, ...shape.slice(k)], dtype);
    const at = l.int32Const(`${n.name}/indices${j}`, rows.flatMap((r) => idx.values!.slice(r * k, r * k + k)), [rows.length, k]);
    const product = op(l, `${n.name}/product${j}`, 'MUL', [y, scatter(`${n.name}/scattered${j}`, at, part)], shape, dtype);
    y = op(l, `${n.name}/select${j}`, 'SELECT_V2', [maskOf(`${n.name}/mask${j}`, rows), product, y], shape, dtype);
  });
  return y;
}

function cast(l: Lowerer, name: string, x: number, shape: number[], to: DType): number {
  const t = l.activation(name, shape, to);
  l.emit('CAST', [x], [t], { type: OPTIONS.CastOptions, fields: [[0, 'i8', l.tensors[x]!.type], [1, 'i8', l.tensors[t]!.type]] });
  return t;
}

export const SCATTER_LOWERINGS: Partial<Record<OpType, Lowering>> = {
  scatterND: (l, n, a) => {
    const [x, i, u] = n.inputs as [string, string, string];
    const shape = l.shapeOf(x);
    const idxShape = l.shapeOf(i);
    const k = idxShape[idxShape.length - 1]!;
    const count = sizeOf(idxShape.slice(0, -1));
    const dtype = l.dtypeOf(x);
    let idx = indexTuples(l, n, i, shape.slice(0, k));
    if (idxShape.length !== 2) idx = { ...idx, tensor: reshape(l, `${n.name}/indices_2d`, idx.tensor, [count, k], 'int32') };
    const upd = reshape(l, `${n.name}/updates_2d`, l.get(u), [count, ...shape.slice(k)], dtype);
    l.place(n.outputs[0]!, scatterCore(l, n, l.get(x), shape, dtype, idx, upd, count, k, a.reduction as string));
  },
  // On the flattened data: flat index = the element's own offset on every axis but `axis` + its index × the axis stride.
  scatterElements: (l, n, a) => {
    const [x, i, u] = n.inputs as [string, string, string];
    const shape = l.shapeOf(x);
    const idxShape = l.shapeOf(i);
    const rank = shape.length;
    const axis = (a.axis as number) < 0 ? (a.axis as number) + rank : (a.axis as number);
    const dtype = l.dtypeOf(x);
    const xs = strides(shape);
    const is = strides(idxShape);
    const count = sizeOf(idxShape);
    const base = Array.from({ length: count }, (_, e) => shape.reduce((p, _d, k) => (k === axis ? p : p + (Math.floor(e / is[k]!) % idxShape[k]!) * xs[k]!), 0));
    const local = indexTuples(l, n, i, [shape[axis]!]);
    let idx: { tensor: number; values?: number[] };
    if (local.values) {
      const v = base.map((b, e) => b + local.values![e]! * xs[axis]!);
      idx = { tensor: l.int32Const(`${n.name}/flat_index`, v, [count, 1]), values: v };
    } else {
      const scaled = op(l, `${n.name}/index_scaled`, 'MUL', [local.tensor, l.int32Const(`${n.name}/stride`, [xs[axis]!], [])], idxShape, 'int32');
      const flat = op(l, `${n.name}/flat_index`, 'ADD', [scaled, l.int32Const(`${n.name}/offsets`, base, idxShape)], idxShape, 'int32');
      idx = { tensor: reshape(l, `${n.name}/flat_index_2d`, flat, [count, 1], 'int32') };
    }
    const size = sizeOf(shape);
    const flatX = reshape(l, `${n.name}/flat_data`, l.get(x), [size], dtype);
    const upd = reshape(l, `${n.name}/flat_updates`, l.get(u), [count], dtype);
    const y = scatterCore(l, n, flatX, [size], dtype, idx, upd, count, 1, a.reduction as string);
    const out = n.outputs[0]!;
    const t = l.activation(out, shape, dtype, y);
    l.emit('RESHAPE', [y, l.int32Const(`${out}/shape`, shape)], [t], { type: OPTIONS.ReshapeOptions, fields: [[0, 'i32[]', shape]] });
    l.place(out, t);
  },
  gatherND: (l, n, a) => {
    const [x, i] = n.inputs as [string, string];
    const shape = l.shapeOf(x);
    const idxShape = l.shapeOf(i);
    const b = a.batchDims as number;
    const k = idxShape[idxShape.length - 1]!;
    let idx = indexTuples(l, n, i, shape.slice(b, b + k)).tensor;
    if (b > 0) {
      // GATHER_ND has no batch dims: each tuple gets its batch position as leading components.
      const lead = idxShape.slice(0, -1);
      const ls = strides(lead);
      const pos = Array.from({ length: sizeOf(lead) }, (_, e) => Array.from({ length: b }, (_, j) => Math.floor(e / ls[j]!) % lead[j]!)).flat();
      const full = l.activation(`${n.name}/indices_batched`, [...lead, b + k], 'int32');
      l.emit('CONCATENATION', [l.int32Const(`${n.name}/batch_positions`, pos, [...lead, b]), idx], [full], { type: OPTIONS.ConcatenationOptions, fields: [[0, 'i32', lead.length], [1, 'i8', 0]] });
      idx = full;
    }
    const out = n.outputs[0]!;
    const t = l.activation(out, l.shapeOf(out), l.dtypeOf(out), l.get(x));
    l.emit('GATHER_ND', [l.get(x), idx], [t]);
    l.place(out, t);
  },
  reverseSequence: (l, n, a) => {
    const [x, lens] = n.inputs as [string, string];
    let len = l.get(lens);
    if (l.dtypeOf(lens) !== 'int32') {
      const cast = l.activation(`${n.name}/lens_int32`, l.shapeOf(lens), 'int32');
      l.emit('CAST', [len], [cast], { type: OPTIONS.CastOptions, fields: [[0, 'i8', l.tensors[len]!.type], [1, 'i8', l.tensors[cast]!.type]] });
      len = cast;
    }
    const out = n.outputs[0]!;
    const t = l.activation(out, l.shapeOf(out), l.dtypeOf(out), l.get(x));
    l.emit('REVERSE_SEQUENCE', [l.get(x), len], [t], { type: OPTIONS.ReverseSequenceOptions, fields: [[0, 'i32', a.timeAxis as number], [1, 'i32', a.batchAxis as number]] });
    l.place(out, t);
  },
  // TFLite has no LEFT_SHIFT: the executor's exact int32 formulas (src/ir/ops/scatter.ts) between CASTs.
  bitShift: (l, n, a) => {
    const [x, s] = n.inputs as [string, string];
    if (l.dtypeOf(x) !== 'uint8') throw l.fail(n, `shifts of ${l.dtypeOf(x)} are not supported for TFLite (uint8 only: its CAST takes no other unsigned type)`);
    const out = n.outputs[0]!;
    const shape = l.shapeOf(out);
    const bits = a.bits as number;
    const x32 = cast(l, `${n.name}/x_int32`, l.get(x), l.shapeOf(x), 'int32');
    const s32 = op(l, `${n.name}/shift`, 'MINIMUM', [cast(l, `${n.name}/s_int32`, l.get(s), l.shapeOf(s), 'int32'), l.int32Const(`${n.name}/bits`, [bits], [])], l.shapeOf(s), 'int32');
    const two = l.int32Const(`${n.name}/two`, [2], []);
    const scale = op(l, `${n.name}/scale`, 'POW', [two, s32], l.shapeOf(s), 'int32');
    let y: number;
    if (a.direction === 'right') y = op(l, `${n.name}/shifted`, 'FLOOR_DIV', [x32, scale], shape, 'int32');
    else {
      const keep = op(l, `${n.name}/keep`, 'POW', [two, op(l, `${n.name}/room`, 'SUB', [l.int32Const(`${n.name}/bits_left`, [bits], []), s32], l.shapeOf(s), 'int32')], l.shapeOf(s), 'int32');
      y = op(l, `${n.name}/shifted`, 'MUL', [op(l, `${n.name}/kept`, 'FLOOR_MOD', [x32, keep], shape, 'int32'), scale], shape, 'int32');
    }
    const t = l.activation(out, shape, 'uint8');
    l.emit('CAST', [y], [t], { type: OPTIONS.CastOptions, fields: [[0, 'i8', l.tensors[y]!.type], [1, 'i8', l.tensors[t]!.type]] });
    l.place(out, t);
  },
};
