// Evaluates artifacts in the runtimes that run them: accuracy against labels, agreement with a
// reference model's predictions, file size (raw and gzip) and median single-sample latency.
import { gzipSync } from 'node:zlib';
import { batches, fitToModel, type Dataset } from '../data/index.js';
import { planInputs, type InputPlan } from '../data/feeds.js';
import { detectFormat, modelFiles } from '../import/index.js';
import { readInputFile } from '../import/files.js';
import { openRuntime, type RuntimeSession } from '../runtime/index.js';
import type { Backend } from '../runtime/tfjs/backend.js';
import { significant } from './format.js';
import { KlAccumulator, isProbabilities, logSoftmax } from './lm-metrics.js';
import { OutputComparison, ReferenceOutputs, thresholdOf, type OutputAgreement } from './output-metrics.js';

export interface EvalResult {
  file: string;
  format: string;
  runtime: RuntimeSession['runtime'];
  bytes: number;
  gzipBytes: number;
  samples: number;
  /** Top-1 accuracy against the labels (undefined without labels). */
  accuracy?: number;
  /** Fraction of samples (sequence models: positions) whose top-1 class (one score: its side of the threshold) equals the reference model's. */
  agreement?: number;
  /** Every output against the reference model's same output: cosine, max abs error, SQNR (and decision agreement for one score per sample). */
  outputs?: OutputAgreement[];
  /** Median wall time of one single-sample inference, in milliseconds (undefined with latencyRuns 0). */
  latencyMs?: number;
  /** Sequence models (a label per position): exp of the mean negative log-likelihood of the labels. */
  perplexity?: number;
  /** Sequence models against the reference: mean KL(reference ‖ model) of the next-token distributions, in nats, and its 99th percentile (see lm-metrics.ts). */
  klDivergence?: number;
  klDivergenceP99?: number;
  /** Sequence models: positions computed per second by the single-sample runs (a full window per run). */
  tokensPerSecond?: number;
  /** Top-1 class per sample (kept for agreement with later models). */
  predictions: Int32Array;
  /** Every output of every sample (kept to compare later models with; absent past REFERENCE_FLOATS). */
  raw?: ReferenceOutputs;
}

/** Largest number of output values kept to compare later models with (256 MiB). */
const REFERENCE_FLOATS = 1 << 26;

export interface EvalOptions {
  /** The reference model's result (the first one evaluated): its predictions and outputs. */
  reference?: Pick<EvalResult, 'predictions' | 'raw'>;
  batchSize?: number;
  /** Timed runs for the median latency (default 30; 0 skips timing). */
  latencyRuns?: number;
  backend?: Backend;
  onProgress?: (done: number, total: number) => void;
}

/** Top-1 class per row; rows of one score are classes 0/1 by their side of the threshold (0.5 for probabilities, else 0). */
function argmaxRows(data: Float32Array, rows: number): Int32Array {
  const classes = data.length / rows;
  const out = new Int32Array(rows);
  if (classes === 1) {
    const t = thresholdOf(data);
    for (let r = 0; r < rows; r++) out[r] = data[r]! > t ? 1 : 0;
    return out;
  }
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (data[r * classes + k]! > data[r * classes + best]!) best = k;
    out[r] = best;
  }
  return out;
}

