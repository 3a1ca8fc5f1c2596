// The context every ONNX op translation gets, and the helpers they share: attributes, constant
// inputs, emitting IR nodes and binding the node's outputs.
import { EdgelmError } from '../../errors.js';
import type { GraphBuilder } from '../../ir/builder.js';
import type { DType } from '../../ir/dtype.js';
import type { Attrs } from '../../ir/graph.js';
import type { OpType } from '../../ir/registry.js';
import type { Dim, Tensor } from '../../ir/tensor.js';
import type { AttrValue } from './proto.js';

export interface OnnxCtx {
  b: GraphBuilder;
  file: string;
  opset: number;
  /** The node's name for errors and IR names. */
  name: string;
  opType: string;
  attrs: Map<string, AttrValue>;
  inputs: string[];
  outputs: string[];
  /** IR value of input i ('' when absent). */
  input(i: number): string;
  /** The constant value of input i, if known at import. */
  konst(i: number): Tensor | undefined;
  typeOf(value: string): { dtype: DType; shape: Dim[] };
  /** Binds output i of the ONNX node to an IR value. */
  bind(i: number, value: string): void;
  fail(what: string): EdgelmError;
}

export type Translate = (c: OnnxCtx) => void;

export const attrInt = (c: OnnxCtx, name: string, dflt: number): number => {
  const v = c.attrs.get(name);
  return typeof v === 'number' ? v : dflt;
};
export const attrFloat = attrInt;
export const attrInts = (c: OnnxCtx, name: string, dflt: number[]): number[] => {
  const v = c.attrs.get(name);
  return Array.isArray(v) ? v : dflt;
};
export const attrStr = (c: OnnxCtx, name: string, dflt: string): string => {
  const v = c.attrs.get(name);
  return typeof v === 'string' ? v : dflt;
};

/** Values of a constant tensor as numbers (int64 included). */
export function values(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/** Largest constant a reader folds from shape values (ConstantOfShape, Range): 4 Mi elements. */
export const MAX_FOLDED_ELEMENTS = 1 << 22;

/** Integer list from a constant input (e.g. Reshape's shape), or from an attribute in older opsets. */
export function constInts(c: OnnxCtx, i: number, what: string, attr?: string): number[] | undefined {
  if (c.input(i)) {
    const k = c.konst(i);
    if (!k) throw c.fail(`${what} (input ${i}) must be constant; edgelm folds shape computations but this one depends on run-time data`);
    // A float tensor where ints belong (a damaged data_type) gives fractional steps: loops that never end.
    const v = values(k);
    if (!v.every(Number.isInteger)) throw new EdgelmError('input', `${c.file}: node ${c.name} (${c.opType}): ${what} (input ${i}) must hold integers`);
    return v;
  }
  return attr !== undefined ? (Array.isArray(c.attrs.get(attr)) ? (c.attrs.get(attr) as number[]) : undefined) : undefined;
}

/**
 * constInts for an input the op cannot do without: a damaged file may leave it out (an empty input
 * name), which must be an input error naming the node, not an undefined list deeper in (a TypeError).
 */
export function requiredInts(c: OnnxCtx, i: number, what: string, attr?: string): number[] {
  const v = constInts(c, i, what, attr);
  if (v === undefined) throw new EdgelmError('input', `${c.file}: node ${c.name} (${c.opType}): ${what} (input ${i}) is missing`);
  return v;
}

export function constTensor(c: OnnxCtx, dtype: DType, shape: number[], vals: ArrayLike<number>): Tensor {
  // Folded shape arithmetic can divide by zero or meet a NaN dim; BigInt() would throw a RangeError.
  if (dtype !== 'float32' && dtype !== 'float64' && Array.prototype.some.call(vals, (v: number) => !Number.isFinite(v)))
    throw new EdgelmError('input', `${c.file}: node ${c.name} (${c.opType}): folds to a non-finite integer value`);
  const data =
    dtype === 'int64' ? BigInt64Array.from(Array.from(vals), (v) => BigInt(Math.trunc(v)))
    : dtype === 'float32' ? Float32Array.from(vals)
    : dtype === 'int32' ? Int32Array.from(vals)
    : dtype === 'bool' ? Uint8Array.from(vals)
    : dtype === 'float64' ? Float64Array.from(vals)
    : undefined;
  if (!data) throw c.fail(`cannot fold a constant of dtype ${dtype}`);
  return { name: c.outputs[0]!, dtype, shape, data };
}

export function bindConst(c: OnnxCtx, i: number, t: Tensor): void {
  c.bind(i, c.b.addConstant({ ...t, name: c.outputs[i]! || `${c.name}:${i}` }));
}

/** Emits one IR node for the ONNX node and binds its outputs. */
export function emit(c: OnnxCtx, op: OpType, inputs: string[], attrs: Attrs = {}): string[] {
  const outs = c.b.add(op, inputs, attrs, { name: c.outputs[0] || c.name, source: c.name, outputs: c.outputs });
  outs.forEach((o, i) => c.bind(i, o));
  return outs;
}

export const allConst = (c: OnnxCtx): boolean => c.inputs.every((_, i) => !c.input(i) || c.konst(i) !== undefined);

export function constScalar(c: OnnxCtx, i: number, what: string): number {
  const k = c.konst(i);
  if (!k) throw c.fail(`${what} must be a constant`);
  return values(k)[0]!;
}

/** A unary op with attributes read by `attrs`. */
export function unary(op: OpType, attrs: (c: OnnxCtx) => Attrs = () => ({})): Translate {
  return (c) => void emit(c, op, [c.input(0)], attrs(c));
}

/** A broadcasting binary op; constant operands of shape arithmetic were folded before (shapes.ts). */
export function binary(op: OpType): Translate {
  return (c) => void emit(c, op, [c.input(0), c.input(1)]);
}
