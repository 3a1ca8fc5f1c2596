// Helpers the TFLite lowerings share: tensor types, permutations, fused activations, option tables,
// weights, biases and padding of spatial ops, and the chain of builtins that compositions are built
// from. Imports no lowering, so every family file (lower-<family>.ts) can import it.
import { DTYPES, type DType, type TypedArray } from '../../ir/dtype.js';
import type { Node } from '../../ir/graph.js';
import type { Layout } from '../../ir/ops/nn.js';
import { samePads } from '../../ir/shape.js';
import type { Tensor } from '../../ir/tensor.js';
import type { OptionField } from './flatbuffer.js';
import type { Lowerer } from './lowerer.js';
import { ACTIVATION, OPTIONS, PADDING, type BuiltinOp } from './schema.js';

export const T_FLOAT32 = DTYPES.float32.tflite;
export const T_INT8 = DTYPES.int8.tflite;
export const T_FLOAT16 = DTYPES.float16.tflite;

export type Perm = number[];
export const identity = (rank: number): Perm => Array.from({ length: rank }, (_, i) => i);
export const isIdentity = (p: Perm): boolean => p.every((v, i) => v === i);
export const NHWC_OF_NCHW: Perm = [0, 2, 3, 1];

/** TFLite tensor type for an IR dtype. int64 becomes int32: LiteRT's JS API has no int64 and TFLite ops index with int32. */
export function tflType(d: DType): number {
  if (d === 'int64') return DTYPES.int32.tflite;
  return DTYPES[d].tflite;
}


export type Lowering = (l: Lowerer, node: Node, a: Record<string, unknown>) => void;

/** Activations that conv, fully connected and arithmetic ops can fuse. */
export function fusedActivation(node: Node, a: Record<string, unknown>): number | undefined {
  if (node.op === 'relu') return ACTIVATION.RELU;
  if (node.op === 'relu6') return ACTIVATION.RELU6;
  if (node.op === 'clip') {
    if (a.min === 0 && a.max === 6) return ACTIVATION.RELU6;
    if (a.min === -1 && a.max === 1) return ACTIVATION.RELU_N1_TO_1;
    if (a.min === 0 && a.max === Infinity) return ACTIVATION.RELU;
  }
  return undefined;
}

export const opts = (type: number, fields: OptionField[] = []): { type: number; fields: OptionField[] } => ({ type, fields });
export const fusedOnly = (type: number) => (code: number) => opts(type, [[0, 'i8', code]]);

export function padding(a: Record<string, unknown>, inShape: number[], kernel: [number, number]): { code: number; pads?: number[] } {
  if (a.padding === 'SAME') return { code: PADDING.SAME };
  const pads = a.padding === 'EXPLICIT' ? (a.pads as number[]) : [0, 0, 0, 0];
  if (pads.every((p) => p === 0)) return { code: PADDING.VALID };
  // Explicit pads equal to what SAME would choose for this size need no PAD op.
  const same = samePads([inShape[1]!, inShape[2]!], kernel, a.strides as [number, number], (a.dilations ?? [1, 1]) as [number, number]);
  if (same.every((p, i) => p === pads[i])) return { code: PADDING.SAME };
  return { code: PADDING.VALID, pads };
}

/** PAD (or PADV2 with a fill value) of an NHWC tensor by [top, left, bottom, right]. */
export function padNhwc(l: Lowerer, name: string, x: number, shape: number[], pads: number[], fill = 0): { tensor: number; shape: number[] } {
  const [t, lf, b, r] = pads as [number, number, number, number];
  const outShape = [shape[0]!, shape[1]! + t + b, shape[2]! + lf + r, shape[3]!];
  const out = l.activation(`${name}/pad`, outShape, 'float32', x);
  const paddings = l.int32Const(`${name}/paddings`, [0, 0, t, b, lf, r, 0, 0], [4, 2]);
  if (fill === 0) l.emit('PAD', [x, paddings], [out], opts(OPTIONS.PadOptions));
  else l.emit('PADV2', [x, paddings, fillConst(l, `${name}/fill`, fill, x)], [out], opts(OPTIONS.PadV2Options));
  return { tensor: out, shape: outShape };
}

/** A scalar fill value in the type of tensor `like` (quantized and clamped for int8). */
export function fillConst(l: Lowerer, name: string, value: number, like: number): number {
  const q = l.tensors[like]!.quant;
  if (l.tensors[like]!.type !== T_INT8 || !q) return l.floatConst(name, Float32Array.of(value), []);
  const code = Math.max(-128, Math.min(127, Math.round(value / q.scale[0]!) + q.zeroPoint[0]!));
  return l.addTensor(name, [], T_INT8, Uint8Array.of(code & 0xff), { scale: [q.scale[0]!], zeroPoint: [q.zeroPoint[0]!], axis: 0 });
}

export function weight(l: Lowerer, node: Node, index: number): Tensor {
  const c = l.constant(node.inputs[index]!);
  if (!c) throw l.fail(node, `input ${index} (weights) must be a constant for TFLite`);
  if (c.dtype !== 'float32') throw l.fail(node, `weights of dtype ${c.dtype} are not supported`);
  return c;
}

