import type * as tfjs from '@tensorflow/tfjs-core';
import type { DType } from './dtype.js';
import type { Attrs, Node } from './graph.js';
import type { Dim } from './tensor.js';

export type Tf = typeof tfjs;
export type TfTensor = tfjs.Tensor;

/** What shape inference knows about a value: dtype, and a shape whose run-time dims are symbols. */
export interface ValueType {
  dtype: DType;
  shape: Dim[];
}

/**
 * Everything edgelm knows about one IR op. `attrs` lists every attribute with its default,
 * which is also the documentation of what the op accepts.
 */
export interface OpDef<A extends Attrs = Attrs> {
  /** Number of inputs: [min, max]; optional trailing inputs may be ''. */
  arity: [number, number];
  attrs: A;
  /**
   * Attributes that may hold run-time dims (symbolic strings): the executor evaluates them from the
   * inputs' shapes before `run`, writers compute them at run time or after fixing the dims.
   */
  dimAttrs?: readonly (keyof A & string)[];
  /**
   * Inputs that may carry, as a run-time tensor, the values of an attribute (index → attribute): a
   * Reshape's shape, a Pad's pads. A node that takes them has an output of rank `rank` (given the
   * value tensors' lengths) whose dims are run-time values (src/ir/value-dims.ts).
   */
  valueInputs?: {
    inputs: Record<number, keyof A & string>;
    rank(inputs: ValueType[], attrs: A, lengths: number[]): number;
    /** Number of outputs (default 1), each with its own run-time dims (a Split by fed sizes). */
    outputs?(inputs: ValueType[], attrs: A, lengths: number[]): number;
    /** For the executor: the attributes `run` needs, from the values read and the other inputs' shapes. */
    resolve?(attrs: A, shapes: number[][], node: Node): A;
  };
  /** Number of outputs for a node (most ops: 1). */
  outputs?: (attrs: A) => number;
  infer(inputs: ValueType[], attrs: A, node: Node): ValueType[];
  /** Reference implementation on TF.js. Called inside tf.tidy. */
  run(tf: Tf, inputs: TfTensor[], attrs: A): TfTensor[];
}

/** Declares an op; the generic parameter is inferred from the defaults. */
export function defineOp<A extends Attrs>(def: OpDef<A>): OpDef<A> {
  return def;
}

/** Thrown by shape inference; the caller adds the node and file. */
export class ShapeError extends Error {}
