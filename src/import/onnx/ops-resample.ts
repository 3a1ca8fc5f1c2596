// ONNX → IR for Resize (opsets 10–19), Upsample (7–9), DepthToSpace and SpaceToDepth. Merged into
// ONNX_OPS (ops.ts).
import { EdgelmError } from '../../errors.js';
import { isFloatDType } from '../../ir/dtype.js';
import { isStaticDim, mulDims, type Dim } from '../../ir/dim.js';
import type { CoordinateMode, NearestMode, ResizeMode } from '../../ir/ops/resample.js';
import { attrFloat, attrInt, attrInts, attrStr, emit, values, type OnnxCtx, type Translate } from './ctx.js';
import { requiredDims, runTimeValues } from './shapes.js';
import { attr, type OnnxAttr } from '../../export/onnx/proto.js';
import type { Emit } from '../../export/onnx/writer.js';
import type { OpType } from '../../ir/registry.js';

const MODES = ['nearest', 'linear', 'cubic'];
const COORDINATE_MODES = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize'];
const NEAREST_MODES = ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'];

const badInput = (c: OnnxCtx, what: string): EdgelmError => new EdgelmError('input', `${c.file}: node ${c.name} (${c.opType}): ${what}`);

/** A constant float input, or undefined when absent or empty (Resize-11's "scales not given"). */
function floats(c: OnnxCtx, i: number, what: string): number[] | undefined {
  if (!c.input(i)) return undefined;
  const k = c.konst(i);
  if (!k) throw c.fail(`${what} (input ${i}) must be a constant; a resize to run-time sizes has no static output shape`);
  const v = values(k);
  return v.length ? v : undefined;
}

interface Request {
  mode: string;
  coordinateMode: string;
  nearestMode: string;
  scales?: number[];
  sizes?: Dim[];
  roi?: number[];
  /** The axes scales, sizes and roi are given for (opset 18); default every axis. */
  axes?: number[];
}

/** The IR resize's mode attributes and axes for a request, checking what the IR op can do. */
function resizeModes(c: OnnxCtx, r: Pick<Request, 'mode' | 'coordinateMode' | 'nearestMode' | 'axes'>) {
  const x = c.typeOf(c.input(0));
  const rank = x.shape.length;
  const mode = r.mode === 'bilinear' ? 'linear' : r.mode;
  if (!MODES.includes(mode)) throw c.fail(`mode '${r.mode}' is not supported (${MODES.join(', ')})`);
  if (!COORDINATE_MODES.includes(r.coordinateMode)) throw c.fail(`coordinate_transformation_mode '${r.coordinateMode}' is not supported`);
  if (!NEAREST_MODES.includes(r.nearestMode)) throw c.fail(`nearest_mode '${r.nearestMode}' is not supported`);
  if (mode !== 'nearest' && !isFloatDType(x.dtype)) throw c.fail(`${mode} interpolation of ${x.dtype} values is not supported`);
  const axes = (r.axes ?? Array.from({ length: rank }, (_, i) => i)).map((a) => (a < 0 ? a + rank : a));
  if (axes.some((a) => a < 0 || a >= rank)) throw badInput(c, `axes [${r.axes}] out of range for rank ${rank}`);
  const attrs = {
    mode: mode as ResizeMode,
    coordinateMode: r.coordinateMode as CoordinateMode,
    nearestMode: r.nearestMode as NearestMode,
    cubicCoeffA: attrFloat(c, 'cubic_coeff_a', -0.75),
    excludeOutside: attrInt(c, 'exclude_outside', 0) === 1,
    extrapolationValue: attrFloat(c, 'extrapolation_value', 0),
  };
  return { x, rank, axes, attrs };
}

/**
 * Run-time roi, scales or sizes (the model is fed them): the IR resize takes the three as value
 * inputs (constants among them too) and computes its output sizes when it runs. Inputs are ONNX
 * Resize-11's (roi 1, scales 2, sizes 3); `false` when all are constants or shape arithmetic.
 */
function runTimeResize(c: OnnxCtx, r: Pick<Request, 'mode' | 'coordinateMode' | 'nearestMode' | 'axes'>, inputs: { roi?: number; scales: number; sizes?: number }): boolean {
  const crop = r.coordinateMode === 'tf_crop_and_resize';
  const fed = (i: number | undefined, what: string): string | undefined => (i !== undefined && c.input(i) && !c.konst(i) ? runTimeValues(c, i, what) : undefined);
  const [roi, scales, sizes] = [crop ? fed(inputs.roi, 'roi') : undefined, fed(inputs.scales, 'scales'), fed(inputs.sizes, 'sizes')];
  if (!roi && !scales && !sizes) return false;
  // A tensor that is given and not empty (Resize-11 marks "not given" with an empty scales).
  const given = (i: number | undefined): string => (i !== undefined && c.input(i) && c.typeOf(c.input(i)).shape[0] !== 0 ? c.input(i) : '');
  const scalesIn = given(inputs.scales);
  const { attrs, axes } = resizeModes(c, r);
  emit(c, 'resize', [c.input(0), crop ? given(inputs.roi) : '', scalesIn, scalesIn ? '' : given(inputs.sizes)], { ...attrs, axes: r.axes ? axes : [] });
  return true;
}

