// ONNX opsets 1–6: the forms ops had before opset 7, rewritten into the forms the readers take
// (ops.ts and its siblings), or refused where edgelm cannot express them. Facts from the ONNX operator
// changelog. `consumed_inputs` (opsets 1–5) is a memory-reuse hint without effect on values: the
// readers ignore it like any attribute they do not read.
import { EdgelmError } from '../../errors.js';
import { attrFloat, attrInt, attrInts, attrStr, values, type OnnxCtx, type Translate } from './ctx.js';
import type { AttrValue } from './proto.js';

/** The last opset with these forms: opset 7 brought numpy broadcasting and dropped is_test. */
export const LEGACY_UNTIL = 6;

type Legacy = (c: OnnxCtx, modern: Translate) => void;

const broken = (c: OnnxCtx, what: string): EdgelmError => new EdgelmError('input', `${c.file}: node ${c.name} (${c.opType}): ${what}`);

/** The context with some attributes replaced (undefined: removed). */
function withAttrs(c: OnnxCtx, changes: Record<string, AttrValue | undefined>): OnnxCtx {
  const attrs = new Map(c.attrs);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) attrs.delete(k);
    else attrs.set(k, v);
  }
  return { ...c, attrs };
}

/** The context with its inputs replaced by IR values ('' for an absent one). */
function withInputs(c: OnnxCtx, irValues: string[]): OnnxCtx {
  return {
    ...c,
    inputs: irValues.map((v, i) => (v ? c.inputs[i] || `${c.name}:legacy_${i}` : '')),
    input: (i) => irValues[i] ?? '',
    konst(i) {
      const v = this.input(i);
      return v ? c.b.constant(v) : undefined;
    },
  };
}

/**
 * `broadcast=1` (opsets 1–6): B's dims line up with A's from `axis` on (default: A's last dims), B
 * being a contiguous run of A's dims or a scalar. Trailing size-1 dims on B make numpy broadcasting
 * line them up the same way. Without `broadcast` the shapes are equal, which numpy broadcasting keeps.
 */
function legacyBroadcast(c: OnnxCtx, modern: Translate): void {
  if (attrInt(c, 'broadcast', 0) !== 1 || !c.attrs.has('axis')) return modern(c);
  const rankA = c.typeOf(c.input(0)).shape.length;
  const b = c.input(1);
  const shapeB = c.typeOf(b).shape;
  const axis = attrInt(c, 'axis', 0);
  const start = axis < 0 ? axis + rankA : axis;
  if (start < 0 || start + shapeB.length > rankA)
    throw broken(c, `broadcast axis ${axis} does not fit B (rank ${shapeB.length}) into A (rank ${rankA})`);
  const trailing = rankA - start - shapeB.length;
  if (trailing === 0 || shapeB.length === 0) return modern(c);
  const axes = Array.from({ length: trailing }, (_, i) => shapeB.length + i);
  const k = c.konst(1);
  const aligned = k
    ? c.b.addConstant({ ...k, name: `${c.name}/B_aligned`, shape: [...k.shape, ...axes.map(() => 1)] })
    : c.b.add1('unsqueeze', [b], { axes }, { name: `${c.name}/B_aligned`, source: c.name });
  modern(withInputs(c, [c.input(0), aligned]));
}

/** PRelu before opset 7: a 1-D slope of size C is per channel (axis 1), a size-1 slope shared. */
function legacyPrelu(c: OnnxCtx, modern: Translate): void {
  const x = c.typeOf(c.input(0)).shape;
  const slope = c.typeOf(c.input(1)).shape;
  const size = slope.every((d) => typeof d === 'number') ? (slope as number[]).reduce((p, d) => p * d, 1) : undefined;
  if (size === 1 || x.length <= 2) return modern(c); // shared, or axis 1 is already the last axis
  if (slope.length !== 1 || slope[0] !== x[1])
    throw c.fail(`opset-${c.opset} PRelu with a slope of shape [${slope}] on an input of shape [${x}] is not supported (per-channel or size-1 slopes only)`);
  const axes = Array.from({ length: x.length - 2 }, (_, i) => 1 + i);
  const k = c.konst(1);
  const perChannel = k
    ? c.b.addConstant({ ...k, name: `${c.name}/slope_per_channel`, shape: [slope[0] as number, ...axes.map(() => 1)] })
    : c.b.add1('unsqueeze', [c.input(1)], { axes }, { name: `${c.name}/slope_per_channel`, source: c.name });
  modern(withInputs(c, [c.input(0), perChannel]));
}

/** is_test=0 (the default before opset 7) is training mode: batch statistics, random dropout. */
function testModeOnly(what: string): Legacy {
  return (c, modern) => {
    const training = attrInt(c, 'is_test', 0) === 0;
    if (training && !(c.opType === 'Dropout' && attrFloat(c, 'ratio', 0.5) === 0))
      throw c.fail(`is_test=0 (training mode: ${what}) is not supported; export the model for inference (is_test=1)`);
    if (c.opType === 'BatchNormalization' && attrInt(c, 'spatial', 1) !== 1)
      throw c.fail('spatial=0 (statistics per element, not per channel) is not supported');
    modern(c);
  };
}

