// ONNX → IR for Tile, GatherElements, EyeLike and OneHot. Merged into ONNX_OPS (ops.ts).
import { dtypeFromOnnx, isFloatDType } from '../../ir/dtype.js';
import type { Attrs } from '../../ir/graph.js';
import type { OpType } from '../../ir/registry.js';
import { isStaticDim } from '../../ir/dim.js';
import { attrInt, bindConst, constTensor, emit, requiredInts, values, type OnnxCtx, type Translate } from './ctx.js';
import { runTimeValues } from './shapes.js';
import { attr } from '../../export/onnx/proto.js';
import type { Emit } from '../../export/onnx/writer.js';

export const INDEXING_OPS: Record<string, Translate> = {
  Tile: (c) => {
    const rank = c.typeOf(c.input(0)).shape.length;
    const given = runTimeValues(c, 1, 'repeats');
    if (given) return void emit(c, 'tile', [c.input(0), given]);
    const repeats = requiredInts(c, 1, 'repeats');
    if (repeats.length !== rank) throw c.fail(`${repeats.length} repeats for a rank-${rank} input`);
    if (repeats.some((r) => r < 0)) throw c.fail(`repeats [${repeats}] must not be negative`);
    emit(c, 'tile', [c.input(0)], { repeats });
  },
  GatherElements: (c) => void emit(c, 'gatherElements', [c.input(0), c.input(1)], { axis: attrInt(c, 'axis', 0) }),
  // A constant: ones on the k-th diagonal of the input's (static) 2-D shape.
  EyeLike: (c: OnnxCtx) => {
    const x = c.typeOf(c.input(0));
    if (x.shape.length !== 2) throw c.fail(`the input has rank ${x.shape.length}; EyeLike takes rank 2`);
    if (!x.shape.every(isStaticDim)) throw c.fail(`the input's shape [${x.shape}] has run-time dims; edgelm folds EyeLike to a constant`);
    const [rows, cols] = x.shape as [number, number];
    const code = attrInt(c, 'dtype', -1);
    const dtype = code === -1 ? x.dtype : dtypeFromOnnx(code);
    if (!dtype) throw c.fail(`dtype ${code} is not one edgelm has`);
    const k = attrInt(c, 'k', 0);
    const v = new Array<number>(rows * cols).fill(0);
    for (let i = 0; i < rows; i++) if (i + k >= 0 && i + k < cols) v[i * cols + i + k] = 1;
    bindConst(c, 0, constTensor(c, dtype, [rows, cols], v));
  },
  OneHot: oneHot,
};

/**
 * OneHot with constant depth and values, as IR ops every writer has: y = where(idx == k or
 * idx == k − depth, on, off) for k = 0 … depth−1 along `axis` (negative indices count from the end).
 */
function oneHot(c: OnnxCtx): void {
  const depthK = c.konst(1);
  const valuesK = c.konst(2);
  if (!depthK || !valuesK) return oneHotRunTime(c);
  const depth = Math.trunc(values(depthK)[0]!);
  const [off, on] = values(valuesK) as [number, number];
  if (!(depth > 0)) throw c.fail(`depth ${depth} must be positive`);
  // Float indices are cast to integers first, as ONNX defines (truncation).
  const floatIdx = isFloatDType(c.typeOf(c.input(0)).dtype);
  const input = floatIdx ? c.b.add('cast', [c.input(0)], { to: 'int32' }, { name: `${c.name}/cast`, source: c.name })[0]! : c.input(0);
  const idx = c.typeOf(input);
  const rank = idx.shape.length;
  let axis = attrInt(c, 'axis', -1);
  if (axis < -rank - 1 || axis > rank) throw c.fail(`axis ${axis} is outside the output's rank ${rank + 1}`);
  if (axis < 0) axis += rank + 1;
  const ks = Array.from({ length: depth }, (_, k) => k);
  const column = [depth, ...new Array<number>(rank - axis).fill(1)];
  const konst = (name: string, vals: number[], shape: number[], dtype = idx.dtype): string =>
    c.b.addConstant({ ...constTensor(c, dtype, shape, vals), name: `${c.name}/${name}` });
  const node = (op: 'unsqueeze' | 'equal' | 'logicalOr', ins: string[], attrs = {}): string =>
    c.b.add(op, ins, attrs, { name: `${c.name}/${op}`, source: c.name })[0]!;
  const lifted = node('unsqueeze', [input], { axes: [axis] });
  const hit = node('logicalOr', [node('equal', [lifted, konst('positions', ks, column)]), node('equal', [lifted, konst('negative_positions', ks.map((k) => k - depth), column)])]);
  emit(c, 'where', [hit, konst('on', [on], [], valuesK.dtype), konst('off', [off], [], valuesK.dtype)]);
}

