// Runs a pipeline: steps on the Graph in order, each export written and measured in its runtime,
// reports written, gates checked (a missed gate is exit 3 after the reports are on disk).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadDatasetFor, type Dataset } from '../data/index.js';
import { distillModel } from '../distill/index.js';
import { EdgelmError } from '../errors.js';
import { writeExport } from '../export/index.js';
import { detectFormat, loadModel, modelFiles } from '../import/index.js';
import { weightLayers, type Graph } from '../ir/graph.js';
import { sparsityReport } from '../prune/index.js';
import { pruneModel } from '../prune/run.js';
import { fitAccuracy, quantizeModel, type KeptFloat } from '../quantize/index.js';
import type { QuantPlan } from '../quantize/plan.js';
import type { TrainOptions } from '../train/loop.js';
import { layerErrors, outlierWarning, type LayerError } from '../quantize/layer-error.js';
import { evaluate, latencyOf, measureLatency, type EvalResult } from '../report/eval.js';
import { fraction, significant } from '../report/format.js';
import { inspectGraph } from '../report/inspect.js';
import { provenance, relativePath, type Provenance } from '../report/provenance.js';
import { slowerThanFloat } from '../report/warnings.js';
import { VERSION } from '../version.js';
import type { Pipeline } from './config.js';

export interface Variant {
  name: string;
  kind: 'original' | 'step' | 'export';
  format: string;
  runtime: string;
  file?: string;
  bytes: number;
  gzipBytes: number;
  params: number;
  /** Fraction of exact zeros in the weight layers. */
  sparsity: number;
  accuracy?: number;
  agreement?: number;
  latencyMs: number;
  /** Exports of a quantized model: latency of the float export of the same model in the same runtime. */
  floatLatencyMs?: number;
  /** Language models: perplexity of the next token and positions per second (see EvalResult). */
  perplexity?: number;
  tokensPerSecond?: number;
  /** Language models against the original: mean KL divergence of the next-token distributions and its 99th percentile (nats). */
  klDivergence?: number;
  klDivergenceP99?: number;
  perLayer?: LayerError[];
}

export interface GateResult {
  gate: keyof Pipeline['gates'];
  value: number;
  limit: number;
  passed: boolean;
}

/** The report document (schema "edgelm.report/1", documented in docs/report-schema.md). */
export interface PipelineReport {
  schema: 'edgelm.report/1';
  edgelm: string;
  /** When, by which command, with which runtimes and on what machine the report was made. */
  made: Provenance;
  /** The pipeline file, relative to the working directory; every other path is relative to the pipeline file's folder. */
  pipeline: string;
  model: string;
  evalData?: string;
  samples?: number;
  variants: Variant[];
  keptFloat?: KeptFloat[];
  gates: GateResult[];
  passed: boolean;
  /** Findings a person should see (a quantized export slower than its float export); empty when none. */
  warnings: string[];
}

const weightSparsity = (g: Graph): number => sparsityReport(g, weightLayers(g)).total;

function variantOf(name: string, kind: Variant['kind'], r: EvalResult, graph: Graph, base: string): Variant {
  return {
    name, kind, format: r.format, runtime: r.runtime, ...(kind !== 'step' ? { file: relativePath(base, r.file) } : {}),
    bytes: r.bytes, gzipBytes: r.gzipBytes, params: inspectGraph(graph, r.file, r.bytes).params, sparsity: significant(weightSparsity(graph), 6),
    ...(r.accuracy !== undefined ? { accuracy: r.accuracy } : {}), ...(r.agreement !== undefined ? { agreement: r.agreement } : {}), latencyMs: latencyOf(r),
    ...(r.perplexity !== undefined ? { perplexity: r.perplexity, tokensPerSecond: r.tokensPerSecond! } : {}),
    ...(r.klDivergence !== undefined ? { klDivergence: r.klDivergence, klDivergenceP99: r.klDivergenceP99! } : {}),
  };
}

export interface RunOptions {
  log?: (line: string) => void;
  /** Progress hooks for a training step of `epochs` epochs (prune fine-tuning, distill). */
  trainingProgress?: (epochs: number) => Pick<TrainOptions, 'onProgress' | 'onEpoch'>;
  /** The command line to record in the report (`made.command`). */
  command?: string;
}

