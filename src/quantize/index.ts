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
import { calibrate } from './calibrate.js';
import { awqPlan, type AwqReport } from './awq-layers.js';
import { gptqPlan, type GptqReport } from './gptq-layers.js';
import { layerErrors } from './layer-error.js';
import { mixedPrecision, type MixedReport } from './mixed.js';
import { checkPatternsMatch, resolveQuantizeOptions, type QuantizeOptions } from './options.js';
import { defaultPlan, excludeFilter, type QuantPlan } from './plan.js';

export type { QuantizeOptions } from './options.js';
export type { GptqReport } from './gptq-layers.js';
export type { AwqReport } from './awq-layers.js';
export type { MixedReport } from './mixed.js';

/**
 * Folds batch norms (int8), checks the options (see resolveQuantizeOptions) and that each exclude pattern
 * names a node, and calibrates activation ranges in int8 mode. Options not given get the CLI's defaults.
 */
export async function quantizeModel(source: Graph, opts: QuantizeOptions = {}): Promise<{ graph: Graph; plan: QuantPlan; gptq?: GptqReport; awq?: AwqReport; mixed?: MixedReport }> {
  const o = resolveQuantizeOptions(opts);
  // Calibration needs the ranges of the folded graph the writers emit; weight-only modes leave folding to
  // each writer, which knows how its format stores weights (TF.js: one uint8 scale per tensor).
  const graph = o.mode === 'int8' ? foldBatchNorm(source) : source;
  checkPatternsMatch(graph, o.exclude);
  const plan = defaultPlan(o.mode, { bits: o.bits, granularity: o.granularity, blockSize: o.blockSize, exclude: excludeFilter(o.exclude), io: o.io, int8Only: o.int8Only });
  if (o.mode === 'int8') {
    plan.ranges = await calibrate(graph, o.calibration!, {
      method: o.calibrationMethod,
      limit: o.calibrationLimit,
      backend: o.backend,
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
  }
  // Bits per weight first: GPTQ then fits each weight's codes at its own bits.
  const mixed = o.targetBits !== undefined ? await mixedPrecision(graph, plan, o.calibration!, { targetBits: o.targetBits, limit: o.calibrationLimit, lowBitHead: o.lowBitHead }) : undefined;
  const extra = mixed ? { mixed } : {};
  if (o.method === 'gptq') {
    const gptq = await gptqPlan(graph, plan, o.calibration!, {
      damp: o.damp,
      actOrder: o.actOrder,
      limit: o.calibrationLimit,
      backend: o.backend,
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    return { graph, plan, gptq, ...extra };
  }
  if (o.method === 'awq') {
    // The scales are folded into a copy of the graph; the writers round its weights to nearest.
    const awq = await awqPlan(graph, plan, o.calibration!, { limit: o.calibrationLimit, backend: o.backend, ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
    return { graph: awq.graph, plan, awq: awq.report, ...extra };
  }
  return { graph, plan, ...extra };
}

export interface KeptFloat {
  node: string;
  /** SQNR of the layer's output when quantized alone, in dB: why it was chosen. */
  sqnrDb: number;
  /** Accuracy drop measured before this layer was kept in float. */
  dropBefore: number;
  /** An SQNR outlier (sqnrOutliers): kept in float with the other outliers in the first step. */
  outlier?: boolean;
}

/**
 * Accuracy-aware quantization: while the artifact's accuracy (in its runtime, on `data`) is more than
 * `maxDrop` below the source's, keep layers in float and measure again: first every SQNR outlier at
 * once (a layer far below the others is the likely cause, and one measurement tries them all), then the
 * most sensitive remaining layer (lowest SQNR in the per-layer report) one at a time.
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
      const result = await evaluate(files[0]!.path, data, { reference: source, latencyRuns: 10 });
      const drop = source.accuracy - (result.accuracy ?? 0);
      const rest = errors.filter((e) => !excluded.has(e.node));
      const outliers = rest.filter((e) => e.outlier);
      const next = outliers.length ? outliers : rest.sort((a, b) => a.sqnrDb - b.sqnrDb).slice(0, 1);
      if (drop <= maxDrop || !next.length) return { plan: current, kept, result };
      for (const e of next) {
        excluded.add(e.node);
        kept.push({ node: e.node, sqnrDb: e.sqnrDb, dropBefore: fraction(drop), ...(e.outlier ? { outlier: true } : {}) });
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
