// Magnitude masks (1 keeps a weight, 0 prunes it), chosen exactly as torch.nn.utils.prune chooses
// them: k = round(amount·n) with Python's half-to-even rounding, the k smallest |w| pruned. Where
// magnitudes tie, the lower flat index is pruned first (PyTorch leaves that order unspecified).
import { EdgelmError } from '../errors.js';
import { roundHalfEven } from '../quantize/minmax.js';

/** How many of n weights torch prunes for a fractional amount. */
export function prunedCount(amount: number, n: number): number {
  if (!(amount >= 0 && amount <= 1)) throw new EdgelmError('usage', `sparsity must be in [0, 1], got ${amount}`);
  return roundHalfEven(amount * n);
}

/** Indices of the k smallest magnitudes over the concatenation of `tensors`, ties by index. */
function smallest(tensors: readonly Float32Array[], k: number): Int32Array {
  const total = tensors.reduce((s, t) => s + t.length, 0);
  const mags = new Float32Array(total);
  let o = 0;
  for (const t of tensors) {
    for (let i = 0; i < t.length; i++) mags[o + i] = Math.abs(t[i]!);
    o += t.length;
  }
  const order = Int32Array.from({ length: total }, (_, i) => i);
  order.sort((a, b) => mags[a]! - mags[b]! || a - b);
  return order.subarray(0, k);
}

/** torch.nn.utils.prune.l1_unstructured on one tensor. */
export function l1UnstructuredMask(w: Float32Array, amount: number): Uint8Array {
  const mask = new Uint8Array(w.length).fill(1);
  for (const i of smallest([w], prunedCount(amount, w.length))) mask[i] = 0;
  return mask;
}

/** torch.nn.utils.prune.global_unstructured (L1): one threshold over all tensors together. */
export function globalUnstructuredMasks(ws: readonly Float32Array[], amount: number): Uint8Array[] {
  const masks = ws.map((w) => new Uint8Array(w.length).fill(1));
  const offsets: number[] = [];
  let o = 0;
  for (const w of ws) {
    offsets.push(o);
    o += w.length;
  }
  for (const g of smallest(ws, prunedCount(amount, o))) {
    let t = ws.length - 1;
    while (offsets[t]! > g) t--;
    masks[t]![g - offsets[t]!] = 0;
  }
  return masks;
}

/**
 * N:M structured sparsity: in every group of M consecutive weights along `axis` (the reduction axis),
 * the N largest magnitudes stay. The axis length must be a multiple of M.
 */
export function nmMask(w: Float32Array, shape: readonly number[], axis: number, n: number, m: number, name: string): Uint8Array {
  const dim = shape[axis]!;
  if (dim % m !== 0) throw new EdgelmError('usage', `${name}: ${n}:${m} sparsity needs the reduction axis (${dim}) to be a multiple of ${m}; --exclude this layer`);
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const mask = new Uint8Array(w.length);
  const idx = new Array<number>(m);
  for (let a = 0; a < outer; a++)
    for (let g = 0; g < dim; g += m)
      for (let i = 0; i < inner; i++) {
        for (let j = 0; j < m; j++) idx[j] = (a * dim + g + j) * inner + i;
        idx.sort((p, q) => Math.abs(w[q]!) - Math.abs(w[p]!) || p - q);
        for (let j = 0; j < n; j++) mask[idx[j]!] = 1;
      }
  return mask;
}

/** Zhu & Gupta (2017): s_t = s_f + (s_i − s_f)(1 − p)^3 with p = clip((t − t0)/(n·Δt), 0, 1). */
export function polynomialSparsity(step: number, initial: number, final: number, begin: number, end: number): number {
  const p = Math.min(1, Math.max(0, (step - begin) / Math.max(1, end - begin)));
  return final + (initial - final) * (1 - p) ** 3;
}
