// ONNX → IR for ScatterElements (and its opset-9 name Scatter), ScatterND, GatherND, Compress,
// NonZero, ReverseSequence and BitShift. Merged into ONNX_OPS (ops.ts).
import { sizeOf } from '../../ir/tensor.js';
import { attrInt, attrStr, bindConst, constTensor, emit, values, type OnnxCtx, type Translate } from './ctx.js';
import { attr, type OnnxAttr } from '../../export/onnx/proto.js';
import type { Emit } from '../../export/onnx/writer.js';
import type { OpType } from '../../ir/registry.js';

const SHIFT_BITS: Record<string, number> = { uint8: 8, uint16: 16 };

function reduction(c: OnnxCtx): string {
  const r = attrStr(c, 'reduction', 'none');
  if (r !== 'none' && r !== 'add' && r !== 'mul') throw c.fail(`reduction '${r}' is not supported (none, add, mul)`);
  if (r !== 'none' && c.typeOf(c.input(0)).dtype === 'bool') throw c.fail(`reduction ${r} of bool data is not supported`);
  return r;
}

const scatterElements: Translate = (c) => void emit(c, 'scatterElements', [c.input(0), c.input(1), c.input(2)], { axis: attrInt(c, 'axis', 0), reduction: reduction(c) });

export const SCATTER_OPS: Record<string, Translate> = {
  ScatterElements: scatterElements,
  Scatter: scatterElements,
  ScatterND: (c) => void emit(c, 'scatterND', [c.input(0), c.input(1), c.input(2)], { reduction: reduction(c) }),
  GatherND: (c) => void emit(c, 'gatherND', [c.input(0), c.input(1)], { batchDims: attrInt(c, 'batch_dims', 0) }),
  ReverseSequence: (c) => void emit(c, 'reverseSequence', [c.input(0), c.input(1)], { batchAxis: attrInt(c, 'batch_axis', 1), timeAxis: attrInt(c, 'time_axis', 0) }),
  BitShift: (c) => {
    const dtype = c.typeOf(c.input(0)).dtype;
    const bits = SHIFT_BITS[dtype];
    if (!bits) throw c.fail(`shifts of ${dtype} are not supported (uint8, uint16)`);
    const direction = attrStr(c, 'direction', '');
    if (direction !== 'LEFT' && direction !== 'RIGHT') throw c.fail(`direction '${direction}' must be LEFT or RIGHT`);
    emit(c, 'bitShift', [c.input(0), c.input(1)], { direction: direction === 'LEFT' ? 'left' : 'right', bits });
  },
  Compress: compress,
  NonZero: nonZero,
};

/**
 * Compress with a constant condition is a Gather of the kept positions (of the flattened input
 * without an axis). A run-time condition makes the output's size depend on data: refused.
 */
function compress(c: OnnxCtx): void {
  const cond = c.konst(1);
  if (!cond) throw c.fail("the condition (input 1) must be a constant: a run-time condition makes the output's size depend on data");
  const keep = values(cond).flatMap((v, i) => (v ? [i] : []));
  const x = c.typeOf(c.input(0));
  const hasAxis = c.attrs.has('axis');
  const rank = x.shape.length;
  let axis = attrInt(c, 'axis', 0);
  if (hasAxis && (axis < -rank || axis >= rank)) throw c.fail(`axis ${axis} is outside the input's rank ${rank}`);
  if (axis < 0) axis += rank;
  const size = hasAxis ? x.shape[axis] : x.shape.every((d) => typeof d === 'number') ? sizeOf(x.shape as number[]) : undefined;
  // A condition longer than the axis may only hold false beyond it.
  if (typeof size === 'number' && keep.some((i) => i >= size)) throw c.fail(`the condition keeps position ${keep.find((i) => i >= size)} of an axis of size ${size}`);
  let input = c.input(0);
  if (!hasAxis) input = c.b.add('reshape', [input], { shape: [-1] }, { name: `${c.name}/flatten`, source: c.name })[0]!;
  const idx = c.b.addConstant({ ...constTensor(c, 'int32', [keep.length], keep), name: `${c.name}/kept` });
  emit(c, 'gather', [input, idx], { axis: hasAxis ? axis : 0 });
}

/** NonZero of a constant folds to the int64 [rank, count] coordinates; of a run-time value its size depends on data: refused. */
function nonZero(c: OnnxCtx): void {
  const x = c.konst(0);
  if (!x) throw c.fail("the input must be a constant: NonZero's output size depends on the data");
  const v = values(x);
  const shape = x.shape;
  const hits = v.flatMap((e, i) => (e ? [i] : []));
  const coords = new Array<number>(shape.length * hits.length);
  hits.forEach((flat, j) => {
    for (let k = shape.length - 1, rest = flat; k >= 0; k--) {
      coords[k * hits.length + j] = rest % shape[k]!;
      rest = Math.floor(rest / shape[k]!);
    }
  });
  bindConst(c, 0, constTensor(c, 'int64', [shape.length, hits.length], coords));
}

// ─── ONNX writer: IR scatter ops → opset 17 (run by exportOnnx, src/export/onnx/index.ts) ───
/** ScatterElements / ScatterND reduction attribute: left out for 'none' (the default). */
const reductionAttr = (a: Record<string, unknown>): Record<string, OnnxAttr> => (a.reduction === 'none' ? {} : { reduction: attr.s(a.reduction as string) });

export const SCATTER_EMIT: Partial<Record<OpType, Emit>> = {
  scatterElements: (w, n, a) => void w.b.node('ScatterElements', n.inputs.slice(0, 3), n.outputs, { axis: attr.i(a.axis as number), ...reductionAttr(a) }, n.name),
  scatterND: (w, n, a) => void w.b.node('ScatterND', n.inputs.slice(0, 3), n.outputs, reductionAttr(a), n.name),
  gatherND: (w, n, a) => void w.b.node('GatherND', n.inputs.slice(0, 2), n.outputs, { batch_dims: attr.i(a.batchDims as number) }, n.name),
  reverseSequence: (w, n, a) => void w.b.node('ReverseSequence', n.inputs.slice(0, 2), n.outputs, { batch_axis: attr.i(a.batchAxis as number), time_axis: attr.i(a.timeAxis as number) }, n.name),
  bitShift: (w, n, a) => void w.b.node('BitShift', n.inputs.slice(0, 2), n.outputs, { direction: attr.s((a.direction as string).toUpperCase()) }, n.name),
};
