// Observes activation ranges: runs the float graph with TF.js on calibration data and records, for
// every float value, its min and max (or the 0.01/99.99 percentiles, which ignore rare outliers).
// observeBatches is the one batch loop for every calibration statistic (ranges, GPTQ's XᵀX, AWQ's).
import { fitToModel, type Dataset } from '../data/index.js';
import { planInputs, type InputPlan } from '../data/feeds.js';
import { EdgelmError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { Tf, TfTensor } from '../ir/op.js';
import { inferTypes } from '../ir/infer.js';
import { isFloatDType } from '../ir/dtype.js';
import { productDims } from '../ir/dim.js';
import { loadTf, type Backend } from '../runtime/tfjs/backend.js';
import { GraphExecutor } from '../runtime/tfjs/executor.js';
import { withoutUnquantizable, type Range } from './plan.js';

export type CalibrationMethod = 'minmax' | 'percentile';

export interface CalibrateOptions {
  method?: CalibrationMethod;
  /** Percentile kept at each end for 'percentile' (default 99.99). */
  percentile?: number;
  /** Samples used (default: all, at most 1000). */
  limit?: number;
  batchSize?: number;
  backend?: Backend;
  onProgress?: (done: number, total: number) => void;
}

/** Activation bytes a calibration batch may hold (all its values for one batch, at most). */
const CALIBRATION_BYTES = 32 * 2 ** 20;

/** Values kept per tensor for percentiles: a deterministic stride sample bounds memory. */
const PERCENTILE_SAMPLE = 1 << 20;

/** Every `stride`-th element: a deterministic sample for percentiles. */
function strided(d: Float32Array, stride: number): Float32Array {
  const kept = new Float32Array(Math.ceil(d.length / stride));
  for (let j = 0, k = 0; j < d.length; j += stride) kept[k++] = d[j]!;
  return kept;
}

export interface ObserveOptions {
  /** Samples used at most (default 1000). */
  limit?: number;
  /** Samples per batch wanted (a model with a static batch takes its own). */
  batchSize?: number;
  backend?: Backend;
  onProgress?: (done: number, total: number) => void;
}

/** One batch's statistics: `observe` sees its watched values, `commit` merges them once the whole batch ran. */
export interface BatchObserver {
  observe(name: string, t: TfTensor): void;
  commit(): void;
}

/**
 * Runs the float graph with TF.js on calibration samples batch by batch and shows each watched value
 * to the batch's observer (GraphExecutor.observe frees each activation after its last reader, so
 * memory holds the live activations only). A graph whose Reshape/Flatten fixes the batch at 1 under a
 * dynamic input fails on a batch of several: the helper then goes on one sample at a time, and since
 * a batch commits only when it ran whole, nothing is counted twice. Returns the samples run.
 */
export async function observeBatches(graph: Graph, data: Dataset, watch: ReadonlySet<string>, opts: ObserveOptions, batch: (rows: number) => BatchObserver): Promise<number> {
  const tf = await loadTf(opts.backend ?? 'wasm');
  const fitted = fitToModel(data, graph.inputs[0]?.shape);
  const n = Math.min(fitted.shape[0]!, opts.limit ?? 1000);
  const input = graph.inputs[0]!;
  const staticBatch = typeof input.shape[0] === 'number' ? input.shape[0] : undefined;
  let batchSize = staticBatch ?? Math.max(1, opts.batchSize ?? 64);
  const per = fitted.x.length / fitted.shape[0]!;
  const others = planInputs(fitted, graph.inputs);
  const exec = new GraphExecutor(tf, graph);
  let start = 0;
  try {
    while (start < n) {
      const rows = Math.min(batchSize, n - start);
      if (staticBatch && rows !== staticBatch) break; // a fixed-batch model takes whole batches only
      const feeds = batchFeeds(tf, fitted, others, input.name, start, rows);
      const b = batch(rows);
      try {
        exec.observe(feeds, watch, (name, t) => b.observe(name, t));
      } catch (e) {
        if (rows === 1 || staticBatch) throw e;
        batchSize = 1;
        continue;
      } finally {
        tf.dispose(Object.values(feeds));
      }
      b.commit();
      start += rows;
      opts.onProgress?.(start, n);
      await new Promise((resolve) => setImmediate(resolve)); // let signals through between batches
    }
  } finally {
    exec.dispose();
  }
  return start;
}

/** TF.js tensors for rows [start, start + rows) of the data: the samples for `first`, the plan's arrays for the rest. */
export function batchFeeds(tf: Tf, data: Dataset, others: InputPlan, first: string, start: number, rows: number): Record<string, TfTensor> {
  const per = data.x.length / data.shape[0]!;
  const shape = [rows, ...data.shape.slice(1)];
  const feeds: Record<string, TfTensor> = { [first]: tf.tensor(data.x.subarray(start * per, (start + rows) * per), shape, data.x instanceof Int32Array ? 'int32' : 'float32') };
  for (const a of others.batch(start, shape)) feeds[a.name] = tf.tensor(a.data, a.shape, a.data instanceof Int32Array ? 'int32' : 'float32');
  return feeds;
}

export async function calibrate(graph: Graph, data: Dataset, opts: CalibrateOptions = {}): Promise<Map<string, Range>> {
  const types = inferTypes(graph, graph.name);
  const n = Math.min(data.shape[0]!, opts.limit ?? 1000);
  const values = [...graph.inputs.map((i) => i.name), ...graph.nodes.flatMap((node) => node.outputs)].filter((v) => {
    const t = types.get(v);
    return t && isFloatDType(t.dtype) && !graph.constants.has(v);
  });
  const ranges = new Map<string, Range>(values.map((v) => [v, { min: Infinity, max: -Infinity }]));
  const samples = new Map<string, Float32Array[]>();
  const method = opts.method ?? 'minmax';
  const tf = await loadTf(opts.backend ?? 'wasm');
  // Batches small enough that one sample's activations times the batch stay within the budget.
  const bytesPerSample = (v: string): number => {
    const d = productDims(types.get(v)!.shape.slice(1));
    return typeof d === 'number' ? 4 * d : 0;
  };
  const perSample = values.reduce((s, v) => s + bytesPerSample(v), 0);
  const batchSize = Math.max(1, Math.min(opts.batchSize ?? 64, Math.floor(CALIBRATION_BYTES / Math.max(1, perSample))));
  await observeBatches(graph, data, new Set(values), { ...opts, batchSize }, (rows) => {
    const local = new Map<string, Range>();
    const kept = new Map<string, Float32Array>();
    return {
      observe: (name, t) => {
        if (t.size === 0) return; // an empty past (KV cache of length 0) says nothing about its range
        local.set(name, { min: tf.min(t).dataSync()[0]!, max: tf.max(t).dataSync()[0]! });
        if (method === 'percentile') kept.set(name, strided(t.dataSync() as Float32Array, Math.max(1, Math.ceil((t.size * n) / rows / PERCENTILE_SAMPLE))));
      },
      commit: () => {
        for (const [name, r] of local) {
          if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) throw new EdgelmError('input', `calibration: value '${name}' is NaN or infinite on the calibration data`);
          const all = ranges.get(name)!;
          all.min = Math.min(all.min, r.min);
          all.max = Math.max(all.max, r.max);
        }
        for (const [name, k] of kept) (samples.get(name) ?? samples.set(name, []).get(name)!).push(k);
      },
    };
  });
  if (method === 'percentile') {
    const p = opts.percentile ?? 99.99;
    for (const [v, parts] of samples) {
      const all = new Float32Array(parts.reduce((s, a) => s + a.length, 0));
      let o = 0;
      for (const a of parts) {
        all.set(a, o);
        o += a.length;
      }
      all.sort();
      const at = (q: number): number => all[Math.min(all.length - 1, Math.max(0, Math.round((q / 100) * (all.length - 1))))]!;
      ranges.set(v, { min: at(100 - p), max: at(p) });
    }
  }
  return withoutLogDomain(graph, withoutUnquantizable(ranges));
}

