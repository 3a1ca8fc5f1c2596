// The one list of ops edgelm supports. Readers map foreign ops onto these; writers map these out.
import type { Attrs, Node } from './graph.js';
import type { OpDef } from './op.js';
import * as ew from './ops/elementwise.js';
import * as act from './ops/activations.js';
import * as math from './ops/math.js';
import * as nn from './ops/nn.js';
import * as rd from './ops/reduce.js';
import * as ix from './ops/indexing.js';
import * as rs from './ops/resample.js';
import * as st from './ops/structure.js';
import * as sc from './ops/scatter.js';
import * as so from './ops/sort.js';

export const OPS = {
  // elementwise
  relu: ew.relu, relu6: ew.relu6, sigmoid: ew.sigmoid, tanh: ew.tanh, erf: ew.erf, abs: ew.abs, neg: ew.neg,
  exp: ew.exp, log: ew.log, sqrt: ew.sqrt, rsqrt: ew.rsqrt, square: ew.square, reciprocal: ew.reciprocal,
  softplus: ew.softplus, identity: ew.identity, round: ew.round, swish: ew.swish, elu: ew.elu, leakyRelu: ew.leakyRelu,
  clip: ew.clip, gelu: ew.gelu, prelu: ew.prelu,
  add: ew.add, sub: ew.sub, mul: ew.mul, div: ew.div, pow: ew.pow, maximum: ew.maximum, minimum: ew.minimum,
  equal: ew.equal, less: ew.less, greater: ew.greater, where: ew.where,
  // neural network
  conv2d: nn.conv2d, depthwiseConv2d: nn.depthwiseConv2d, conv2dTranspose: nn.conv2dTranspose,
  maxPool2d: nn.maxPool2d, avgPool2d: nn.avgPool2d, dense: nn.dense, matMul: nn.matMul,
  batchNorm: nn.batchNorm, layerNorm: nn.layerNorm, softmax: nn.softmax,
  // structure, casts, reductions
  reshape: st.reshape, transpose: st.transpose, concat: st.concat, split: st.split, slice: st.slice,
  gather: st.gather, squeeze: st.squeeze, unsqueeze: st.unsqueeze, pad: st.pad, cast: st.cast, shape: st.shape,
  expand: st.expand, range: st.range, fill: st.fill, dimValues: st.dimValues, reduceMean: st.reduceMean, reduceSum: st.reduceSum, reduceMax: st.reduceMax,
  reduceMin: st.reduceMin,
  // reductions, index reductions, running sums (issue 13)
  reduceProd: rd.reduceProd, argMax: rd.argMax, argMin: rd.argMin, cumSum: rd.cumSum,
  // activations, math and logic, resampling (issue 13, family A)
  hardSwish: act.hardSwish, hardSigmoid: act.hardSigmoid, selu: act.selu, celu: act.celu, softsign: act.softsign,
  thresholdedRelu: act.thresholdedRelu, shrink: act.shrink, logSoftmax: act.logSoftmax, hardmax: act.hardmax,
  sin: math.sin, cos: math.cos, tan: math.tan, asin: math.asin, acos: math.acos, atan: math.atan,
  sinh: math.sinh, cosh: math.cosh, asinh: math.asinh, acosh: math.acosh, atanh: math.atanh,
  floor: math.floor, ceil: math.ceil, sign: math.sign, isNaN: math.isNaN, isInf: math.isInf, mod: math.mod,
  logicalNot: math.logicalNot, logicalAnd: math.logicalAnd, logicalOr: math.logicalOr, logicalXor: math.logicalXor,
  greaterEqual: math.greaterEqual, lessEqual: math.lessEqual,
  resize: rs.resize, depthToSpace: rs.depthToSpace, spaceToDepth: rs.spaceToDepth,
  // indexing (issue 13)
  tile: ix.tile, gatherElements: ix.gatherElements,
  scatterElements: sc.scatterElements, scatterND: sc.scatterND, gatherND: sc.gatherND, reverseSequence: sc.reverseSequence,
  bitShift: sc.bitShift,
  // selection (issue 13)
  topK: so.topK,
} satisfies Record<string, Pick<OpDef, 'arity'> & { attrs: Attrs }>;

export type OpType = keyof typeof OPS;
export const OP_TYPES = Object.keys(OPS) as OpType[];

export const isOpType = (s: string): s is OpType => Object.hasOwn(OPS, s);

/** The op's definition, typed for generic callers (executor, shape inference). */
export function opDef(op: OpType): OpDef<Attrs> {
  return OPS[op] as unknown as OpDef<Attrs>;
}

/** A node's attributes with the op's defaults filled in. */
export function attrsOf(node: Node): Attrs {
  return { ...opDef(node.op).attrs, ...node.attrs };
}
