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
  /** Integer codes in the narrowest container: Int8Array (signed, ≤ 8 bits), Uint8Array (unsigned, ≤ 8 bits), else Int32Array. */
  codes: Int8Array | Uint8Array | Int32Array;
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
  const { dim, inner, blocks, bs } = layout(shape, s, name);
  if (s.granularity === 'channel') return { count: dim, groupOf: (i) => Math.floor(i / inner) % dim };
  return {
    count: (shape.reduce((p, d) => p * d, 1) / dim) * blocks,
    groupOf: (i) => {
      const a = Math.floor(i / inner) % dim;
      const outer = Math.floor(i / (inner * dim));
      return (outer * blocks + Math.floor(a / bs)) * inner + (i % inner);
    },
  };
}

/** [outer, dim, inner] around the scheme's axis, and the blocks along it (per block). */
function layout(shape: readonly number[], s: QuantScheme, name: string): { outer: number; dim: number; inner: number; blocks: number; bs: number } {
  const rank = shape.length;
  const axis = s.axis === undefined ? -1 : s.axis < 0 ? s.axis + rank : s.axis;
  if (axis < 0 || axis >= rank) throw new EdgelmError('usage', `${name}: quantization axis ${s.axis} out of range for shape [${shape}]`);
  const dim = shape[axis]!;
  const outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  if (s.granularity !== 'block') return { outer, dim, inner, blocks: dim, bs: 1 };
  // Blocks of blockSize consecutive elements along `axis`; every other index keeps its own blocks.
  const bs = s.blockSize ?? 32;
  if (!Number.isInteger(bs) || bs < 1) throw new EdgelmError('usage', `${name}: block size must be a positive integer`);
  return { outer, dim, inner, blocks: Math.ceil(dim / bs), bs };
}

// ---- WebAssembly SIMD kernels ----------------------------------------------------------------
// Quantizing is two streaming passes (range, then codes) that plain JS runs at well under 1 GB/s:
// one closure call, a float64 round and a bounds check per element. These kernels do four lanes
// per instruction with float32 operations that give PyTorch's results bit for bit:
//   f32x4.mul         float32 product x·inv (IEEE, round to nearest even), as f32(x·inv) in JS;
//   pmax/pmin         the clamp, taken before rounding: to [qmin − z, qmax − z], integers, so it
//                     equals clamping z + round(·) to [qmin, qmax];
//   + 1.5·2^23        round half to even and conversion in one float32 addition (quantRunsBody);
//   pmin/pmax, ne     min/max of the range pass; f32x4.ne(x, x) flags NaN, which pmin/pmax skip;
//                     ±Infinity shows as an infinite min or max.
// Scale and zero point come from paramsBody, the rules of chooseParams in float32 steps.
// The module is assembled below from its opcodes (no binary blob). Data streams through a scratch
// area in chunks that stay in cache, so a tensor is read from memory once per pass, or once in all
// when each group is one run that fits a chunk (per channel on axis 0, blocks on the last axis).
// Codes are written in the narrowest container (Int8Array for int8), a quarter of int32's traffic.

/** Elements per chunk: 128 KiB of float32 input and up to 128 KiB of codes, in L2. */
const CHUNK = 32768;
const SRC = 0;
const DST = CHUNK * 4;
const PARAMS = CHUNK * 8;
/** Memory kept by the module between calls; more (32 bytes per group of a huge tensor) is released. */
const RETAIN_BYTES = 64 << 20;
/** 1.5·2^23 and its float32 bits. */
const ROUND_MAGIC = 12582912;
const MAGIC_BITS = 0x4b400000;

