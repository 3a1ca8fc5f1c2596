// Pipeline files (JSON or YAML): parsed and validated with errors that name the field, e.g.
// "steps[1].distill.epochs: expected a positive integer".
import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { DISTILL_DEFAULTS, PRUNE_DEFAULTS, QUANTIZE_DEFAULTS, TRAINING_DEFAULTS } from '../defaults.js';
import { inputError } from '../errors.js';
import { EXPORT_FORMATS, type ExportFormat } from '../export/index.js';
import { QUANT_MODES, type Granularity, type QuantMode } from '../quantize/plan.js';

export interface PruneStep { prune: { sparsity: number; scope: 'layer' | 'global'; pattern: string; epochs: number; schedule: 'constant' | 'polynomial'; lr: number; exclude: string[] } }
export interface DistillStep { distill: { student?: string; studentWidth?: number; epochs: number; temperature: number; alpha: number; lr: number } }
export interface QuantizeStep { quantize: { mode: QuantMode; bits: number; granularity: Granularity; blockSize: number; exclude: string[]; maxAccuracyDrop?: number } }
export type Step = PruneStep | DistillStep | QuantizeStep;

export interface Pipeline {
  file: string;
  model: string;
  data: { train?: string; calibration?: string; eval?: string; vocab?: string };
  steps: Step[];
  export: { format: ExportFormat; path: string }[];
  report: { json?: string; markdown?: string; html?: string };
  gates: {
    maxAccuracyDrop?: number; minAgreement?: number; maxSizeBytes?: number; maxLatencyMs?: number;
    /** Language models (see lm-metrics.ts): mean KL divergence to the original, in nats; same-top-1 rate; perplexity minus the original's. */
    maxKld?: number; minTop1Agreement?: number; maxPerplexityIncrease?: number;
  };
  seed: number;
  batchSize: number;
}

type Obj = Record<string, unknown>;

class Checker {
  constructor(readonly file: string) {}
  fail(path: string, what: string): never {
    throw inputError(this.file, `${path}: ${what}`);
  }
  obj(v: unknown, path: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'expected an object');
    return v as Obj;
  }
  keys(o: Obj, path: string, allowed: string[]): void {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) this.fail(path ? `${path}.${k}` : k, `unknown field (expected one of ${allowed.join(', ')})`);
  }
  str(v: unknown, path: string): string {
    if (typeof v !== 'string' || !v) this.fail(path, 'expected a non-empty string');
    return v as string;
  }
  num(v: unknown, path: string, min: number, max: number, what = `a number from ${min} to ${max}`): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) this.fail(path, `expected ${what}`);
    return v as number;
  }
  int(v: unknown, path: string, min = 1): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) this.fail(path, min === 1 ? 'expected a positive integer' : `expected an integer ≥ ${min}`);
    return v as number;
  }
  oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T {
    if (typeof v !== 'string' || !values.includes(v as T)) this.fail(path, `expected one of ${values.join(', ')}`);
    return v as T;
  }
  strings(v: unknown, path: string): string[] {
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) this.fail(path, 'expected a list of strings');
    return v as string[];
  }
}

export function loadPipeline(path: string): Pipeline {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw inputError(path, 'cannot read the pipeline file');
  }
  let raw: unknown;
  try {
    raw = ['.yaml', '.yml'].includes(extname(path).toLowerCase()) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw inputError(path, `not valid ${extname(path).toLowerCase() === '.json' ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`);
  }
  return validatePipeline(raw, path);
}

