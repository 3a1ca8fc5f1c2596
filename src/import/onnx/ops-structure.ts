// ONNX ↔ IR for the structure family (src/ir/ops/structure.ts): the readers of Identity, Dropout,
// Constant, Cast, Gather, Unsqueeze, Squeeze, Concat, Transpose, Slice and Split (merged into ONNX_OPS,
// ops.ts; Reshape, Expand, Shape, Range and the rest of the shape arithmetic are folded in shapes.ts),
// and the writer's entries for the family's IR ops (STRUCTURE_EMIT, run by src/export/onnx/index.ts).
import { EdgelmError } from '../../errors.js';
import { DTYPES, dtypeFromOnnx, type DType } from '../../ir/dtype.js';
import type { OpType } from '../../ir/registry.js';
import { sizeOf, transposeData, type Dim } from '../../ir/tensor.js';
import { requiredDims, runTimeValues } from './shapes.js';
import { allConst, attrInt, attrInts, bindConst, constInts, constTensor, emit, requiredInts, values, type Translate } from './ctx.js';
import { attr } from '../../export/onnx/proto.js';
import { simple, type Emit } from '../../export/onnx/writer.js';

export const STRUCTURE_OPS: Record<string, Translate> = {
  Identity: (c) => c.bind(0, c.input(0)),
  Dropout: (c) => {
    // Inference is the identity; training mode (opset 12's input 2) drops at random unless the ratio is 0.
    if (c.input(2)) {
      const training = c.konst(2);
      const ratio = c.input(1) ? c.konst(1) : undefined;
      const on = !training || values(training)[0] !== 0;
      if (on && !(ratio && values(ratio)[0] === 0)) throw c.fail('training mode (random dropout) is not supported; export the model for inference');
    }
    c.bind(0, c.input(0));
  },
  Constant: (c) => {
    const t = c.attrs.get('value');
    if (t && typeof t === 'object' && !Array.isArray(t) && 'dtype' in t) return bindConst(c, 0, t);
    const f = c.attrs.get('value_float');
    if (typeof f === 'number') return bindConst(c, 0, constTensor(c, 'float32', [], [f]));
    const fs = c.attrs.get('value_floats');
    if (Array.isArray(fs)) return bindConst(c, 0, constTensor(c, 'float32', [fs.length], fs));
    const i = c.attrs.get('value_int');
    if (typeof i === 'number') return bindConst(c, 0, constTensor(c, 'int64', [], [i]));
    const is = c.attrs.get('value_ints');
    if (Array.isArray(is)) return bindConst(c, 0, constTensor(c, 'int64', [is.length], is));
    throw c.fail('Constant without a supported value attribute');
  },
  Cast: (c) => {
    const to = dtypeFromOnnx(attrInt(c, 'to', 1));
    if (!to) throw c.fail(`Cast to ONNX type ${attrInt(c, 'to', 1)} is not supported`);
    const k = c.konst(0);
    // A value already of the type (MatMulInteger's int32 sum, which the IR holds in float32) is itself.
    if (!k && c.typeOf(c.input(0)).dtype === to) return c.bind(0, c.input(0));
    if (k) {
      const v = values(k);
      return bindConst(c, 0, constTensor(c, to, k.shape, to === 'float32' || to === 'float64' ? v : v.map(Math.trunc)));
    }
    emit(c, 'cast', [c.input(0)], { to });
  },
  Gather: (c) => {
    const axis = attrInt(c, 'axis', 0);
    const data = c.konst(0);
    const idx = c.konst(1);
    if (data && idx && data.shape.length === 1 && sizeOf(data.shape) <= 65536) {
      // Shape arithmetic: pick entries of a constant vector.
      const v = values(data);
      const picked = values(idx).map((i) => {
        const j = i < 0 ? i + v.length : i;
        if (!Number.isInteger(j) || j < 0 || j >= v.length) throw c.fail(`index ${i} is out of range for a constant of ${v.length} values`);
        return v[j]!;
      });
      return bindConst(c, 0, constTensor(c, data.dtype, idx.shape, picked));
    }
    emit(c, 'gather', [c.input(0), c.input(1)], { axis });
  },
  Unsqueeze: (c) => {
    const axes = c.opset >= 13 ? requiredInts(c, 1, 'axes') : attrInts(c, 'axes', []);
    const k = c.konst(0);
    if (k) {
      const rank = k.shape.length + axes.length;
      const at = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
      const shape: number[] = [];
      let j = 0;
      for (let i = 0; i < rank; i++) shape.push(at.has(i) ? 1 : k.shape[j++]!);
      return bindConst(c, 0, { ...k, shape });
    }
    emit(c, 'unsqueeze', [c.input(0)], { axes });
  },
  Squeeze: (c) => {
    const axes = c.opset >= 13 ? constInts(c, 1, 'axes') ?? [] : attrInts(c, 'axes', []);
    const k = c.konst(0);
    if (k) {
      const norm = axes.map((a) => (a < 0 ? a + k.shape.length : a));
      const shape = k.shape.filter((d, i) => (norm.length ? !norm.includes(i) : d !== 1));
      return bindConst(c, 0, { ...k, shape });
    }
    emit(c, 'squeeze', [c.input(0)], { axes });
  },
  Concat: (c) => {
    const axis = attrInt(c, 'axis', 0);
    // konst(i)?: allConst counts an empty (omitted) input as constant; and a Concat without inputs has no parts[0].
    if (c.inputs.length > 0 && allConst(c) && c.inputs.every((_, i) => c.konst(i)?.shape.length === 1)) {
      const parts = c.inputs.map((_, i) => c.konst(i)!);
      const all = parts.flatMap(values);
      return bindConst(c, 0, constTensor(c, parts[0]!.dtype, [all.length], all));
    }
    emit(c, 'concat', c.inputs.map((_, i) => c.input(i)), { axis });
  },
  Transpose: (c) => {
    const rank = c.typeOf(c.input(0)).shape.length;
    const perm = attrInts(c, 'perm', Array.from({ length: rank }, (_, i) => rank - 1 - i));
    // Checked before the constant fold below indexes shape and data with it.
    if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i))
      throw new EdgelmError('input', `${c.file}: node ${c.name} (Transpose): perm [${perm}] is not a permutation of the input's ${rank} axes`);
    const k = c.konst(0);
    if (k) return bindConst(c, 0, { ...k, shape: perm.map((p) => k.shape[p]!), data: transposeData(k.data, k.shape, perm) });
    emit(c, 'transpose', [c.input(0)], { perm });
  },
  Slice: (c) => {
    let starts: Dim[];
    let ends: Dim[];
    let axes: number[] | undefined;
    let steps: number[] | undefined;
    if (c.opset >= 10) {
      // Bounds may be run-time dims (`mask[:, :, k − q : k]`) or run-time values; axes and steps must be constants.
      const names = ['', 'starts', 'ends', 'axes', 'steps'];
      const given = names.map((what, i) => (i ? runTimeValues(c, i, what) : undefined));
      if (given.some(Boolean)) {
        // A constant axes or steps stays an attribute; the bounds go as tensors together.
        const n = Number(c.typeOf(c.input(1)).shape[0] ?? 1);
        const ax = given[3] ? [] : constInts(c, 3, 'axes') ?? Array.from({ length: n }, (_, i) => i);
        const st = given[4] ? [] : constInts(c, 4, 'steps') ?? Array.from({ length: n }, () => 1);
        if (st.some((v) => v === 0)) throw new EdgelmError('input', `${c.file}: node ${c.name} (Slice): step 0`);
        return void emit(c, 'slice', [c.input(0), c.input(1), c.input(2), given[3] ?? '', given[4] ?? ''], { axes: ax, steps: st });
      }
      starts = requiredDims(c, 1, 'starts');
      ends = requiredDims(c, 2, 'ends');
      axes = constInts(c, 3, 'axes');
      steps = constInts(c, 4, 'steps');
    } else {
      starts = attrInts(c, 'starts', []);
      ends = attrInts(c, 'ends', []);
      axes = attrInts(c, 'axes', []);
      if (!axes.length) axes = undefined;
    }
    const axesList = axes ?? starts.map((_, i) => i);
    const stepList = steps ?? starts.map(() => 1);
    // Ends past the int32 range mean "to the end"; clamp so TF.js and TFLite see int32.
    const clampEnd = (e: Dim): Dim => (typeof e === 'number' ? Math.max(-2147483648, Math.min(2147483647, e)) : e);
    // sliceBounds throws a ShapeError (not an EdgelmError) on step 0; the fold below calls it directly.
    if (stepList.some((st) => st === 0)) throw new EdgelmError('input', `${c.file}: node ${c.name} (Slice): step 0`);
    emit(c, 'slice', [c.input(0)], { starts, ends: ends.map(clampEnd), axes: axesList, steps: stepList });
  },
  Split: (c) => {
    const x = c.typeOf(c.input(0));
    const axis = attrInt(c, 'axis', 0);
    const dim = x.shape[axis < 0 ? axis + x.shape.length : axis];
    const given = c.opset >= 13 && c.input(1) && !c.konst(1) ? runTimeValues(c, 1, 'split') : undefined;
    if (given) {
      if (c.typeOf(given).shape[0] !== c.outputs.length) throw new EdgelmError('input', `${c.file}: node ${c.name} (Split): split holds ${c.typeOf(given).shape[0]} sizes for ${c.outputs.length} outputs`);
      return void emit(c, 'split', [c.input(0), given], { axis });
    }
    let sizes = c.opset >= 13 ? constInts(c, 1, 'split') : attrInts(c, 'split', []);
    if (!sizes || !sizes.length) {
      if (typeof dim !== 'number') throw c.fail('Split of a run-time dim needs explicit sizes');
      const parts = c.outputs.length;
      const each = Math.ceil(dim / parts);
      sizes = Array.from({ length: parts }, (_, i) => Math.min(each, dim - i * each));
    }
    emit(c, 'split', [c.input(0)], { axis, sizes });
  },
};