type CodeKind = 'i32' | 'i8' | 'u8';
type RangeFn = (src: number, len: number, count: number, gmin: number, gmax: number) => number;
type QuantFn = (src: number, len: number, count: number, dst: number, ginv: number, glo: number, ghi: number, gbias: number) => void;
interface Kernels {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  rangeRuns: RangeFn;
  rangeRows: RangeFn;
  params: (base: number, stride: number, n: number, qmin: number, qmax: number, symmetric: number, zero: number, divisor: number) => number;
  quantRuns: Record<CodeKind, QuantFn>;
  quantRows: Record<CodeKind, QuantFn>;
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (d: { initial: number }) => Kernels['memory'];
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const str = (s: string): number[] => [...uleb(s.length), ...[...s].map((c) => c.charCodeAt(0))];

// Opcodes (scalar, then 0xfd-prefixed SIMD).
const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const get = (i: number): number[] => [0x20, i];
const set = (i: number): number[] => [0x21, i];
const i32c = (n: number): number[] => {
  const out: number[] = [0x41]; // i32.const, signed LEB128
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const f32c = (x: number): number[] => [0x43, ...new Uint8Array(Float32Array.of(x).buffer)];
const simd = (op: number, ...imm: number[]): number[] => [0xfd, ...uleb(op), ...imm];
const MEM0 = [0, 0]; // memarg: alignment hint 1, offset 0
const op = {
  end: 0x0b,
  brIf: (depth: number) => [0x0d, depth],
  br: (depth: number) => [0x0c, depth],
  i32load: [0x28, ...MEM0],
  f32load: [0x2a, ...MEM0],
  i32store: [0x36, ...MEM0],
  f32store: [0x38, ...MEM0],
  i32store8: [0x3a, ...MEM0],
  select: 0x1b,
  i32eqz: 0x45,
  i32lts: 0x48,
  i32gts: 0x4a,
  i32geu: 0x4f,
  f32eq: 0x5b,
  f32ne: 0x5c,
  f32lt: 0x5d,
  f32gt: 0x5e,
  i32add: 0x6a,
  i32sub: 0x6b,
  i32and: 0x71,
  i32or: 0x72,
  i32mul: 0x6c,
  i32shl: 0x74,
  f32neg: 0x8c,
  f32nearest: 0x90,
  f32add: 0x92,
  f32sub: 0x93,
  f32mul: 0x94,
  f32div: 0x95,
  f32min: 0x96,
  f32max: 0x97,
  i32truncF32: 0xa8,
  f32fromI32: 0xb2,
  i32fromF32bits: 0xbc,
  v128load: simd(0, ...MEM0),
  v128store: simd(11, ...MEM0),
  i32x4splat: simd(17),
  f32x4splat: simd(19),
  f32x4lane: (l: number) => simd(31, l),
  f32x4ne: simd(66),
  v128or: simd(80),
  anyTrue: simd(83),
  store32lane0: simd(90, ...MEM0, 0),
  i8narrowS: simd(101),
  i8narrowU: simd(102),
  i16narrowS: simd(133),
  i32x4sub: simd(177),
  f32x4mul: simd(230),
  f32x4pmin: simd(234),
  f32x4pmax: simd(235),
  f32x4add: simd(228),
};
const block = (...body: (number | number[])[]): number[] => [0x02, 0x40, ...body.flat(), op.end];
const loop = (...body: (number | number[])[]): number[] => [0x03, 0x40, ...body.flat(), op.end];
/** `while (a < b) { body }` on unsigned i32 locals; body's branch depths are relative to the loop. */
const whileLt = (a: number, b: number, ...body: (number | number[])[]): number[] => block(loop(get(a), get(b), op.i32geu, op.brIf(1), ...body, op.br(0)));
const addTo = (local: number, n: number): number[] => [...get(local), ...i32c(n), op.i32add, ...set(local)];

// Parameters shared by every kernel: 0 src, 1 len (elements a run or row), 2 count (runs or rows),
// then range kernels: 3 gmin, 4 gmax (float32 per group, accumulated into);
// quantize kernels: 3 dst, then per group 4 ginv, 5 glo, 6 ghi (float32: 1/scale, qmin − z, qmax − z),
// 7 gbias (int32: bits of ROUND_MAGIC − z).
// Runs: run r (len elements) belongs to group r. Rows: element j of every row belongs to group j.

/** Range of `count` runs: min/max of run r folded into gmin[r]/gmax[r]. Returns 1 on a NaN. */
function rangeRunsBody(): number[] {
  const [src, len, count, gmin, gmax, p, end, vend, vmin, vmax, vnan, x, smin, smax, sx, flag] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  void src;
  const lane = (v: number, f: number): number[] => [...get(v), ...op.f32x4lane(0), ...get(v), ...op.f32x4lane(1), f, ...get(v), ...op.f32x4lane(2), f, ...get(v), ...op.f32x4lane(3), f];
  const locals = [[3, I32], [4, V128], [3, F32], [1, I32]];
  const body = [
    ...get(0), ...set(p),
    ...block(loop(
      ...get(count), op.i32eqz, ...op.brIf(1),
      ...get(p), ...get(len), ...i32c(2), op.i32shl, op.i32add, ...set(end),
      ...get(p), ...get(len), ...i32c(-4), op.i32and, ...i32c(2), op.i32shl, op.i32add, ...set(vend),
      ...f32c(Infinity), ...op.f32x4splat, ...set(vmin),
      ...f32c(-Infinity), ...op.f32x4splat, ...set(vmax),
      ...whileLt(p, vend,
        ...get(p), ...op.v128load, ...set(x),
        ...get(vmin), ...get(x), ...op.f32x4pmin, ...set(vmin),
        ...get(vmax), ...get(x), ...op.f32x4pmax, ...set(vmax),
        ...get(vnan), ...get(x), ...get(x), ...op.f32x4ne, ...op.v128or, ...set(vnan),
        ...addTo(p, 16)),
      ...lane(vmin, op.f32min), ...get(gmin), ...op.f32load, op.f32min, ...set(smin),
      ...lane(vmax, op.f32max), ...get(gmax), ...op.f32load, op.f32max, ...set(smax),
      ...whileLt(p, end,
        ...get(p), ...op.f32load, ...set(sx),
        ...get(flag), ...get(sx), ...get(sx), op.f32ne, op.i32or, ...set(flag),
        ...get(smin), ...get(sx), op.f32min, ...set(smin),
        ...get(smax), ...get(sx), op.f32max, ...set(smax),
        ...addTo(p, 4)),
      ...get(gmin), ...get(smin), ...op.f32store,
      ...get(gmax), ...get(smax), ...op.f32store,
      ...addTo(gmin, 4), ...addTo(gmax, 4), ...addTo(count, -1),
      ...op.br(0))),
    ...get(flag), ...get(vnan), ...op.anyTrue, op.i32or,
  ];
  return [...vec(locals), ...body, op.end];
}

/** Range of `count` rows: element j of each row folded into gmin[j]/gmax[j]. Returns 1 on a NaN. */
function rangeRowsBody(): number[] {
  const [src, len, count, gmin, gmax, p, end, vend, q, x, vnan, sx, flag] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  void src;
  const locals = [[4, I32], [2, V128], [1, F32], [1, I32]];
  const body = [
    ...get(0), ...set(p),
    ...block(loop(
      ...get(count), op.i32eqz, ...op.brIf(1),
      ...get(p), ...get(len), ...i32c(2), op.i32shl, op.i32add, ...set(end),
      ...get(p), ...get(len), ...i32c(-4), op.i32and, ...i32c(2), op.i32shl, op.i32add, ...set(vend),
      ...i32c(0), ...set(q),
      ...whileLt(p, vend,
        ...get(p), ...op.v128load, ...set(x),
        ...get(gmin), ...get(q), op.i32add, ...get(gmin), ...get(q), op.i32add, ...op.v128load, ...get(x), ...op.f32x4pmin, ...op.v128store,
        ...get(gmax), ...get(q), op.i32add, ...get(gmax), ...get(q), op.i32add, ...op.v128load, ...get(x), ...op.f32x4pmax, ...op.v128store,
        ...get(vnan), ...get(x), ...get(x), ...op.f32x4ne, ...op.v128or, ...set(vnan),
        ...addTo(p, 16), ...addTo(q, 16)),
      ...whileLt(p, end,
        ...get(p), ...op.f32load, ...set(sx),
        ...get(flag), ...get(sx), ...get(sx), op.f32ne, op.i32or, ...set(flag),
        ...get(gmin), ...get(q), op.i32add, ...get(gmin), ...get(q), op.i32add, ...op.f32load, ...get(sx), op.f32min, ...op.f32store,
        ...get(gmax), ...get(q), op.i32add, ...get(gmax), ...get(q), op.i32add, ...op.f32load, ...get(sx), op.f32max, ...op.f32store,
        ...addTo(p, 4), ...addTo(q, 4)),
      ...addTo(count, -1),
      ...op.br(0))),
    ...get(flag), ...get(vnan), ...op.anyTrue, op.i32or,
  ];
  return [...vec(locals), ...body, op.end];
}

/** Stores the int32x4 on the stack at dst as four codes of `kind`; advances dst. */
function storeCodes(kind: CodeKind, dst: number, tmp: number): number[] {
  if (kind === 'i32') return [...set(tmp), ...get(dst), ...get(tmp), ...op.v128store, ...addTo(dst, 16)];
  const narrow8 = kind === 'i8' ? op.i8narrowS : op.i8narrowU;
  return [...set(tmp), ...get(dst), ...get(tmp), ...get(tmp), ...op.i16narrowS, ...get(tmp), ...get(tmp), ...op.i16narrowS, ...narrow8, ...op.store32lane0, ...addTo(dst, 4)];
}
/** Stores the i32 on the stack at dst as one code of `kind`; advances dst. */
function storeCode(kind: CodeKind, dst: number, tmp: number): number[] {
  return [...set(tmp), ...get(dst), ...get(tmp), ...(kind === 'i32' ? op.i32store : op.i32store8), ...addTo(dst, kind === 'i32' ? 4 : 1)];
}

/**
 * Codes of `count` runs, run r with the parameters of group r. Rounding and conversion in one step:
 * for an integer-bounded y in [−2^22, 2^22], the float32 sum y + 1.5·2^23 is y rounded to an integer
 * (ties to even: float32 addition rounds so, and 1.5·2^23 is even) and its bits are those of
 * 1.5·2^23 plus that integer; subtracting bias = bits(1.5·2^23) − z yields z + round(y). y is first
 * clamped to [qmin − z, qmax − z] (integers, so clamping before or after rounding agree).
 */
function quantRunsBody(kind: CodeKind): number[] {
  const [, len, count, dst, ginv, glo, ghi, gbias, p, end, vend, t, bias, vinv, vlo, vhi, vbias, v, vm, inv, lo, hi] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
  const locals = [[5, I32], [6, V128], [3, F32]];
  const body = [
    ...get(0), ...set(p),
    ...f32c(ROUND_MAGIC), ...op.f32x4splat, ...set(vm),
    ...block(loop(
      ...get(count), op.i32eqz, ...op.brIf(1),
      ...get(p), ...get(len), ...i32c(2), op.i32shl, op.i32add, ...set(end),
      ...get(p), ...get(len), ...i32c(-4), op.i32and, ...i32c(2), op.i32shl, op.i32add, ...set(vend),
      ...get(ginv), ...op.f32load, ...set(inv), ...get(inv), ...op.f32x4splat, ...set(vinv),
      ...get(glo), ...op.f32load, ...set(lo), ...get(lo), ...op.f32x4splat, ...set(vlo),
      ...get(ghi), ...op.f32load, ...set(hi), ...get(hi), ...op.f32x4splat, ...set(vhi),
      ...get(gbias), ...op.i32load, ...set(bias), ...get(bias), ...op.i32x4splat, ...set(vbias),
      ...whileLt(p, vend,
        ...get(p), ...op.v128load, ...get(vinv), ...op.f32x4mul, ...get(vlo), ...op.f32x4pmax, ...get(vhi), ...op.f32x4pmin,
        ...get(vm), ...op.f32x4add, ...get(vbias), ...op.i32x4sub, ...storeCodes(kind, dst, v),
        ...addTo(p, 16)),
      ...whileLt(p, end,
        ...get(p), ...op.f32load, ...get(inv), op.f32mul, ...get(lo), op.f32max, ...get(hi), op.f32min,
        ...f32c(ROUND_MAGIC), op.f32add, op.i32fromF32bits, ...get(bias), op.i32sub, ...storeCode(kind, dst, t),
        ...addTo(p, 4)),
      ...addTo(ginv, 4), ...addTo(glo, 4), ...addTo(ghi, 4), ...addTo(gbias, 4), ...addTo(count, -1),
      ...op.br(0))),
  ];
  return [...vec(locals), ...body, op.end];
}

/** Codes of `count` rows, element j with the parameters of group j (see quantRunsBody). */
function quantRowsBody(kind: CodeKind): number[] {
  const [, len, count, dst, ginv, glo, ghi, gbias, p, end, vend, q, t, v, vm] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const locals = [[5, I32], [2, V128]];
  const at = (base: number): number[] => [...get(base), ...get(q), op.i32add];
  const body = [
    ...get(0), ...set(p),
    ...f32c(ROUND_MAGIC), ...op.f32x4splat, ...set(vm),
    ...block(loop(
      ...get(count), op.i32eqz, ...op.brIf(1),
      ...get(p), ...get(len), ...i32c(2), op.i32shl, op.i32add, ...set(end),
      ...get(p), ...get(len), ...i32c(-4), op.i32and, ...i32c(2), op.i32shl, op.i32add, ...set(vend),
      ...i32c(0), ...set(q),
      ...whileLt(p, vend,
        ...get(p), ...op.v128load, ...at(ginv), ...op.v128load, ...op.f32x4mul, ...at(glo), ...op.v128load, ...op.f32x4pmax, ...at(ghi), ...op.v128load, ...op.f32x4pmin,
        ...get(vm), ...op.f32x4add, ...at(gbias), ...op.v128load, ...op.i32x4sub, ...storeCodes(kind, dst, v),
        ...addTo(p, 16), ...addTo(q, 16)),
      ...whileLt(p, end,
        ...get(p), ...op.f32load, ...at(ginv), ...op.f32load, op.f32mul, ...at(glo), ...op.f32load, op.f32max, ...at(ghi), ...op.f32load, op.f32min,
        ...f32c(ROUND_MAGIC), op.f32add, op.i32fromF32bits, ...at(gbias), ...op.i32load, op.i32sub, ...storeCode(kind, dst, t),
        ...addTo(p, 4), ...addTo(q, 4)),
      ...addTo(count, -1),
      ...op.br(0))),
  ];
  return [...vec(locals), ...body, op.end];
}

/**
 * The rules of chooseParams for `n` groups from their observed ranges. Group arrays lie `stride`
 * bytes apart from `base`: 0 min, 1 max (in); 2 1/scale, 3 qmin − z, 4 qmax − z, 5 bias (for the
 * quantize kernels), 6 scale, 7 zero point (out). Returns 1 when a range is infinite. Same float32
 * steps as chooseParams: its float64 divisions rounded to float32 are float32 divisions, the
 * operands being float32 (or small integers) and double rounding being harmless for division.
 */
function paramsBody(): number[] {
  const [base, stride, n, qmin, qmax, symmetric, zero, divisor, mn, mx, scale, zp, flag] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
  const locals = [[3, F32], [2, I32]];
  const at = (a: number): number[] => [...get(base), ...get(stride), ...i32c(a), op.i32mul, op.i32add];
  const ifElse = (then: number[], otherwise?: number[]): number[] => [0x04, 0x40, ...then, ...(otherwise ? [0x05, ...otherwise] : []), op.end];
  const unobserved = [...f32c(1), ...set(scale), ...get(zero), ...set(zp)];
  const body = [
    ...block(loop(
      ...get(n), op.i32eqz, ...op.brIf(1),
      ...at(0), ...op.f32load, ...set(mn),
      ...at(1), ...op.f32load, ...set(mx),
      ...get(mn), ...f32c(Infinity), op.f32eq, ...get(mx), ...f32c(-Infinity), op.f32eq, op.i32and,
      ...ifElse(unobserved, [
        ...get(mn), ...f32c(-Infinity), op.f32eq, ...get(mx), ...f32c(Infinity), op.f32eq, op.i32or,
        ...ifElse([...i32c(1), ...set(flag), ...unobserved], [
          ...get(mn), ...f32c(0), ...get(mn), ...f32c(0), op.f32lt, op.select, ...set(mn),
          ...get(mx), ...f32c(0), ...get(mx), ...f32c(0), op.f32gt, op.select, ...set(mx),
          ...get(symmetric),
          ...ifElse(
            [...get(mn), op.f32neg, ...get(mx), ...get(mn), op.f32neg, ...get(mx), op.f32gt, op.select, ...get(divisor), op.f32div, ...set(scale), ...get(zero), ...set(zp)],
            [...get(mx), ...get(mn), op.f32sub, ...get(qmax), ...get(qmin), op.i32sub, op.f32fromI32, op.f32div, ...set(scale)],
          ),
          ...f32c(SCALE_EPS), ...get(scale), ...get(scale), ...f32c(SCALE_EPS), op.f32lt, op.select, ...set(scale),
          ...get(symmetric), op.i32eqz,
          ...ifElse([
            ...get(qmin), ...get(mn), ...get(scale), op.f32div, op.f32nearest, op.i32truncF32, op.i32sub, ...set(zp),
            ...get(qmin), ...get(zp), ...get(zp), ...get(qmin), op.i32lts, op.select, ...set(zp),
            ...get(qmax), ...get(zp), ...get(zp), ...get(qmax), op.i32gts, op.select, ...set(zp),
          ]),
        ]),
      ]),
      ...at(6), ...get(scale), ...op.f32store,
      ...at(7), ...get(zp), ...op.i32store,
      ...at(2), ...f32c(1), ...get(scale), op.f32div, ...op.f32store,
      ...at(3), ...get(qmin), ...get(zp), op.i32sub, op.f32fromI32, ...op.f32store,
      ...at(4), ...get(qmax), ...get(zp), op.i32sub, op.f32fromI32, ...op.f32store,
      ...at(5), ...i32c(MAGIC_BITS), ...get(zp), op.i32sub, ...op.i32store,
      ...addTo(base, 4), ...addTo(n, -1),
      ...op.br(0))),
    ...get(flag),
  ];
  return [...vec(locals), ...body, op.end];
}

const KINDS: CodeKind[] = ['i32', 'i8', 'u8'];

function assemble(): Uint8Array {
  const rangeType = [0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), ...vec([[I32]])];
  const quantType = [0x60, ...vec(Array.from({ length: 8 }, () => [I32])), ...vec([])];
  const paramsType = [0x60, ...vec([[I32], [I32], [I32], [I32], [I32], [I32], [I32], [F32]]), ...vec([[I32]])];
  const bodies = [rangeRunsBody(), rangeRowsBody(), paramsBody(), ...KINDS.map(quantRunsBody), ...KINDS.map(quantRowsBody)];
  const types = [0, 0, 2, ...KINDS.map(() => 1), ...KINDS.map(() => 1)];
  const names = ['rangeRuns', 'rangeRows', 'params', ...KINDS.map((k) => `quantRuns_${k}`), ...KINDS.map((k) => `quantRows_${k}`)];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([rangeType, quantType, paramsType])),
    ...section(2, vec([[...str('m'), ...str('m'), 0x02, 0x00, ...uleb(1)]])),
    ...section(3, vec(types.map((t) => [t]))),
    ...section(7, vec(names.map((n, i) => [...str(n), 0x00, ...uleb(i)]))),
    ...section(10, vec(bodies.map((b) => [...uleb(b.length), ...b]))),
  ]);
}