/** The shape of a float run-time weight (input 1), which TFLite's float kernels take as a tensor; a quantized export refuses it. */
export function runtimeWeight(l: Lowerer, node: Node): number[] {
  if (l.plan && !l.plan.exclude(node)) throw l.fail(node, 'input 1 (weights) must be a constant to quantize it');
  const dtype = l.dtypeOf(node.inputs[1]!);
  if (dtype !== 'float32') throw l.fail(node, `weights of dtype ${dtype} are not supported`);
  return l.shapeOf(node.inputs[1]!);
}

export function bias(l: Lowerer, node: Node, index: number, channels: number): number {
  const name = node.inputs[index];
  if (name) {
    const c = l.constant(name);
    if (c) return l.constTensor(name, c.dtype, c.shape, c.data);
    return l.get(name);
  }
  // TFLite's converter always writes a bias; some kernels (and every quantized one) expect it.
  return l.floatConst(`${node.name}/bias`, new Float32Array(channels), [channels]);
}

export const unary = (op: BuiltinOp, optionType?: number): Lowering => (l, n) => l.elementwise(n, op, optionType ? opts(optionType) : undefined);

/** Node input `i` cast to `dtype` (a new value, or `out`), in the same physical order. Returns its name. */
export function castValue(l: Lowerer, n: Node, i: number, dtype: DType, out = `${n.inputs[i]}/${dtype}`): string {
  const v = n.inputs[i]!;
  const x = l.placement(v);
  const shape = l.shapeOf(v);
  l.types.set(out, { dtype, shape });
  const t = l.activation(out, x.perm.map((d) => shape[d]!), dtype);
  l.emit('CAST', [x.tensor], [t], opts(OPTIONS.CastOptions, [[0, 'i8', tflType(l.dtypeOf(v))], [1, 'i8', tflType(dtype)]]));
  l.place(out, t, x.perm);
  return out;
}

export function NHWC(shape: number[], layout: Layout): number[] {
  return layout === 'NCHW' ? [shape[0]!, shape[2]!, shape[3]!, shape[1]!] : shape;
}

// Compositions: a chain of same-shape builtins on one input (activations, math).
type Options = { type: number; fields: OptionField[] } | undefined;
const NO_ACTIVATION = (type: number): Options => ({ type, fields: [[0, 'i8', 0]] });
export const ARITH: Partial<Record<BuiltinOp, Options>> = {
  ADD: NO_ACTIVATION(OPTIONS.AddOptions), SUB: NO_ACTIVATION(OPTIONS.SubOptions), MUL: NO_ACTIVATION(OPTIONS.MulOptions), DIV: NO_ACTIVATION(OPTIONS.DivOptions),
};

/**
 * Builds a chain of same-shape ops on node input 0 in its physical order (every operand is the input,
 * an intermediate or a scalar, which broadcasts whatever the order); `done` places the result.
 */
export function chain(l: Lowerer, n: Node) {
  const x = l.placement(n.inputs[0]!);
  const out = n.outputs[0]!;
  const shape = x.perm.map((d) => l.shapeOf(out)[d]!);
  const dtype = l.dtypeOf(n.inputs[0]!);
  let k = 0;
  return {
    x: x.tensor,
    /** A scalar in the input's dtype (or `as`). */
    scalar(v: number, as: DType = dtype): number {
      return l.constTensor(`${n.name}/c${k++}`, as, [], scalarData(as, v));
    },
    ones(): number {
      return l.floatConst(`${n.name}/ones${k++}`, new Float32Array(shape.reduce((p, d) => p * d, 1)).fill(1), shape);
    },
    op(op: BuiltinOp, inputs: number[], resultDType: DType = dtype, options: Options = ARITH[op]): number {
      const t = l.activation(`${n.name}/${op.toLowerCase()}${k++}`, shape, resultDType);
      l.emit(op, inputs, [t], options);
      return t;
    },
    done(t: number): void {
      l.place(out, t, x.perm);
    },
  };
}

export function scalarData(dtype: DType, v: number): TypedArray {
  if (dtype === 'bool') return Uint8Array.of(v ? 1 : 0);
  if (dtype === 'int64') return BigInt64Array.of(BigInt(v));
  return (DTYPES[dtype].array as unknown as { of(v: number): TypedArray }).of(v);
}

/** A composition on float32 (or int32) values: refuses the 8/16-bit integers TFLite's kernels take only quantized. */
export function composed(build: (c: ReturnType<typeof chain>, a: Record<string, unknown>) => number): Lowering {
  return (l, n, a) => {
    const dtype = l.dtypeOf(n.inputs[0]!);
    if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'int64') throw l.fail(n, `${dtype} values have no TFLite kernels for this composition`);
    const c = chain(l, n);
    c.done(build(c, a));
  };
}

export const num = (a: Record<string, unknown>, k: string): number => a[k] as number;

/** A same-shape builtin whose TFLite kernel takes only the listed types (the rest are refused, not miscomputed). */
export const builtin = (op: BuiltinOp, types: readonly DType[] = ['float32']): Lowering => (l, n) => {
  const dtype = l.dtypeOf(n.inputs[0]!);
  if (!types.includes(dtype)) throw l.fail(n, `TFLite's ${op} has no kernel for ${dtype} values`);
  l.elementwise(n, op);
};

/** A broadcasting comparison or logic op on two inputs. */
export const pairwise = (op: BuiltinOp, optionType: number): Lowering => (l, n) => l.binary(n, op, () => opts(optionType));

