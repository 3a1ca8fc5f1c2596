// Min-max affine quantization, the one implementation of Q(x) in edgelm:
//   scale = (max − min)/(qmax − qmin),  z = qmin − round(min/scale),  q = clamp(z + round(x/scale)),
//   x̂ = scale·(q − z),
// with the range widened to contain 0 so that zero is exactly representable. Arithmetic follows
// PyTorch's MinMaxObserver + quantize_per_tensor bit for bit: float32 at every step, round half to
// even, multiplication by the float32 inverse of the scale.
import { EdgelmError } from '../errors.js';
import type { QuantParams } from '../ir/tensor.js';

const f32 = Math.fround;
/** PyTorch's lower bound on a scale (torch.finfo(torch.float32).eps). */
export const SCALE_EPS = f32(2 ** -23);

/** Round half to even (numpy/PyTorch `round`, C `nearbyint`); Math.round rounds half up. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface QuantScheme {
  bits: number;
  /** Codes stored signed ([−2^(b−1), 2^(b−1)−1]) or unsigned ([0, 2^b − 1]). */
  signed: boolean;
  /** Zero point 0 and range ±max|x|. */
  symmetric: boolean;
  /**
   * Drop the most negative code (int8 range [−127, 127], as TFLite requires of weights).
   * For symmetric schemes this also decides the divisor: max|x|/qmax when narrow (TFLite),
   * max|x|/((qmax − qmin)/2) otherwise (PyTorch's symmetric observers).
   */
  narrow: boolean;
  granularity: 'tensor' | 'channel' | 'block';
  /** Channel axis (per channel) or the reduction axis the blocks run along (per block). */
  axis?: number;
  blockSize?: number;
}

export function qrange(s: Pick<QuantScheme, 'bits' | 'signed' | 'narrow'>): [number, number] {
  if (!Number.isInteger(s.bits) || s.bits < 2 || s.bits > 16) throw new EdgelmError('usage', `quantization bits must be an integer from 2 to 16, got ${s.bits}`);
  const qmin = s.signed ? -(2 ** (s.bits - 1)) : 0;
  const qmax = s.signed ? 2 ** (s.bits - 1) - 1 : 2 ** s.bits - 1;
  return [s.narrow ? qmin + 1 : qmin, qmax];
}

/** Scale and zero point for an observed range [min, max] (MinMaxObserver rules). */
export function chooseParams(min: number, max: number, s: QuantScheme): { scale: number; zeroPoint: number } {
  const [qmin, qmax] = qrange(s);
  if (min === Infinity && max === -Infinity) return { scale: 1, zeroPoint: s.symmetric ? symmetricZero(s) : qmin }; // never observed
  const mn = f32(Math.min(min, 0));
  const mx = f32(Math.max(max, 0));
  if (s.symmetric) {
    const absmax = f32(Math.max(-mn, mx));
    const divisor = s.narrow ? qmax : f32((qmax - qmin) / 2);
    return { scale: Math.max(f32(absmax / divisor), SCALE_EPS), zeroPoint: symmetricZero(s) };
  }
  const scale = Math.max(f32(f32(mx - mn) / (qmax - qmin)), SCALE_EPS);
  const zeroPoint = Math.min(qmax, Math.max(qmin, qmin - roundHalfEven(f32(mn / scale))));
  return { scale, zeroPoint };
}

/** Unsigned symmetric codes centre on the middle of the range (PyTorch quint8 symmetric: 128). */
function symmetricZero(s: QuantScheme): number {
  return s.signed ? 0 : 2 ** (s.bits - 1);
}

export function quantizeValue(x: number, inv: number, zeroPoint: number, qmin: number, qmax: number): number {
  const q = zeroPoint + roundHalfEven(f32(x * inv));
  return q < qmin ? qmin : q > qmax ? qmax : q;
}

export interface Quantized {
  codes: Int32Array;
  params: QuantParams;
}