let kernels: Kernels | undefined;
function wasm(): Kernels {
  if (kernels) return kernels;
  const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const memory = new WA.Memory({ initial: 1 });
  const e = new WA.Instance(new WA.Module(assemble()), { m: { m: memory } }).exports;
  const pick = (prefix: string): Record<CodeKind, QuantFn> => Object.fromEntries(KINDS.map((k) => [k, e[`${prefix}_${k}`] as QuantFn])) as Record<CodeKind, QuantFn>;
  kernels = { memory, rangeRuns: e.rangeRuns as RangeFn, rangeRows: e.rangeRows as RangeFn, params: e.params as Kernels['params'], quantRuns: pick('quantRuns'), quantRows: pick('quantRows') };
  return kernels;
}

/**
 * A stretch of the tensor in one of the two shapes the kernels know: `count` consecutive runs of
 * `len` elements, run r in group g0 + r ('runs'); or `count` consecutive rows of `len` elements,
 * element j of each in group g0 + j ('rows').
 */
interface Task {
  rows: boolean;
  start: number;
  len: number;
  count: number;
  g0: number;
}

/** Cuts a task into pieces of at most CHUNK contiguous elements, with their first group. */
function* pieces(t: Task): Generator<Task> {
  if (t.len <= CHUNK) {
    const per = Math.floor(CHUNK / t.len);
    for (let i = 0; i < t.count; i += per) yield { rows: t.rows, start: t.start + i * t.len, len: t.len, count: Math.min(per, t.count - i), g0: t.g0 + (t.rows ? 0 : i) };
    return;
  }
  for (let r = 0; r < t.count; r++)
    for (let off = 0; off < t.len; off += CHUNK) yield { rows: t.rows, start: t.start + r * t.len + off, len: Math.min(CHUNK, t.len - off), count: 1, g0: t.rows ? t.g0 + off : t.g0 + r };
}

