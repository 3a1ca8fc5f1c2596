// Language-model metrics against the reference model: the KL divergence of each position's next-token
// distribution, KL(reference ‖ model) = Σ p_ref (log p_ref − log p_model), from both models' own
// outputs (logits, or probabilities when a model ends in a softmax). Its mean and 99th percentile over
// all positions say how far the artifact's predictions moved, which perplexity alone hides (a model can
// lose on some tokens and gain on others).
import { significant } from './format.js';

export interface KlDivergence {
  /** Mean KL(reference ‖ model) over every position, in nats. */
  mean: number;
  /** Its 99th percentile (nearest rank): the tail where generation breaks first. */
  p99: number;
}

/** Whether a row holds probabilities (non-negative, summing to 1) rather than logits. */
export function isProbabilities(row: Float32Array): boolean {
  let s = 0;
  for (const v of row) {
    if (v < 0) return false;
    s += v;
  }
  return Math.abs(s - 1) < 1e-3;
}

/** Stable log-softmax of `z` into `out` (float64); probabilities are only logged (floored at 1e-30). */
export function logSoftmax(z: Float32Array, out: Float64Array, probabilities: boolean): void {
  if (probabilities) {
    for (let i = 0; i < z.length; i++) out[i] = Math.log(Math.max(z[i]!, 1e-30));
    return;
  }
  let max = -Infinity;
  for (const v of z) if (v > max) max = v;
  let e = 0;
  for (const v of z) e += Math.exp(v - max);
  const lse = max + Math.log(e);
  for (let i = 0; i < z.length; i++) out[i] = z[i]! - lse;
}

/**
 * Running per-position KL divergence of a model's first output against the reference's first output,
 * both [samples, positions·classes]; `classes` is the vocabulary size.
 */
export class KlAccumulator {
  private readonly kl: Float64Array;
  private readonly lp: Float64Array;
  private readonly lq: Float64Array;
  private refProbabilities?: boolean;
  private gotProbabilities?: boolean;
  private filled = 0;
  constructor(
    private readonly reference: Float32Array,
    private readonly samples: number,
    private readonly classes: number,
  ) {
    this.kl = new Float64Array(reference.length / classes);
    this.lp = new Float64Array(classes);
    this.lq = new Float64Array(classes);
  }

  /** The model's outputs for samples start … start + rows − 1 (`got` may hold more rows: a padded batch). */
  add(got: Float32Array, start: number, rows: number): void {
    const c = this.classes;
    const perSample = this.reference.length / this.samples;
    const first = (start * perSample) / c;
    const count = (rows * perSample) / c;
    for (let r = 0; r < count; r++) {
      const p = this.reference.subarray((first + r) * c, (first + r + 1) * c);
      const q = got.subarray(r * c, (r + 1) * c);
      this.refProbabilities ??= isProbabilities(p);
      this.gotProbabilities ??= isProbabilities(q);
      logSoftmax(p, this.lp, this.refProbabilities);
      logSoftmax(q, this.lq, this.gotProbabilities);
      let s = 0;
      for (let i = 0; i < c; i++) s += Math.exp(this.lp[i]!) * (this.lp[i]! - this.lq[i]!);
      this.kl[first + r] = Math.max(0, s); // rounding can leave −1e-17 for equal rows
    }
    this.filled += count;
  }

  result(): KlDivergence | undefined {
    if (this.filled !== this.kl.length || !this.kl.length) return undefined;
    let sum = 0;
    for (const v of this.kl) sum += v;
    const sorted = Float64Array.from(this.kl).sort();
    return { mean: significant(sum / this.kl.length, 6), p99: significant(sorted[Math.ceil(0.99 * sorted.length) - 1]!, 6) };
  }
}