/** Emits the IR resize for a request in ONNX terms, checking what the IR op can do. */
function emitResize(c: OnnxCtx, r: Request): void {
  const { x, rank, axes, attrs } = resizeModes(c, r);
  const given = r.scales ?? r.sizes;
  if (!given) throw badInput(c, 'neither scales nor sizes is given');
  if (given.length !== axes.length) throw badInput(c, `${r.scales ? 'scales' : 'sizes'} hold ${given.length} values for ${axes.length} axes`);
  const crop = r.coordinateMode === 'tf_crop_and_resize';
  const roi = new Array<number>(2 * rank);
  for (let i = 0; i < rank; i++) [roi[i], roi[i + rank]] = [0, 1];
  if (crop) {
    if (!r.roi || r.roi.length !== 2 * axes.length) throw badInput(c, 'tf_crop_and_resize needs a constant roi of 2 values per axis');
    axes.forEach((a, j) => ([roi[a], roi[a + rank]] = [r.roi![j]!, r.roi![j + axes.length]!]));
  }
  const scales = new Array<number>(rank).fill(1);
  const sizes: Dim[] = [...x.shape];
  axes.forEach((a, j) => {
    if (r.sizes) {
      sizes[a] = r.sizes[j]!;
      scales[a] = sizes[a] === x.shape[a] && !crop ? 1 : 0;
      return;
    }
    const s = r.scales![j]!;
    if (!(s > 0)) throw badInput(c, `scale ${s} is not positive`);
    scales[a] = s;
    const d = x.shape[a]!;
    const span = roi[a + rank]! - roi[a]!;
    if (s === 1 && span === 1) return;
    if (isStaticDim(d)) sizes[a] = Math.floor(d * span * s);
    else if (Number.isInteger(s) && span === 1) sizes[a] = mulDims(d, s);
    else throw c.fail(`scale ${s} of the run-time dim '${d}' gives no exact output size`);
  });
  if (sizes.some((d) => isStaticDim(d) && d < 1)) throw badInput(c, `resize to an empty shape [${sizes.join(', ')}]`);
  emit(c, 'resize', [c.input(0)], { sizes, scales, ...attrs, roi: crop ? roi : [] });
}

function resize(c: OnnxCtx): void {
  const mode = attrStr(c, 'mode', 'nearest');
  if (c.opset < 11) {
    // Resize-10: scales only, asymmetric coordinates; nearest is only defined for upsampling here.
    const r10 = { mode, coordinateMode: 'asymmetric', nearestMode: 'floor' };
    if (c.input(1) && !c.konst(1) && mode === 'nearest') throw c.fail('opset-10 nearest with run-time scales is not supported (its downsampling rounding is unspecified)');
    if (runTimeResize(c, r10, { scales: 1 })) return;
    const scales = floats(c, 1, 'scales');
    if (mode === 'nearest' && scales?.some((s) => s < 1)) throw c.fail('opset-10 nearest downsampling is not supported (its rounding is unspecified)');
    return emitResize(c, { ...r10, ...(scales ? { scales } : {}) });
  }
  if (attrInt(c, 'antialias', 0) === 1) throw c.fail('antialias is not supported');
  if (attrStr(c, 'keep_aspect_ratio_policy', 'stretch') !== 'stretch') throw c.fail(`keep_aspect_ratio_policy '${attrStr(c, 'keep_aspect_ratio_policy', '')}' is not supported`);
  const coordinateMode = attrStr(c, 'coordinate_transformation_mode', 'half_pixel');
  const axes = c.attrs.has('axes') ? attrInts(c, 'axes', []) : undefined;
  const modes = { mode, coordinateMode, nearestMode: attrStr(c, 'nearest_mode', 'round_prefer_floor'), ...(axes ? { axes } : {}) };
  if (runTimeResize(c, modes, { roi: 1, scales: 2, sizes: 3 })) return;
  const scales = floats(c, 2, 'scales');
  const sizes = !scales && c.input(3) ? requiredDims(c, 3, 'sizes') : undefined;
  const roi = coordinateMode === 'tf_crop_and_resize' ? floats(c, 1, 'roi') : undefined;
  emitResize(c, { ...modes, ...(scales ? { scales } : {}), ...(sizes ? { sizes } : {}), ...(roi ? { roi } : {}) });
}