export function validatePipeline(raw: unknown, file: string): Pipeline {
  const c = new Checker(file);
  const root = c.obj(raw, '(top level)');
  c.keys(root, '', ['model', 'data', 'steps', 'export', 'report', 'gates', 'seed', 'batchSize']);
  // Paths are relative to the pipeline file.
  const rel = (p: string): string => resolve(dirname(resolve(file)), p);
  const model = rel(c.str(root.model, 'model'));
  const data: Pipeline['data'] = {};
  if (root.data !== undefined) {
    const d = c.obj(root.data, 'data');
    c.keys(d, 'data', ['train', 'calibration', 'eval', 'vocab']);
    for (const k of ['train', 'calibration', 'eval', 'vocab'] as const) if (d[k] !== undefined) data[k] = rel(c.str(d[k], `data.${k}`));
  }
  const steps: Step[] = [];
  const rawSteps = root.steps ?? [];
  if (!Array.isArray(rawSteps)) c.fail('steps', 'expected a list');
  (rawSteps as unknown[]).forEach((s, i) => {
    const at = `steps[${i}]`;
    const o = c.obj(s, at);
    const kinds = Object.keys(o);
    if (kinds.length !== 1) c.fail(at, 'expected exactly one of prune, distill, quantize');
    const kind = kinds[0]!;
    const p = c.obj(o[kind], `${at}.${kind}`);
    const f = `${at}.${kind}`;
    if (kind === 'prune') {
      c.keys(p, f, ['sparsity', 'scope', 'pattern', 'epochs', 'schedule', 'lr', 'exclude']);
      steps.push({ prune: {
        sparsity: c.num(p.sparsity, `${f}.sparsity`, 0, 0.999, 'a fraction in [0, 1)'),
        scope: p.scope === undefined ? PRUNE_DEFAULTS.scope : c.oneOf(p.scope, `${f}.scope`, ['layer', 'global'] as const),
        pattern: p.pattern === undefined ? PRUNE_DEFAULTS.pattern : c.str(p.pattern, `${f}.pattern`),
        epochs: p.epochs === undefined ? PRUNE_DEFAULTS.epochs : c.int(p.epochs, `${f}.epochs`, 0),
        schedule: p.schedule === undefined ? PRUNE_DEFAULTS.schedule : c.oneOf(p.schedule, `${f}.schedule`, ['constant', 'polynomial'] as const),
        lr: p.lr === undefined ? PRUNE_DEFAULTS.lr : c.num(p.lr, `${f}.lr`, 1e-9, 10, 'a positive learning rate'),
        exclude: c.strings(p.exclude, `${f}.exclude`),
      } });
    } else if (kind === 'distill') {
      c.keys(p, f, ['student', 'studentWidth', 'epochs', 'temperature', 'alpha', 'lr']);
      if ((p.student === undefined) === (p.studentWidth === undefined)) c.fail(f, 'expected exactly one of student and studentWidth');
      steps.push({ distill: {
        ...(p.student !== undefined ? { student: rel(c.str(p.student, `${f}.student`)) } : { studentWidth: c.num(p.studentWidth, `${f}.studentWidth`, 0.001, 1, 'a factor in (0, 1]') }),
        epochs: p.epochs === undefined ? DISTILL_DEFAULTS.epochs : c.int(p.epochs, `${f}.epochs`),
        temperature: p.temperature === undefined ? DISTILL_DEFAULTS.temperature : c.num(p.temperature, `${f}.temperature`, 0.01, 100, 'a positive temperature'),
        alpha: p.alpha === undefined ? DISTILL_DEFAULTS.alpha : c.num(p.alpha, `${f}.alpha`, 0, 1),
        lr: p.lr === undefined ? DISTILL_DEFAULTS.lr : c.num(p.lr, `${f}.lr`, 1e-9, 10, 'a positive learning rate'),
      } });
    } else if (kind === 'quantize') {
      c.keys(p, f, ['mode', 'bits', 'granularity', 'blockSize', 'exclude', 'maxAccuracyDrop']);
      steps.push({ quantize: {
        mode: p.mode === undefined ? QUANTIZE_DEFAULTS.mode : c.oneOf(p.mode, `${f}.mode`, QUANT_MODES),
        bits: p.bits === undefined ? QUANTIZE_DEFAULTS.bits : c.num(p.bits, `${f}.bits`, 2, 8, 'an integer from 2 to 8'),
        granularity: p.granularity === undefined ? QUANTIZE_DEFAULTS.granularity : c.oneOf(p.granularity, `${f}.granularity`, ['auto', 'tensor', 'channel', 'block'] as const),
        blockSize: p.blockSize === undefined ? QUANTIZE_DEFAULTS.blockSize : c.int(p.blockSize, `${f}.blockSize`, 16),
        exclude: c.strings(p.exclude, `${f}.exclude`),
        ...(p.maxAccuracyDrop !== undefined ? { maxAccuracyDrop: c.num(p.maxAccuracyDrop, `${f}.maxAccuracyDrop`, 0, 1) } : {}),
      } });
    } else c.fail(`${at}.${kind}`, 'unknown step (expected prune, distill or quantize)');
  });
  const exports: Pipeline['export'] = [];
  if (root.export !== undefined) {
    if (!Array.isArray(root.export)) c.fail('export', 'expected a list of { format, path }');
    (root.export as unknown[]).forEach((e, i) => {
      const o = c.obj(e, `export[${i}]`);
      c.keys(o, `export[${i}]`, ['format', 'path']);
      exports.push({ format: c.oneOf(o.format, `export[${i}].format`, EXPORT_FORMATS), path: rel(c.str(o.path, `export[${i}].path`)) });
    });
  }
  const report: Pipeline['report'] = {};
  if (root.report !== undefined) {
    const r = c.obj(root.report, 'report');
    c.keys(r, 'report', ['json', 'markdown', 'html']);
    for (const k of ['json', 'markdown', 'html'] as const) if (r[k] !== undefined) report[k] = rel(c.str(r[k], `report.${k}`));
  }
  const gates: Pipeline['gates'] = {};
  if (root.gates !== undefined) {
    const g = c.obj(root.gates, 'gates');
    c.keys(g, 'gates', ['maxAccuracyDrop', 'minAgreement', 'maxSizeBytes', 'maxLatencyMs', 'maxKld', 'minTop1Agreement', 'maxPerplexityIncrease']);
    if (g.maxAccuracyDrop !== undefined) gates.maxAccuracyDrop = c.num(g.maxAccuracyDrop, 'gates.maxAccuracyDrop', 0, 1, 'a fraction such as 0.01');
    if (g.minAgreement !== undefined) gates.minAgreement = c.num(g.minAgreement, 'gates.minAgreement', 0, 1, 'a fraction such as 0.98');
    if (g.maxSizeBytes !== undefined) gates.maxSizeBytes = c.int(g.maxSizeBytes, 'gates.maxSizeBytes');
    if (g.maxLatencyMs !== undefined) gates.maxLatencyMs = c.num(g.maxLatencyMs, 'gates.maxLatencyMs', 0, 1e9, 'a positive number of milliseconds');
    if (g.maxKld !== undefined) gates.maxKld = c.num(g.maxKld, 'gates.maxKld', 0, 1e6, 'a non-negative KL divergence in nats such as 0.05');
    if (g.minTop1Agreement !== undefined) gates.minTop1Agreement = c.num(g.minTop1Agreement, 'gates.minTop1Agreement', 0, 1, 'a fraction such as 0.9');
    if (g.maxPerplexityIncrease !== undefined) gates.maxPerplexityIncrease = c.num(g.maxPerplexityIncrease, 'gates.maxPerplexityIncrease', 0, 1e6, 'a non-negative perplexity difference such as 0.1');
  }
  const needs = (what: keyof Pipeline['data'], why: string): void => {
    if (!data[what]) c.fail(`data.${what}`, `required: ${why}`);
  };
  for (const s of steps) {
    if ('prune' in s && s.prune.epochs > 0) needs('train', 'the prune step fine-tunes');
    if ('distill' in s) needs('train', 'the distill step trains');
    if ('quantize' in s && s.quantize.mode === 'int8' && !data.calibration && !data.train) needs('calibration', 'int8 quantization calibrates activation ranges');
  }
  if (Object.keys(gates).length && !data.eval) needs('eval', 'gates are measured on evaluation data');
  return {
    file, model, data, steps, export: exports, report, gates,
    seed: root.seed === undefined ? TRAINING_DEFAULTS.seed : c.int(root.seed, 'seed', 0),
    batchSize: root.batchSize === undefined ? TRAINING_DEFAULTS.batchSize : c.int(root.batchSize, 'batchSize'),
  };
}
