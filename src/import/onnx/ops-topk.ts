// ONNX → IR for TopK: k must be known at import (a constant input, or the attribute of opset 1).
// Merged into ONNX_OPS (ops.ts).
import { attrInt, emit, values, type OnnxCtx, type Translate } from './ctx.js';
import { attr } from '../../export/onnx/proto.js';
import type { Emit } from '../../export/onnx/writer.js';
import type { OpType } from '../../ir/registry.js';

function topK(c: OnnxCtx): void {
  let k = attrInt(c, 'k', -1);
  if (c.input(1)) {
    const kt = c.konst(1);
    if (!kt) throw c.fail('K (input 1) is a run-time value; edgelm needs it constant (the output shape depends on it)');
    k = values(kt)[0]!;
  }
  if (k < 0) throw c.fail('K is missing');
  const largest = attrInt(c, 'largest', 1) !== 0;
  const dtype = c.typeOf(c.input(0)).dtype;
  // The smallest are the largest of the negation, which an unsigned type cannot hold.
  if (!largest && (dtype === 'uint8' || dtype === 'bool')) throw c.fail(`largest=0 on ${dtype} values is not supported`);
  emit(c, 'topK', [c.input(0)], { k, axis: attrInt(c, 'axis', -1), largest });
}

export const TOPK_OPS: Record<string, Translate> = { TopK: topK };

// ─── ONNX writer: IR sort ops → opset 17 (run by exportOnnx, src/export/onnx/index.ts) ───
export const SORT_EMIT: Partial<Record<OpType, Emit>> = {
  topK: (w, n, a) => void w.b.node('TopK', [n.inputs[0]!, w.ints('k', [a.k as number])], n.outputs, { axis: attr.i(a.axis as number), largest: attr.i(a.largest ? 1 : 0), sorted: attr.i(1) }, n.name),
};