export async function runPipeline(p: Pipeline, opts: RunOptions = {}): Promise<PipelineReport> {
  const log = opts.log ?? (() => {});
  const base = dirname(p.file);
  const source = detectFormat(p.model);
  const inputs = modelFiles(source.file, source.format).map((f) => f.path);
  let graph = await loadModel(p.model);
  const original = graph;
  const load = async (path: string | undefined): Promise<Dataset | undefined> => (path ? loadDatasetFor(path, p.model, { graph, ...(p.data.vocab ? { vocab: p.data.vocab } : {}) }) : undefined);
  const [train, calibration, evalData] = [await load(p.data.train), await load(p.data.calibration ?? p.data.train), await load(p.data.eval)];
  const variants: Variant[] = [];
  const warnings: string[] = [];
  let reference: EvalResult | undefined;
  const scratch = mkdtempSync(join(tmpdir(), 'edgelm-run-'));
  try {
    if (evalData) {
      reference = await evaluate(source.file, evalData, { latencyRuns: 20 });
      variants.push(variantOf('original', 'original', reference, original, base));
      log(`original: ${fmtAcc(reference.accuracy)} in ${reference.runtime}`);
      checkLmGates(p, reference);
    }
    let plan: QuantPlan | undefined;
    let keptFloat: PipelineReport['keptFloat'];
    let perLayer: LayerError[] | undefined;
    for (const [i, step] of p.steps.entries()) {
      const training = (epochs: number, lr: number) => ({ epochs, batchSize: p.batchSize, lr, optimizer: 'adam' as const, seed: p.seed, ...opts.trainingProgress?.(epochs) });
      let name: string;
      if ('prune' in step) {
        const s = step.prune;
        name = `prune ${s.pattern} ${s.scope} ${s.sparsity}`;
        log(`step ${i + 1}: ${name}${s.epochs ? `, fine-tune ${s.epochs} epoch(s)` : ''}`);
        graph = (await pruneModel(graph, { sparsity: s.sparsity, scope: s.scope, pattern: s.pattern, exclude: s.exclude, schedule: s.schedule, ...(train ? { data: train } : {}), training: training(s.epochs, s.lr) })).graph;
      } else if ('distill' in step) {
        const s = step.distill;
        name = `distill ${s.student ? 'student' : `width ${s.studentWidth}`}`;
        log(`step ${i + 1}: ${name}, ${s.epochs} epoch(s), T ${s.temperature}, α ${s.alpha}`);
        const student = s.student ? await loadModel(s.student) : undefined;
        graph = (await distillModel(graph, { ...(student ? { student } : { studentWidth: s.studentWidth! }), data: train!, temperature: s.temperature, alpha: s.alpha, training: training(s.epochs, s.lr) })).student;
      } else {
        const s = step.quantize;
        name = `quantize ${s.mode}`;
        log(`step ${i + 1}: ${name}`);
        const q = await quantizeModel(graph, { mode: s.mode, bits: s.bits, granularity: s.granularity, blockSize: s.blockSize, exclude: s.exclude, ...(calibration ? { calibration } : {}) });
        graph = q.graph;
        plan = q.plan;
        const firstFormat = p.export[0]?.format ?? 'onnx';
        if (calibration) perLayer = await layerErrors(graph, plan, firstFormat, calibration);
        const outliers = perLayer && outlierWarning(perLayer);
        if (outliers) warnings.push(outliers); // printed with the report's other warnings
        if (s.maxAccuracyDrop !== undefined && evalData && reference) {
          const fit = await fitAccuracy(graph, plan, firstFormat, evalData, reference, s.maxAccuracyDrop, { ...(calibration ? { calibration } : {}) });
          plan = fit.plan;
          keptFloat = fit.kept;
        }
        continue; // quantization is applied by the writers: its variants are the exports
      }
      if (evalData && reference) {
        // A step's model, measured as float ONNX in onnxruntime.
        const out = join(scratch, `step-${i + 1}.onnx`);
        await writeExport(graph, 'onnx', out, inputs);
        const r = await evaluate(out, evalData, { reference, latencyRuns: 20 });
        variants.push(variantOf(`step ${i + 1}: ${name}`, 'step', r, graph, base));
        log(`  → ${fmtAcc(r.accuracy)}, ${r.bytes} bytes (float)`);
      }
    }
    for (const e of p.export) {
      const written = await writeExport(graph, e.format, e.path, inputs, { ...(plan ? { quant: plan } : {}) });
      log(`wrote ${relativePath(process.cwd(), written.files[0]!)} (${e.format}${plan ? `, ${plan.mode}` : ''})`);
      if (evalData) {
        const r = await evaluate(written.files[0]!, evalData, { ...(reference ? { reference } : {}), latencyRuns: 20 });
        const v = variantOf(`export ${e.format}`, 'export', r, graph, base);
        if (perLayer && plan) v.perLayer = perLayer.filter((l) => !plan!.exclude(graph.nodes.find((n) => n.name === l.node)!));
        if (plan) {
          // The same model exported in float, timed in the same runtime: does quantization pay here?
          const float = join(scratch, `float-${variants.length}`, e.format === 'tfjs' ? 'model.json' : `model.${e.format}`);
          await writeExport(graph, e.format, float, inputs);
          v.floatLatencyMs = await measureLatency(float, evalData, { latencyRuns: 20 });
          const warning = slowerThanFloat(v.file!, r.runtime, v.latencyMs, v.floatLatencyMs);
          if (warning) warnings.push(warning);
        }
        variants.push(v);
        log(`  → ${fmtAcc(r.accuracy)} in ${r.runtime}, agreement ${fmtAcc(r.agreement)}, ${r.bytes} bytes, ${latencyOf(r).toFixed(3)} ms${v.floatLatencyMs ? ` (float ${v.floatLatencyMs.toFixed(3)} ms)` : ''}`);
      }
    }
    const gates = checkGates(p, variants);
    return {
      schema: 'edgelm.report/1', edgelm: VERSION, made: provenance(opts.command), pipeline: relativePath(process.cwd(), p.file), model: relativePath(base, source.file),
      ...(evalData ? { evalData: relativePath(base, evalData.source), samples: evalData.shape[0]! } : {}),
      variants, ...(keptFloat ? { keptFloat } : {}), gates, passed: gates.every((g) => g.passed), warnings,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const fmtAcc = (v: number | undefined): string => (v === undefined ? 'no labels' : `${(100 * v).toFixed(2)}%`);

const LM_GATES = ['maxKld', 'minTop1Agreement', 'maxPerplexityIncrease'] as const;

/** The language-model gates need next-token labels (a label per position): refused before any step runs. */
function checkLmGates(p: Pipeline, reference: EvalResult): void {
  const asked = LM_GATES.filter((g) => p.gates[g] !== undefined);
  if (asked.length && reference.perplexity === undefined) throw new EdgelmError('usage', `${p.file}: gates.${asked[0]} measures a language model's next-token distributions; data.eval (${p.data.eval}) has no label per position (use .txt text with data.vocab)`);
}

/** Each gate against the worst export (or the last step's model when nothing is exported). */
export function checkGates(p: Pipeline, variants: Variant[]): GateResult[] {
  const original = variants.find((v) => v.kind === 'original');
  const exports = variants.filter((v) => v.kind === 'export');
  const measured = exports.length ? exports : variants.filter((v) => v.kind === 'step').slice(-1);
  const out: GateResult[] = [];
  const g = p.gates;
  if (!measured.length && Object.keys(g).length) throw new EdgelmError('usage', `${p.file}: gates need something to measure: add export entries and data.eval`);
  if (g.maxAccuracyDrop !== undefined) {
    const value = fraction(Math.max(...measured.map((v) => (original?.accuracy ?? 0) - (v.accuracy ?? 0))));
    out.push({ gate: 'maxAccuracyDrop', value, limit: g.maxAccuracyDrop, passed: value <= g.maxAccuracyDrop + 1e-12 });
  }
  if (g.minAgreement !== undefined) {
    const value = Math.min(...measured.map((v) => v.agreement ?? 0));
    out.push({ gate: 'minAgreement', value, limit: g.minAgreement, passed: value >= g.minAgreement });
  }
  if (g.maxSizeBytes !== undefined) {
    const value = Math.max(...measured.map((v) => v.bytes));
    out.push({ gate: 'maxSizeBytes', value, limit: g.maxSizeBytes, passed: value <= g.maxSizeBytes });
  }
  if (g.maxLatencyMs !== undefined) {
    const value = Math.max(...measured.map((v) => v.latencyMs));
    out.push({ gate: 'maxLatencyMs', value, limit: g.maxLatencyMs, passed: value <= g.maxLatencyMs });
  }
  // A variant without the measure (no reference outputs kept) fails its gate rather than passing unmeasured.
  if (g.maxKld !== undefined) {
    const value = Math.max(...measured.map((v) => v.klDivergence ?? Infinity));
    out.push({ gate: 'maxKld', value, limit: g.maxKld, passed: value <= g.maxKld });
  }
  if (g.minTop1Agreement !== undefined) {
    const value = Math.min(...measured.map((v) => v.agreement ?? 0));
    out.push({ gate: 'minTop1Agreement', value, limit: g.minTop1Agreement, passed: value >= g.minTop1Agreement });
  }
  if (g.maxPerplexityIncrease !== undefined) {
    const value = significant(Math.max(...measured.map((v) => (v.perplexity ?? Infinity) - (original?.perplexity ?? Infinity))), 6);
    out.push({ gate: 'maxPerplexityIncrease', value, limit: g.maxPerplexityIncrease, passed: value <= g.maxPerplexityIncrease + 1e-12 });
  }
  return out;
}