// ─── ONNX writer: IR structure ops → opset 17 (run by exportOnnx, src/export/onnx/index.ts) ───
export const STRUCTURE_EMIT: Partial<Record<OpType, Emit>> = {
  reshape: (w, n, a) => void w.b.node('Reshape', [n.inputs[0]!, n.inputs[1] ? w.valueAs(n.inputs[1]) : w.dims.vector(a.shape as Dim[], 'shape')], n.outputs, {}, n.name),
  transpose: (w, n, a) => void w.b.node('Transpose', [n.inputs[0]!], n.outputs, (a.perm as number[]).length ? { perm: attr.ints(a.perm as number[]) } : {}, n.name),
  concat: simple('Concat', (a) => ({ axis: attr.i(a.axis as number) })),
  split: (w, n, a) => void w.b.node('Split', [n.inputs[0]!, n.inputs[1] ? w.valueAs(n.inputs[1]) : w.ints('split', a.sizes as number[])], n.outputs, { axis: attr.i(a.axis as number) }, n.name),
  slice: (w, n, a) => {
    const [starts, ends] = n.inputs[1] ? [w.valueAs(n.inputs[1]), w.valueAs(n.inputs[2]!)] : [w.dims.vector(a.starts as Dim[], 'starts'), w.dims.vector(a.ends as Dim[], 'ends')];
    const [axes, steps] = [n.inputs[3] ? w.valueAs(n.inputs[3]) : w.ints('axes', a.axes as number[]), n.inputs[4] ? w.valueAs(n.inputs[4]) : w.ints('steps', a.steps as number[])];
    w.b.node('Slice', [n.inputs[0]!, starts, ends, axes, steps], n.outputs, {}, n.name);
  },
  gather: (w, n, a) => {
    if (!w.embedding(n, a.axis as number)) w.b.node('Gather', n.inputs.filter(Boolean), n.outputs, { axis: attr.i(a.axis as number) }, n.name);
  },
  squeeze: (w, n, a) => void w.b.node('Squeeze', (a.axes as number[]).length ? [n.inputs[0]!, w.ints('axes', a.axes as number[])] : [n.inputs[0]!], n.outputs, {}, n.name),
  unsqueeze: (w, n, a) => void w.b.node('Unsqueeze', [n.inputs[0]!, w.ints('axes', a.axes as number[])], n.outputs, {}, n.name),
  pad: (w, n, a) => {
    const value = a.mode !== 'constant' ? [] : n.inputs[2] ? [w.valueAs(n.inputs[2], w.types.get(n.inputs[0]!)!.dtype)] : [w.scalarLike('value', a.value as number, n.inputs[0]!)];
    w.b.node('Pad', [n.inputs[0]!, n.inputs[1] ? w.valueAs(n.inputs[1]) : w.ints('pads', a.pads as number[]), ...value], n.outputs, { mode: attr.s(a.mode as string) }, n.name);
  },
  cast: (w, n, a) => void w.b.node('Cast', [n.inputs[0]!], n.outputs, { to: attr.i(DTYPES[a.to as DType].onnx) }, n.name),
  shape: simple('Shape'),
  expand: (w, n, a) => void w.b.node('Expand', [n.inputs[0]!, n.inputs[1] ? w.valueAs(n.inputs[1]) : w.dims.vector(a.shape as Dim[], 'shape')], n.outputs, {}, n.name),
  range: (w, n, a) => {
    const dt = a.dtype as DType;
    // Run-time bounds: the three scalars as given, in the output's type.
    if (n.inputs[0]) return void w.b.node('Range', n.inputs.map((v) => (w.rank(v) ? w.op('Reshape', [w.valueAs(v, dt), w.ints('scalar_shape', [])]) : w.valueAs(v, dt))), n.outputs, {}, n.name);
    const bound = (d: Dim, base: string): string => (dt === 'int64' ? w.dims.scalar(d, base) : w.op('Cast', [w.dims.scalar(d, base)], { to: attr.i(DTYPES[dt].onnx) }));
    const delta = w.init('delta', dt, [], Object.assign(new DTYPES[dt].array(1), { 0: dt === 'int64' ? BigInt(a.delta as number) : (a.delta as number) }));
    w.b.node('Range', [bound(a.start as Dim, 'start'), bound(a.limit as Dim, 'limit'), delta], n.outputs, {}, n.name);
  },
  fill: (w, n, a) => {
    const dt = a.dtype as DType;
    const value = Object.assign(new DTYPES[dt].array(1), { 0: dt === 'int64' ? BigInt(a.value as number) : (a.value as number) });
    w.b.node('ConstantOfShape', [n.inputs[0] ? w.valueAs(n.inputs[0]) : w.dims.vector(a.shape as Dim[], 'shape')], n.outputs, { value: attr.t(dt, [1], value) }, n.name);
  },
  dimValues: (w, n, a) => {
    const v = w.dims.vector(a.values as Dim[], 'dims');
    const shape = a.shape as number[];
    const dt = a.dtype as DType;
    const shaped = shape.length === 1 ? v : w.op('Reshape', [v, w.ints('dims_shape', shape)]);
    w.b.node(dt === 'int64' ? 'Identity' : 'Cast', [shaped], n.outputs, dt === 'int64' ? {} : { to: attr.i(DTYPES[dt].onnx) }, n.name);
  },
};
