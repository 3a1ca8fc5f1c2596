// `quantize` as a library function: folds batch norms, calibrates activation ranges (int8) and returns
// the plan the writers apply. With a maximum accuracy drop, it measures the artifact in its runtime
// and keeps the most sensitive layers in float until the drop is within bounds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dataset } from '../data/index.js';
import { usageError } from '../errors.js';
import { exportFiles, type ExportFormat } from '../export/index.js';
import { writeAtomic } from '../export/write.js';
import type { Graph, Node } from '../ir/graph.js';
import { foldBatchNorm } from '../ir/passes/fold-batchnorm.js';
import { evaluate, type EvalResult } from '../report/eval.js';
import { fraction } from '../report/format.js';
import type { Backend } from '../runtime/tfjs/backend.js';
import { calibrate, type CalibrationMethod } from './calibrate.js';
import { layerErrors } from './layer-error.js';
import { defaultPlan, excludeFilter, type Granularity, type QuantMode, type QuantPlan } from './plan.js';

export interface QuantizeOptions {
  mode: QuantMode;
  bits?: number;
  granularity?: Granularity;
  blockSize?: number;
  /** Node-name patterns (globs or substrings) kept in float. */
  exclude?: readonly string[];
  io?: QuantPlan['io'];
  calibration?: Dataset;
  calibrationMethod?: CalibrationMethod;
  calibrationLimit?: number;
  backend?: Backend;
  onProgress?: (done: number, total: number) => void;
}

export async function quantizeModel(source: Graph, opts: QuantizeOptions): Promise<{ graph: Graph; plan: QuantPlan }> {
  const graph = foldBatchNorm(source);
  const plan = defaultPlan(opts.mode, {
    bits: opts.bits ?? 8,
    granularity: opts.granularity ?? 'auto',
    blockSize: opts.blockSize ?? 32,
    exclude: excludeFilter(opts.exclude ?? []),
    io: opts.io ?? 'float',
  });
  if (opts.mode === 'int8') {
    if (!opts.calibration) throw usageError('int8 quantization needs calibration data: activation ranges come from running the model on real samples');
    plan.ranges = await calibrate(graph, opts.calibration, {
      method: opts.calibrationMethod ?? 'minmax',
      limit: opts.calibrationLimit ?? 1000,
      backend: opts.backend ?? 'wasm',
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    });
  }
  return { graph, plan };
}

export interface KeptFloat {
  node: string;
  /** SQNR of the layer's output when quantized alone, in dB: why it was chosen. */
  sqnrDb: number;
  /** Accuracy drop measured before this layer was kept in float. */
  dropBefore: number;
}

/**
 * Accuracy-aware quantization: while the artifact's accuracy (in its runtime, on `data`) is more than
 * `maxDrop` below the source's, keep the most sensitive remaining layer (lowest SQNR in the per-layer
 * report) in float and measure again.
 */
export async function fitAccuracy(graph: Graph, plan: QuantPlan, format: ExportFormat, data: Dataset, source: EvalResult, maxDrop: number, opts: { batchSize?: number; calibration?: Dataset } = {}): Promise<{ plan: QuantPlan; kept: KeptFloat[]; result: EvalResult }> {
  if (source.accuracy === undefined) throw usageError(`${data.source}: an accuracy bound needs labelled data`);
  const dir = mkdtempSync(join(tmpdir(), 'edgelm-fit-'));
  const excluded = new Set<string>();
  const kept: KeptFloat[] = [];
  const base = plan.exclude;
  let current: QuantPlan = plan;
  const errors = await layerErrors(graph, plan, format, opts.calibration ?? data);
  try {
    for (;;) {
      current = { ...plan, exclude: (n: Node) => base(n) || excluded.has(n.name) };
      const out = join(dir, format === 'tfjs' ? 'model/model.json' : `model.${format}`);
      const files = await exportFiles(graph, format, out, { batchSize: opts.batchSize ?? 1, quant: current });
      for (const f of files) writeAtomic(f.path, f.bytes);
      const result = await evaluate(files[0]!.path, data, { reference: source.predictions, latencyRuns: 10 });
      const drop = source.accuracy - (result.accuracy ?? 0);
      const next = errors.filter((e) => !excluded.has(e.node)).sort((a, b) => a.sqnrDb - b.sqnrDb)[0];
      if (drop <= maxDrop || !next) return { plan: current, kept, result };
      excluded.add(next.node);
      kept.push({ node: next.node, sqnrDb: next.sqnrDb, dropBefore: fraction(drop) });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