/** Layout of a tensor as groups sharing one (scale, zero point): [outer, groups-per-slice, inner]. */
interface Grouping {
  /** Number of parameter sets. */
  count: number;
  /** Index of the parameter set for flat element i. */
  groupOf(i: number): number;
}

function grouping(shape: readonly number[], s: QuantScheme, name: string): Grouping {
  if (s.granularity === 'tensor') return { count: 1, groupOf: () => 0 };
  const rank = shape.length;
  const axis = s.axis === undefined ? -1 : s.axis < 0 ? s.axis + rank : s.axis;
  if (axis < 0 || axis >= rank) throw new EdgelmError('usage', `${name}: quantization axis ${s.axis} out of range for shape [${shape}]`);
  const dim = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  if (s.granularity === 'channel') return { count: dim, groupOf: (i) => Math.floor(i / inner) % dim };
  // Blocks of blockSize consecutive elements along `axis`; every other index keeps its own blocks.
  const bs = s.blockSize ?? 32;
  if (!Number.isInteger(bs) || bs < 1) throw new EdgelmError('usage', `${name}: block size must be a positive integer`);
  const blocks = Math.ceil(dim / bs);
  return {
    count: (shape.reduce((p, d) => p * d, 1) / dim) * blocks,
    groupOf: (i) => {
      const a = Math.floor(i / inner) % dim;
      const outer = Math.floor(i / (inner * dim));
      return (outer * blocks + Math.floor(a / bs)) * inner + (i % inner);
    },
  };
}

/**
 * Quantizes a float tensor. Refuses NaN/Inf naming the tensor. Per-channel parameters follow
 * `axis`; per-block parameters are laid out [outer..., blocks, inner...] (axis replaced by blocks).
 */
export function quantizeTensor(name: string, data: Float32Array, shape: readonly number[], s: QuantScheme): Quantized {
  const g = grouping(shape, s, name);
  const mins = new Float64Array(g.count).fill(Infinity);
  const maxs = new Float64Array(g.count).fill(-Infinity);
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (!Number.isFinite(x)) throw new EdgelmError('input', `${name}: element ${i} is ${x}; cannot quantize NaN or Inf`);
    const k = g.groupOf(i);
    if (x < mins[k]!) mins[k] = x;
    if (x > maxs[k]!) maxs[k] = x;
  }
  const scale = new Float32Array(g.count);
  const zeroPoint = new Int32Array(g.count);
  for (let k = 0; k < g.count; k++) {
    const p = chooseParams(mins[k]!, maxs[k]!, s);
    scale[k] = p.scale;
    zeroPoint[k] = p.zeroPoint;
  }
  const [qmin, qmax] = qrange(s);
  const inv = scale.map((sc) => f32(1 / sc));
  const codes = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const k = g.groupOf(i);
    codes[i] = quantizeValue(data[i]!, inv[k]!, zeroPoint[k]!, qmin, qmax);
  }
  const params: QuantParams = { scale, zeroPoint, bits: s.bits };
  if (s.granularity !== 'tensor') params.axis = s.axis ?? -1;
  if (s.granularity === 'block') params.blockSize = s.blockSize ?? 32;
  return { codes, params };
}

/** x̂ = scale·(q − z) for every element, with the grouping the parameters describe. */
export function dequantizeTensor(codes: ArrayLike<number>, shape: readonly number[], p: QuantParams): Float32Array {
  const s: QuantScheme = {
    bits: p.bits,
    signed: true,
    symmetric: false,
    narrow: false,
    granularity: p.blockSize ? 'block' : p.axis !== undefined ? 'channel' : 'tensor',
    ...(p.axis !== undefined ? { axis: p.axis } : {}),
    ...(p.blockSize ? { blockSize: p.blockSize } : {}),
  };
  const g = grouping(shape, s, 'dequantize');
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    const k = g.groupOf(i);
    out[i] = f32(p.scale[k]! * (codes[i]! - p.zeroPoint[k]!));
  }
  return out;
}