export async function evaluate(path: string, dataset: Dataset, opts: EvalOptions = {}): Promise<EvalResult> {
  const { file, format } = detectFormat(path);
  const session = await openRuntime(path, { backend: opts.backend ?? 'wasm' });
  try {
    // Each model sees the samples in its own input shape (NCHW and NHWC digits hold the same values).
    const data = fitToModel(dataset, session.inputs[0]?.shape);
    const others = planInputs(data, session.inputs);
    const n = data.shape[0]!;
    const batch = Math.max(1, Math.min(opts.batchSize ?? 64, session.maxBatch));
    // Labels per sample: 1 for classifiers, T for next-token labels of a sequence model.
    const k = data.y ? data.y.length / n : 1;
    const predictions = new Int32Array(n * k);
    let nllSum = 0;
    // Outputs per sample, where static; every output kept when they fit, compared with the reference's.
    const perSample = session.outputs.map((o) => o.shape.slice(1).reduce<number>((p, d) => (typeof d === 'number' && typeof p === 'number' ? p * d : NaN), 1));
    let raw = perSample.every(Number.isFinite) && n * perSample.reduce((a, b) => a + b, 0) <= REFERENCE_FLOATS ? new ReferenceOutputs(n, perSample, session.outputs.map((o) => o.name)) : undefined;
    const comparison = opts.reference?.raw ? new OutputComparison(opts.reference.raw, session.outputs.map((o) => o.name)) : undefined;
    // Sequence models: the first output's next-token distributions against the reference's first output.
    const refLogits = k > 1 ? opts.reference?.raw?.values[0] : undefined;
    let kl: KlAccumulator | undefined;
    for (const b of batches(data, batch)) {
      // A static-batch model (TFLite) gets the last, short batch padded to its size.
      let x = b.x;
      let shape = b.shape;
      const rows = b.shape[0]!;
      if (Number.isFinite(session.maxBatch) && rows < batch) {
        const padded = new (x.constructor as Float32ArrayConstructor)(batch * (x.length / rows));
        padded.set(x);
        x = padded;
        shape = [batch, ...b.shape.slice(1)];
      }
      const outs = await session.run(x, shape, others.batch(b.start, shape));
      const out = outs[0]!;
      if (raw && outs.some((o, i) => o.length !== shape[0]! * perSample[i]!)) raw = undefined; // a dim the metadata did not tell
      raw?.set(outs, b.start, rows);
      comparison?.add(outs, b.start, rows);
      predictions.set(argmaxRows(out, shape[0]! * k).subarray(0, rows * k), b.start * k);
      if (k > 1 && b.y) nllSum += negativeLogLikelihood(out, out.length / (shape[0]! * k), b.y);
      if (refLogits && refLogits.length === n * (out.length / shape[0]!)) {
        kl ??= new KlAccumulator(refLogits, n, out.length / (shape[0]! * k));
        kl.add(out, b.start, rows);
      }
      opts.onProgress?.(b.start + rows, n);
      await new Promise((resolve) => setImmediate(resolve)); // let signals through between batches
    }
    const runs = opts.latencyRuns ?? 30;
    const latencyMs = runs > 0 ? await medianLatency(session, data, others, runs) : undefined;
    const files = modelFiles(file, format);
    const result: EvalResult = {
      file,
      format,
      runtime: session.runtime,
      bytes: files.reduce((s, f) => s + f.bytes, 0),
      gzipBytes: files.reduce((s, f) => s + gzipSync(readInputFile(f.path), { level: 9 }).length, 0),
      samples: n,
      ...(latencyMs !== undefined ? { latencyMs: significant(latencyMs, 4) } : {}),
      predictions,
      ...(raw ? { raw } : {}),
    };
    if (comparison && raw) result.outputs = comparison.results(perSample);
    if (data.y) result.accuracy = agreement(predictions, data.y);
    if (k > 1 && data.y) {
      result.perplexity = significant(Math.exp(nllSum / data.y.length), 6);
      const rows = Number.isFinite(session.maxBatch) ? session.maxBatch : 1;
      if (latencyMs !== undefined) result.tokensPerSecond = Math.round((rows * k * 1000) / Math.max(latencyMs, 1e-6));
    }
    if (opts.reference) result.agreement = agreement(predictions, opts.reference.predictions);
    const kld = kl?.result();
    if (kld) Object.assign(result, { klDivergence: kld.mean, klDivergenceP99: kld.p99 });
    return result;
  } finally {
    session.dispose();
  }
}

/** The latency of a result evaluated with latencyRuns > 0 (the pipeline and quantize always time). */
export function latencyOf(r: EvalResult): number {
  if (r.latencyMs === undefined) throw new Error(`${r.file} was evaluated without timing`);
  return r.latencyMs;
}

const MIN_LATENCY_MS = 100;
const MAX_LATENCY_RUNS = 5000;

/**
 * Median wall time of one inference, after 3 warm-up runs, over at least `runs` runs and 100 ms: one sample at a time, the way an edge
 * device serves requests (a static-batch model is timed on one full batch).
 */
async function medianLatency(session: RuntimeSession, data: Dataset, others: InputPlan, runs: number): Promise<number> {
  const n = data.shape[0]!;
  const rows = Number.isFinite(session.maxBatch) ? session.maxBatch : 1;
  const per = data.x.length / n;
  const one = new (data.x.constructor as Float32ArrayConstructor)(rows * per);
  one.set(data.x.subarray(0, Math.min(rows, n) * per));
  const shape = [rows, ...data.shape.slice(1)];
  const rest = others.batch(0, shape);
  const times: number[] = [];
  const start = performance.now();
  // At least `runs` runs and MIN_LATENCY_MS of them: a median of 30 sub-0.1 ms runs moved by half
  // between two measurements of one model on a busy machine.
  for (let i = 0; i < runs + 3 || (performance.now() - start < MIN_LATENCY_MS && i < MAX_LATENCY_RUNS); i++) {
    const t0 = performance.now();
    await session.run(one, shape, rest);
    if (i >= 3) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? 0;
}

/** Latency alone (see medianLatency), for a float export measured only to compare with its quantized one. */
export async function measureLatency(path: string, dataset: Dataset, opts: { latencyRuns?: number; backend?: Backend } = {}): Promise<number> {
  const session = await openRuntime(path, { backend: opts.backend ?? 'wasm' });
  try {
    const data = fitToModel(dataset, session.inputs[0]?.shape);
    return significant(await medianLatency(session, data, planInputs(data, session.inputs), opts.latencyRuns ?? 30), 4);
  } finally {
    session.dispose();
  }
}

/**
 * Summed −log p(label) over the first labels.length rows of `out`: rows of logits (log-softmax
 * computed stably), or of probabilities when the model ends in a softmax (every row sums to 1).
 */
function negativeLogLikelihood(out: Float32Array, classes: number, labels: Int32Array): number {
  const row = (r: number): Float32Array => out.subarray(r * classes, (r + 1) * classes);
  const probabilities = isProbabilities(row(0));
  const logp = new Float64Array(classes);
  let sum = 0;
  for (let r = 0; r < labels.length; r++) {
    logSoftmax(row(r), logp, probabilities);
    sum -= logp[labels[r]!]!;
  }
  return sum;
}

function agreement(a: Int32Array, b: Int32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}
