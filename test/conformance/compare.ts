// The suite's comparison rule: floats within 1e-4 + 1e-3·|want| (NaN matches NaN, infinities match
// exactly), every other dtype exact, shapes equal.
import type { CaseTensor } from './cases.js';

export const FLOAT_TYPES = new Set(['float32', 'float16', 'float64']);

/** IEEE half bits → number (written here, independent of edgelm's float16 module). */
function half(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A case tensor's values as numbers (halfs decoded, 64-bit integers as numbers). */
export function numbers(t: CaseTensor): number[] {
  if (t.type === 'float16') return Array.from(t.data as Uint16Array, half);
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

export interface Got {
  dims: readonly number[];
  values: ArrayLike<number | bigint | boolean>;
}

/** Undefined when `got` matches `want`, else a short description of the first difference. */
export function mismatch(got: Got, want: CaseTensor): string | undefined {
  const sameDims = got.dims.length === want.dims.length && got.dims.every((d, i) => d === want.dims[i]);
  if (!sameDims) return `shape [${got.dims.join(',')}], expected [${want.dims.join(',')}]`;
  const w = numbers(want);
  if (got.values.length !== w.length) return `${got.values.length} values, expected ${w.length}`;
  const float = FLOAT_TYPES.has(want.type);
  for (let i = 0; i < w.length; i++) {
    const g = Number(got.values[i]);
    const e = w[i]!;
    const ok = float ? (Number.isNaN(e) ? Number.isNaN(g) : g === e || Math.abs(g - e) <= 1e-4 + 1e-3 * Math.abs(e)) : g === e;
    if (!ok) return `${want.name || 'output'}[${i}] = ${g}, expected ${e}`;
  }
  return undefined;
}
