import type { Command } from 'commander';
import type { EvalResult } from '../../report/eval.js';
import { fraction } from '../../report/format.js';
import { colours, formatBytes, jsonDocument, table } from '../output.js';
import { progress } from '../progress.js';
import { intOption, requireFlags, withDefault } from '../args.js';
import { usageError } from '../../errors.js';
import { checkDataFlags, dataFlags, VOCAB_OPTION, type DataFlags } from '../data.js';

export interface EvalFlags extends DataFlags {
  data?: string;
  limit?: string;
  latencyRuns?: string;
  json?: boolean;
  backend?: string;
}

export function registerEval(program: Command): void {
  program
    .command('eval')
    .addHelpText('after', '\nExamples:\n  edgelm eval fixtures/models/mlp mlp.tflite mlp.onnx --data fixtures/data/mnist-test.npz\n  edgelm eval model.onnx --data x.npy --labels y.npy --json\n  edgelm eval char-lm.onnx char-lm.tflite --data held-out.txt   # next-character accuracy, perplexity, tokens/s\n')
    .description('run each model in the runtime that will run it (LiteRT, onnxruntime, TF.js): accuracy, agreement with the first model, size, latency')
    .argument('<models...>', 'models to evaluate; the first one is the reference for agreement')
    .option('--data <file>', 'evaluation data: .npz (x, y), .npy, .jsonl, or .txt for a character language model; required')
    .option('--labels <file>', 'labels .npy for .npy data')
    .option(...VOCAB_OPTION)
    .option('--limit <n>', 'evaluate only the first n samples')
    .option('--latency-runs <n>', withDefault('timed single-sample runs for the median latency; 0 skips timing', '30'))
    .option('--backend <name>', withDefault('TF.js backend for TF.js models: wasm, cpu, node, auto', 'wasm'))
    .option('--json', 'print one JSON document on stdout')
    .action(async (models: string[], flags: EvalFlags) => {
      requireFlags(flags, [['data', '--data <file>']]);
      checkDataFlags(flags, [flags.data]);
      const results = await runEval(models, flags as EvalFlags & { data: string });
      process.stdout.write(flags.json ? jsonDocument({ models: results.map(publicResult) }) : `${renderEval(results)}\n`);
    });
}

export async function runEval(models: string[], flags: EvalFlags & { data: string }): Promise<EvalResult[]> {
  const { loadDatasetFor } = await import('../../data/index.js');
  const { evaluate } = await import('../../report/eval.js');
  const { detectFormat } = await import('../../import/index.js');
  const { checkBackend } = await import('../../train/options.js');
  // Fail fast on a bad path or flag, before loading data.
  const formats = models.map((m) => detectFormat(m).format);
  const backend = checkBackend(flags.backend ?? 'wasm');
  if (flags.backend !== undefined && !formats.some((f) => f.startsWith('tfjs'))) throw usageError(`--backend ${flags.backend} has no effect: it runs TF.js models, and none of these is one (TFLite runs in LiteRT, ONNX in onnxruntime)`);
  const n = flags.limit === undefined ? undefined : intOption('--limit', flags.limit);
  const latencyRuns = flags.latencyRuns === undefined ? undefined : intOption('--latency-runs', flags.latencyRuns, 0);
  // Each model gets the samples in its own input shape (see evaluate).
  let data = await loadDatasetFor(flags.data, models[0]!, dataFlags(flags));
  if (n !== undefined) {
    const per = data.x.length / data.shape[0]!;
    const keep = Math.min(n, data.shape[0]!);
    const k = data.y ? data.y.length / data.shape[0]! : 0; // labels per sample (one per position for a language model)
    data = { ...data, x: data.x.subarray(0, keep * per), shape: [keep, ...data.shape.slice(1)], ...(data.y ? { y: data.y.subarray(0, keep * k) } : {}) };
  }
  const results: EvalResult[] = [];
  for (const m of models) {
    const bar = progress(`eval ${m.split('/').pop()}`, !flags.json && process.stderr.isTTY === true);
    const reference = results[0];
    results.push(await evaluate(m, data, { ...(reference ? { reference } : {}), ...(latencyRuns !== undefined ? { latencyRuns } : {}), onProgress: (d, t) => bar.update(d, t), backend }));
    bar.stop();
  }
  return results;
}