/**
 * OneHot with a run-time depth or values: the positions are a Range to the fed depth (a value input,
 * so the new axis is a run-time dim), on and off are gathered from the fed values.
 */
function oneHotRunTime(c: OnnxCtx): void {
  const floatIdx = isFloatDType(c.typeOf(c.input(0)).dtype);
  const node = (op: OpType, ins: string[], attrs: Attrs, suffix: string): string => c.b.add1(op, ins, attrs, { name: `${c.name}/${suffix}`, source: c.name });
  const input = floatIdx ? node('cast', [c.input(0)], { to: 'int32' }, 'cast') : c.input(0);
  const idx = c.typeOf(input);
  const rank = idx.shape.length;
  let axis = attrInt(c, 'axis', -1);
  if (axis < -rank - 1 || axis > rank) throw c.fail(`axis ${axis} is outside the output's rank ${rank + 1}`);
  if (axis < 0) axis += rank + 1;
  const konst = (name: string, vals: number[], shape: number[], dtype = idx.dtype): string => c.b.addConstant({ ...constTensor(c, dtype, shape, vals), name: `${c.name}/${name}` });
  // Depth may be any numeric type (ONNX truncates a float one); reshaped to a scalar for the Range.
  const depth = node('reshape', [c.typeOf(c.input(1)).dtype === idx.dtype ? c.input(1) : node('cast', [c.input(1)], { to: idx.dtype }, 'depth_cast')], { shape: [] }, 'depth');
  const positions = node('range', [konst('start', [0], []), depth, konst('delta', [1], [])], { dtype: idx.dtype }, 'range');
  const column = node('reshape', [positions], { shape: [-1, ...new Array<number>(rank - axis).fill(1)] }, 'column');
  const lifted = node('unsqueeze', [input], { axes: [axis] }, 'unsqueeze');
  const negative = node('sub', [column, depth], {}, 'negative_positions');
  const hit = node('logicalOr', [node('equal', [lifted, column], {}, 'equal'), node('equal', [lifted, negative], {}, 'equal_negative')], {}, 'hit');
  const vals = c.input(2);
  const pick = (k: number, what: string): string => (c.konst(2) ? konst(what, [values(c.konst(2)!)[k]!], [], c.konst(2)!.dtype) : node('gather', [vals, konst(`${what}_index`, [k], [], 'int32')], {}, what));
  emit(c, 'where', [hit, pick(1, 'on'), pick(0, 'off')]);
}

// ─── ONNX writer: IR indexing ops → opset 17 (run by exportOnnx, src/export/onnx/index.ts) ───
export const INDEXING_EMIT: Partial<Record<OpType, Emit>> = {
  tile: (w, n, a) => void w.b.node('Tile', [n.inputs[0]!, n.inputs[1] ? w.valueAs(n.inputs[1]) : w.ints('repeats', a.repeats as number[])], n.outputs, {}, n.name),
  gatherElements: (w, n, a) => void w.b.node('GatherElements', [n.inputs[0]!, n.inputs[1]!], n.outputs, { axis: attr.i(a.axis as number) }, n.name),
};