/** Ops whose result follows the relative, not the absolute, error of an input (the divisor of a div). */
const RELATIVE: Partial<Record<string, number[]>> = { log: [0], sqrt: [0], rsqrt: [0], reciprocal: [0], div: [1] };
/** Ops that pass a relative-precision need on to their float inputs (elementwise arithmetic, reshapes). */
const CARRIES = new Set(['add', 'sub', 'mul', 'neg', 'abs', 'square', 'pow', 'sqrt', 'rsqrt', 'reciprocal', 'div', 'identity', 'reshape', 'squeeze', 'unsqueeze', 'transpose', 'reduceSum', 'reduceMean']);

/**
 * Drops the ranges of values that feed a log, square root or divisor, and of the arithmetic before them:
 * an int8 step is absolute, so a spectrum spanning four decades (Silero's STFT power before its log) loses
 * every small value to code 0 and the log is wrong by orders of magnitude. They stay in float; the walk
 * stops at products (convolutions, matmuls), whose inputs still quantize.
 */
function withoutLogDomain(graph: Graph, ranges: Map<string, Range>): Map<string, Range> {
  const producer = new Map(graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n] as const)));
  const pending = graph.nodes.flatMap((n) => (RELATIVE[n.op] ?? []).map((i) => n.inputs[i]).filter((v): v is string => !!v));
  const seen = new Set<string>();
  while (pending.length) {
    const v = pending.pop()!;
    if (seen.has(v) || graph.constants.has(v)) continue;
    seen.add(v);
    ranges.delete(v);
    const p = producer.get(v);
    if (p && CARRIES.has(p.op)) pending.push(...p.inputs.filter(Boolean));
  }
  return ranges;
}