/** Throws for the first NaN or ±Infinity in data (called once a scan has seen one). */
function nonFinite(name: string, data: Float32Array, at = 0): never {
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (!Number.isFinite(x)) throw new EdgelmError('input', `${name}: element ${at + i} is ${x}; cannot quantize NaN or Inf`);
  }
  throw new Error(`${name}: a kernel reported a non-finite value that is not there`);
}

/** Float32 values quantizeTensor reads a piece at a time: elements [start, start + into.length) into `into`. */
export interface FloatSource {
  readonly length: number;
  read(start: number, into: Float32Array): void;
}

/** Every value of a source (for messages about one of them). */
export function allOf(data: Float32Array | FloatSource): Float32Array {
  if (data instanceof Float32Array) return data;
  const all = new Float32Array(data.length);
  data.read(0, all);
  return all;
}

/** Where quantizeTensor writes: `into`, codes of its container type and length, instead of a new array; `at`, the element of the whole tensor `data` starts at (for messages). */
export interface QuantizeInto {
  into?: Int8Array | Uint8Array | Int32Array;
  at?: number;
}

/**
 * Quantizes a float tensor. Refuses NaN/Inf naming the tensor. Per-channel parameters follow
 * `axis`; per-block parameters are laid out [outer..., blocks, inner...] (axis replaced by blocks).
 */