/** Cast's `to` before opset 6: the TensorProto.DataType name as a string. */
const DATA_TYPE_CODES: Record<string, number> = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13,
};
function legacyCast(c: OnnxCtx, modern: Translate): void {
  const to = c.attrs.get('to');
  if (typeof to !== 'string') return modern(c);
  const code = DATA_TYPE_CODES[to.toUpperCase()];
  if (code === undefined) throw broken(c, `Cast to '${to}', which is not a TensorProto data type`);
  modern(withAttrs(c, { to: code }));
}

/** Pad-1's `paddings`: its text says [begins…, ends…], its example reads per axis; taken where both agree. */
function legacyPad(c: OnnxCtx, modern: Translate): void {
  if (c.opset >= 2) return modern(c);
  const p = attrInts(c, 'paddings', []);
  const rank = c.typeOf(c.input(0)).shape.length;
  if (p.length !== 2 * rank) throw broken(c, `${p.length} paddings for a rank-${rank} input`);
  const perAxis = Array.from({ length: 2 * rank }, (_, i) => (i < rank ? p[2 * i]! : p[2 * (i - rank) + 1]!));
  if (perAxis.some((v, i) => v !== p[i])) throw c.fail(`opset-1 Pad paddings [${p}] read differently by the spec's text and its example; edgelm takes only paddings both read alike`);
  modern(withAttrs(c, { pads: p, paddings: undefined }));
}

/** Tile before opset 6: inputs (input, tiles, axis), `tiles` copies along one axis. */
function legacyTile(c: OnnxCtx, modern: Translate): void {
  if (c.opset >= 6) return modern(c);
  const tiles = c.konst(1);
  const axis = c.konst(2);
  if (!tiles || !axis) throw c.fail('opset-1 Tile needs constant tiles and axis');
  const rank = c.typeOf(c.input(0)).shape.length;
  const a = values(axis)[0]!;
  const at = a < 0 ? a + rank : a;
  if (!Number.isInteger(at) || at < 0 || at >= rank) throw broken(c, `axis ${a} out of range for rank ${rank}`);
  const repeats = Array.from({ length: rank }, (_, i) => (i === at ? values(tiles)[0]! : 1));
  const r = c.b.addConstant({ name: `${c.name}/repeats`, dtype: 'int64', shape: [rank], data: BigInt64Array.from(repeats, BigInt) });
  modern(withInputs(c, [c.input(0), r]));
}

/** Split-1: the sizes may come as a (constant) second input instead of the attribute. */
function legacySplit(c: OnnxCtx, modern: Translate): void {
  if (c.opset >= 2 || !c.input(1)) return modern(c);
  const k = c.konst(1);
  if (!k) throw c.fail('opset-1 Split sizes (input 1) must be constant');
  modern(withInputs(withAttrs(c, { split: values(k) }), [c.input(0)]));
}

/** Upsample-1 (experimental): height_scale / width_scale on NCHW; nearest is Upsample-7's nearest. */
function legacyUpsample(c: OnnxCtx, modern: Translate): void {
  const mode = attrStr(c, 'mode', 'nearest');
  if (mode !== 'nearest') throw c.fail(`opset-${c.opset} Upsample mode '${mode}' is not supported (its bilinear rule is unspecified)`);
  const scales = [1, 1, attrFloat(c, 'height_scale', 1), attrFloat(c, 'width_scale', 1)];
  modern(withAttrs(c, { scales, height_scale: undefined, width_scale: undefined }));
}

/** Defaults that changed: Concat's axis (1 before opset 4), Selu's constants (fewer digits before 6). */
const defaults = (since: number, attrs: Record<string, number>): Legacy => (c, modern) => {
  if (c.opset >= since) return modern(c);
  const missing = Object.fromEntries(Object.entries(attrs).filter(([k]) => !c.attrs.has(k)));
  modern(withAttrs(c, missing));
};

const LEGACY: Record<string, Legacy> = {
  ...Object.fromEntries(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'And', 'Or', 'Xor', 'Equal', 'Greater', 'Less'].map((op) => [op, legacyBroadcast])),
  PRelu: legacyPrelu,
  BatchNormalization: testModeOnly('batch statistics'),
  Dropout: testModeOnly('random dropout'),
  Cast: legacyCast,
  Pad: legacyPad,
  Tile: legacyTile,
  Split: legacySplit,
  Upsample: legacyUpsample,
  Concat: defaults(4, { axis: 1 }),
  Selu: defaults(6, { alpha: 1.6732000112533569, gamma: 1.0506999492645264 }),
};

/** The translation for a node of an opset-1–6 model: its legacy form rewritten, else the modern reader. */
export function legacyTranslator(key: string, modern: Translate): Translate {
  const legacy = Object.hasOwn(LEGACY, key) ? LEGACY[key]! : undefined;
  return legacy ? (c) => legacy(c, modern) : modern;
}
