// How closely a model's outputs follow the reference model's, output by output: what eval reports for
// outputs that are not class scores (regressors, embeddings, masks, a single score), where top-1
// agreement says nothing.
import { significant } from './format.js';

export interface OutputAgreement {
  /** The output's name in the evaluated model. */
  name: string;
  /** Cosine similarity of the whole output (all samples) with the reference's. */
  cosine: number;
  /** Largest |model − reference| over every element. */
  maxAbsError: number;
  /** 10·log10(Σ reference² / Σ (model − reference)²); Infinity when equal. */
  sqnrDb: number;
  /** Outputs of one value per sample: fraction of samples on the same side of the threshold as the reference. */
  decisionAgreement?: number;
  /** The threshold of decisionAgreement: 0.5 when the reference's values lie in [0, 1] (a probability), else 0 (a logit). */
  threshold?: number;
}

/** The reference's outputs, every sample, for comparing later models with. */
export class ReferenceOutputs {
  readonly values: Float32Array[];
  constructor(
    readonly samples: number,
    perSample: number[],
    readonly names: string[],
  ) {
    this.values = perSample.map((k) => new Float32Array(samples * k));
  }
  /** Stores a batch's outputs (its first `rows` samples) from sample `start` on. */
  set(outputs: Float32Array[], start: number, rows: number): void {
    this.values.forEach((v, i) => {
      const k = v.length / this.samples;
      v.set(outputs[i]!.subarray(0, rows * k), start * k);
    });
  }
}

/**
 * Running comparison of one model's outputs with the reference's: each reference output is paired with
 * the model's output of the same name, else the one at the same position (writers may rename).
 */
export class OutputComparison {
  private readonly sums: { dot: number; ref: number; got: number; noise: number; maxAbs: number; same: number }[];
  /** Index of the model's output paired with each reference output. */
  private readonly pair: number[];
  /** Decision threshold of each reference output, from all its values (see thresholdOf). */
  private readonly thresholds: number[];
  constructor(
    private readonly reference: ReferenceOutputs,
    private readonly names: string[],
  ) {
    this.sums = reference.values.map(() => ({ dot: 0, ref: 0, got: 0, noise: 0, maxAbs: 0, same: 0 }));
    const sameNames = reference.names.every((n) => names.includes(n));
    this.pair = reference.names.map((n, i) => (sameNames ? names.indexOf(n) : i));
    this.thresholds = reference.values.map(thresholdOf);
  }

  /** Outputs whose size per sample matches the reference's (the others cannot be compared element by element). */
  comparable(perSample: number[]): boolean[] {
    return this.reference.values.map((v, i) => perSample[this.pair[i]!] === v.length / this.reference.samples);
  }

  add(outputs: Float32Array[], start: number, rows: number): void {
    this.reference.values.forEach((ref, i) => {
      const k = ref.length / this.reference.samples;
      const got = outputs[this.pair[i]!];
      if (!got || got.length < rows * k) return;
      const s = this.sums[i]!;
      const t = this.thresholds[i]!;
      for (let j = 0; j < rows * k; j++) {
        const a = got[j]!;
        const b = ref[start * k + j]!;
        s.dot += a * b;
        s.ref += b * b;
        s.got += a * a;
        s.noise += (a - b) ** 2;
        s.maxAbs = Math.max(s.maxAbs, Math.abs(a - b));
        if (k === 1 && a > t === b > t) s.same++;
      }
    });
  }

  results(perSample: number[]): OutputAgreement[] {
    const ok = this.comparable(perSample);
    return this.sums.flatMap((s, i) => {
      const name = this.names[this.pair[i]!];
      if (!ok[i] || !name) return [];
      const ref = this.reference.values[i]!;
      const r: OutputAgreement = {
        name,
        cosine: s.ref === 0 && s.got === 0 ? 1 : significant(s.dot / Math.sqrt(s.ref * s.got), 9),
        maxAbsError: significant(s.maxAbs, 4),
        sqnrDb: s.noise === 0 ? Infinity : significant(10 * Math.log10(s.ref / s.noise), 4),
      };
      if (ref.length === this.reference.samples) Object.assign(r, { decisionAgreement: s.same / this.reference.samples, threshold: this.thresholds[i] });
      return [r];
    });
  }
}

/** The decision threshold of one-score outputs: 0.5 for probabilities (every value in [0, 1]), else 0 (logits). */
export function thresholdOf(ref: Float32Array): number {
  for (const v of ref) if (v < 0 || v > 1) return 0;
  return 0.5;
}