/** Upsample (opsets 7–9; scales an attribute before 9): asymmetric coordinates, nearest rounds down. */
function upsample(c: OnnxCtx): void {
  const modes = { mode: attrStr(c, 'mode', 'nearest'), coordinateMode: 'asymmetric', nearestMode: 'floor' };
  if (c.opset >= 9 && runTimeResize(c, modes, { scales: 1 })) return;
  const scales = c.opset >= 9 ? floats(c, 1, 'scales') : attrInts(c, 'scales', []);
  emitResize(c, { ...modes, ...(scales?.length ? { scales } : {}) });
}

function blockSize(c: OnnxCtx): number {
  const b = attrInt(c, 'blocksize', 0);
  if (!Number.isInteger(b) || b < 1) throw badInput(c, `blocksize ${b} is not a positive integer`);
  if (c.typeOf(c.input(0)).shape.length !== 4) throw c.fail(`only 4-D inputs are supported (rank ${c.typeOf(c.input(0)).shape.length})`);
  return b;
}

export const RESAMPLE_OPS: Record<string, Translate> = {
  Resize: resize,
  Upsample: upsample,
  DepthToSpace: (c) => {
    const mode = attrStr(c, 'mode', 'DCR');
    if (mode !== 'DCR' && mode !== 'CRD') throw badInput(c, `mode '${mode}' is neither DCR nor CRD`);
    emit(c, 'depthToSpace', [c.input(0)], { blockSize: blockSize(c), mode });
  },
  SpaceToDepth: (c) => void emit(c, 'spaceToDepth', [c.input(0)], { blockSize: blockSize(c) }),
};

// ─── ONNX writer: IR resample ops → opset 17 (run by exportOnnx, src/export/onnx/index.ts) ───
/** One ONNX node of the same name, inputs and outputs, with attributes from the IR's. */
const same = (type: string, attrs: (a: Record<string, unknown>) => Record<string, OnnxAttr> = () => ({})): Emit => (w, n, a) =>
  void w.b.node(type, n.inputs.filter(Boolean), n.outputs, attrs(a), n.name);
const f = (key: string) => (a: Record<string, unknown>): number => a[key] as number;

export const RESAMPLE_EMIT: Partial<Record<OpType, Emit>> = {
  depthToSpace: same('DepthToSpace', (a) => ({ blocksize: attr.i(f('blockSize')(a)), mode: attr.s(a.mode as string) })),
  spaceToDepth: same('SpaceToDepth', (a) => ({ blocksize: attr.i(f('blockSize')(a)) })),
  resize: (w, n, a) => {
    if (a.coordinateMode === 'half_pixel_symmetric') throw new EdgelmError('unsupported', `${w.file}: node ${n.name} (resize): coordinate mode half_pixel_symmetric needs ONNX opset 19; the writer writes opset 17`);
    // Scales where every axis has one (they set the coordinate transform), else the output sizes.
    const scales = a.scales as number[];
    const roi = a.roi as number[];
    const ins = [n.inputs[0]!, roi.length ? w.init('roi', 'float32', [roi.length], Float32Array.from(roi)) : ''];
    const fed = n.inputs.slice(1, 4);
    if (fed.some(Boolean)) {
      // Run-time roi, scales or sizes pass through; opset 17's Resize has no axes attribute.
      const axes = a.axes as number[];
      if (axes.length && axes.some((ax, i) => ax !== i || axes.length !== w.rank(n.inputs[0]!)))
        throw new EdgelmError('unsupported', `${w.file}: node ${n.name} (resize): run-time roi, scales or sizes for axes [${axes}] need ONNX opset 18; the writer writes opset 17`);
      ins.splice(1, 1, ...fed.map((v, i) => (v ? w.valueAs(v, i === 2 ? 'int64' : 'float32') : '')));
      while (!ins[ins.length - 1]) ins.pop();
    } else if (scales.every((s) => s > 0)) ins.push(w.init('scales', 'float32', [scales.length], Float32Array.from(scales)));
    else ins.push('', w.dims.vector(a.sizes as Dim[], 'sizes'));
    w.b.node('Resize', ins, n.outputs, {
      mode: attr.s(a.mode as string),
      coordinate_transformation_mode: attr.s(a.coordinateMode as string),
      nearest_mode: attr.s(a.nearestMode as string),
      cubic_coeff_a: attr.f(f('cubicCoeffA')(a)),
      exclude_outside: attr.i(a.excludeOutside ? 1 : 0),
      extrapolation_value: attr.f(f('extrapolationValue')(a)),
    }, n.name);
  },
};