export function quantizeTensor(name: string, data: Float32Array | FloatSource, shape: readonly number[], s: QuantScheme, opts: QuantizeInto = {}): Quantized {
  const n = data.length;
  qrange(s); // validates bits first
  const kind: CodeKind = s.bits > 8 ? 'i32' : s.signed ? 'i8' : 'u8';
  const Codes = kind === 'i32' ? Int32Array : kind === 'i8' ? Int8Array : Uint8Array;
  if (opts.into && (!(opts.into instanceof Codes) || opts.into.length !== n)) throw new Error(`${name}: codes buffer of the wrong type or length`);
  const codes = opts.into ?? new Codes(n);
  const at = opts.at ?? 0;

  // The tensor as tasks; `fused` when every group is one run of one task, whole in a chunk.
  const tasks: Task[] = [];
  let count: number;
  let fused: boolean;
  if (s.granularity === 'tensor') {
    count = 1;
    tasks.push({ rows: false, start: 0, len: n, count: 1, g0: 0 });
    fused = n <= CHUNK;
  } else {
    const { outer, dim, inner, blocks, bs } = layout(shape, s, name);
    if (outer * dim * inner !== n) throw new EdgelmError('input', `${name}: ${n} elements do not fill shape [${shape}]`);
    count = s.granularity === 'channel' ? dim : outer * blocks * inner;
    if (s.granularity === 'channel') {
      if (inner === 1 && outer > 1) tasks.push({ rows: true, start: 0, len: dim, count: outer, g0: 0 });
      else for (let o = 0; o < outer; o++) tasks.push({ rows: false, start: o * dim * inner, len: inner, count: dim, g0: 0 });
      fused = outer === 1 && inner <= CHUNK;
    } else if (inner === 1) {
      const full = Math.floor(dim / bs);
      if (full === blocks) tasks.push({ rows: false, start: 0, len: bs, count: outer * blocks, g0: 0 });
      else
        for (let o = 0; o < outer; o++) {
          if (full) tasks.push({ rows: false, start: o * dim, len: bs, count: full, g0: o * blocks });
          tasks.push({ rows: false, start: o * dim + full * bs, len: dim - full * bs, count: 1, g0: o * blocks + full });
        }
      fused = bs <= CHUNK;
    } else {
      for (let o = 0; o < outer; o++)
        for (let b = 0; b < blocks; b++) {
          const a0 = b * bs;
          tasks.push({ rows: true, start: (o * dim + a0) * inner, len: inner, count: Math.min(dim, a0 + bs) - a0, g0: (o * blocks + b) * inner });
        }
      fused = false;
    }
  }

  const k = wasm();
  const stride = count * 4;
  const need = PARAMS + stride * 8;
  if (k.memory.buffer.byteLength < need) k.memory.grow(Math.ceil((need - k.memory.buffer.byteLength) / 65536));
  const buf = k.memory.buffer;
  const src = new Float32Array(buf, SRC, CHUNK);
  const out = kind === 'i32' ? new Int32Array(buf, DST, CHUNK) : kind === 'i8' ? new Int8Array(buf, DST, CHUNK) : new Uint8Array(buf, DST, CHUNK);
  // Group arrays, `stride` bytes apart (see paramsBody).
  const G = (a: number, g: number): number => PARAMS + a * stride + g * 4;
  new Float32Array(buf, G(0, 0), count).fill(Infinity);
  new Float32Array(buf, G(1, 0), count).fill(-Infinity);
  const [qmin, qmax] = qrange(s);
  const divisor = s.narrow ? qmax : f32((qmax - qmin) / 2);
  const setParams = (g0: number, m: number): void => {
    if (k.params(G(0, g0), stride, m, qmin, qmax, s.symmetric ? 1 : 0, s.symmetric ? symmetricZero(s) : qmin, divisor)) nonFinite(name, allOf(data), at);
  };
  // Each piece straight into the kernels' memory: from the array, or read from the model file.
  const load = (t: Task): void => {
    const m = t.len * t.count;
    if (data instanceof Float32Array) src.set(data.subarray(t.start, t.start + m));
    else data.read(t.start, src.subarray(0, m));
  };
  const quant = (t: Task): void => {
    (t.rows ? k.quantRows : k.quantRuns)[kind](SRC, t.len, t.count, DST, G(2, t.g0), G(3, t.g0), G(4, t.g0), G(5, t.g0));
    codes.set(out.subarray(0, t.len * t.count), t.start);
  };

  for (const task of tasks)
    for (const t of pieces(task)) {
      load(t);
      if ((t.rows ? k.rangeRows : k.rangeRuns)(SRC, t.len, t.count, G(0, t.g0), G(1, t.g0))) nonFinite(name, allOf(data), at);
      if (!fused) continue;
      setParams(t.g0, t.count);
      quant(t);
    }
  if (!fused) {
    setParams(0, count);
    for (const task of tasks)
      for (const t of pieces(task)) {
        load(t);
        quant(t);
      }
  }
  const scale = new Float32Array(buf, G(6, 0), count).slice();
  const zeroPoint = new Int32Array(buf, G(7, 0), count).slice();
  // Wasm memory cannot shrink: after a tensor with very many groups, let the instance go.
  if (buf.byteLength > RETAIN_BYTES) kernels = undefined;

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