/** [source, artifact] results where the artifact was measured staged (see stageExport): named by the file it becomes. */
export function relabel(results: EvalResult[], final: string): EvalResult[] {
  return results.map((r, i) => (i === 1 ? { ...r, file: final } : r));
}

export function publicResult(r: EvalResult): Omit<EvalResult, 'predictions' | 'raw'> {
  const { predictions: _p, raw: _r, ...rest } = r;
  void _p;
  void _r;
  return rest;
}

/** The JSON summary of a source evaluated against its artifact: both results and the accuracy drop. */
export function comparison(evaluation: EvalResult[]): Record<string, unknown> {
  const [source, artifact] = evaluation.map(publicResult) as [ReturnType<typeof publicResult>, ReturnType<typeof publicResult>];
  return { source, artifact, ...(source.accuracy !== undefined && artifact.accuracy !== undefined ? { accuracyDrop: fraction(source.accuracy - artifact.accuracy) } : {}) };
}

export function renderEval(results: EvalResult[]): string {
  return [renderTable(results), ...renderOutputs(results)].join('\n');
}

const fmtKl = (v: number | undefined): string => (v === undefined ? '—' : v.toPrecision(3));

function renderTable(results: EvalResult[]): string {
  const c = colours();
  const pct = (v: number | undefined): string => (v === undefined ? '—' : `${(v * 100).toFixed(2)}%`);
  return table(results, [
    { header: 'model', value: (r) => r.file },
    { header: 'runtime', value: (r) => r.runtime },
    { header: 'size', value: (r) => formatBytes(r.bytes), align: 'right' },
    { header: 'gzip', value: (r) => formatBytes(r.gzipBytes), align: 'right' },
    { header: 'accuracy', value: (r) => pct(r.accuracy), align: 'right' },
    { header: 'agreement', value: (r) => pct(r.agreement), align: 'right' },
    { header: 'latency', value: (r) => (r.latencyMs === undefined ? '—' : `${r.latencyMs.toFixed(3)} ms`), align: 'right' },
    // Language models: perplexity of the next character and positions per second.
    ...(results.some((r) => r.perplexity !== undefined)
      ? [
          { header: 'perplexity', value: (r: EvalResult) => r.perplexity?.toFixed(3) ?? '—', align: 'right' as const },
          { header: 'tokens/s', value: (r: EvalResult) => (r.tokensPerSecond === undefined ? '—' : Math.round(r.tokensPerSecond).toLocaleString('en-US')), align: 'right' as const },
        ]
      : []),
    // Against the first model: mean KL divergence of the next-token distributions (nats) and its 99th percentile.
    ...(results.some((r) => r.klDivergence !== undefined)
      ? [
          { header: 'KL', value: (r: EvalResult) => fmtKl(r.klDivergence), align: 'right' as const },
          { header: 'KL p99', value: (r: EvalResult) => fmtKl(r.klDivergenceP99), align: 'right' as const },
        ]
      : []),
  ], c);
}

/**
 * Per-output agreement with the first model, for models whose outputs are not (only) class scores: more
 * than one output, or one value per sample. One line per model and output.
 */
function renderOutputs(results: EvalResult[]): string[] {
  const shown = results.filter((r) => r.outputs && (r.outputs.length > 1 || r.outputs.some((o) => o.decisionAgreement !== undefined) || r.accuracy === undefined));
  if (!shown.length) return [];
  const db = (v: number): string => (v === Infinity ? '∞' : v.toFixed(1));
  return ['', `outputs against ${results[0]!.file}:`, ...shown.flatMap((r) => r.outputs!.map((o) => `  ${r.file} ${o.name}: cosine ${o.cosine.toFixed(6)}, max abs error ${o.maxAbsError.toPrecision(3)}, SQNR ${db(o.sqnrDb)} dB${o.decisionAgreement !== undefined ? `, decisions (> ${o.threshold}) agree on ${(100 * o.decisionAgreement).toFixed(2)}%` : ''}`))];
}
