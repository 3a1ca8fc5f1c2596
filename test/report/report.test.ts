// What a pipeline report tells a person besides the numbers: when and how it was made (command,
// versions, machine), paths relative to the pipeline file, figures rounded to what they mean, and a
// warning wherever a quantized export measured slower than its float export in its runtime.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PipelineReport } from '../../src/pipeline/index.js';
import { SLOWER_THAN_FLOAT, slowerThanFloat } from '../../src/report/warnings.js';
import { ROOT, cliAsync, fixture, tempDir } from '../helpers.js';

const dir = tempDir();
const version = (pkg: string): string => (createRequire(import.meta.url)(`${pkg}/package.json`) as { version: string }).version;
/** Significant digits of a decimal as JSON prints it (0.0734 → 3). */
const digits = (v: number): number => String(v).replace('-', '').replace(/^0\.0*/, '').replace('.', '').replace(/0+$/, '').length;

describe('a pipeline report says when and how it was made', () => {
  let report: PipelineReport;
  const pipelineFile = join(dir, 'ci', 'pipeline.json');

  it('runs', async () => {
    const p = {
      model: relative(join(dir, 'ci'), fixture('models', 'mlp', 'model.json')),
      data: { calibration: relative(join(dir, 'ci'), fixture('data', 'mnist-train.npz')), eval: relative(join(dir, 'ci'), fixture('data', 'mnist-test.npz')) },
      steps: [{ quantize: { mode: 'int8' } }],
      export: [{ format: 'tflite', path: 'out/model.tflite' }, { format: 'onnx', path: 'out/model.onnx' }],
      report: { json: 'out/report.json', markdown: 'out/report.md', html: 'out/report.html' },
    };
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dirname(pipelineFile), { recursive: true });
    writeFileSync(pipelineFile, JSON.stringify(p));
    const before = Date.now();
    const r = await cliAsync(['run', 'ci/pipeline.json', '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    report = JSON.parse(r.stdout) as PipelineReport;
    const made = Date.parse(report.made.createdAt);
    expect(made).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(made).toBeLessThanOrEqual(Date.now());
    // Warnings reach the terminal as well as the report.
    for (const w of report.warnings) expect(r.stderr).toContain(`edgelm: warning: ${w}`);
  }, 300_000);

  it('records the command, the versions of edgelm and the runtimes installed, and the machine', () => {
    const m = report.made;
    expect(m.command).toBe('edgelm run ci/pipeline.json --json');
    expect(m.edgelm).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    expect(m.node).toBe(process.version);
    expect(m.runtimes['onnxruntime-node']).toBe(version('onnxruntime-node'));
    expect(m.runtimes['@litertjs/core']).toBe(version('@litertjs/core'));
    expect(m.runtimes['@tensorflow/tfjs-core']).toBe(version('@tensorflow/tfjs-core'));
    expect(m.machine.cores).toBe(cpus().length);
    expect(m.machine.cpu).toBe(cpus()[0]!.model.trim());
  });

  it('holds no absolute path: files are relative to the pipeline file, the pipeline to the working directory', () => {
    expect(report.pipeline).toBe('ci/pipeline.json');
    expect(report.model).toBe(relative(join(dir, 'ci'), fixture('models', 'mlp', 'model.json')));
    for (const v of report.variants.filter((x) => x.file)) expect(existsSync(join(dir, 'ci', v.file!)), v.file).toBe(true);
    expect(report.variants.filter((v) => v.kind === 'export').map((v) => v.file)).toEqual(['out/model.tflite', 'out/model.onnx']);
    for (const f of ['report.json', 'report.md', 'report.html']) {
      const text = readFileSync(join(dir, 'ci', 'out', f), 'utf8');
      // An absolute path starts after a quote, a space, a backtick or a tag (a relative one after '../').
      for (const abs of [dir, ROOT]) expect(text, f).not.toMatch(new RegExp(`(^|[\\s"'\`>(])${abs.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
    }
  });

  it('the Markdown and HTML reports carry the same account of how they were made', () => {
    const md = readFileSync(join(dir, 'ci', 'out', 'report.md'), 'utf8');
    const html = readFileSync(join(dir, 'ci', 'out', 'report.html'), 'utf8');
    const m = report.made;
    for (const text of [md, html]) {
      expect(text).toContain(m.createdAt);
      expect(text).toContain('edgelm run ci/pipeline.json --json');
      expect(text).toContain(`onnxruntime-node ${m.runtimes['onnxruntime-node']}`);
      expect(text).toContain(`${m.machine.cores} cores`);
    }
  });

  it('rounds measurements to meaningful digits', () => {
    for (const v of report.variants) {
      expect(digits(v.latencyMs), `${v.name} latency ${v.latencyMs}`).toBeLessThanOrEqual(4);
      if (v.floatLatencyMs !== undefined) expect(digits(v.floatLatencyMs)).toBeLessThanOrEqual(4);
      expect(digits(v.sparsity)).toBeLessThanOrEqual(6);
    }
  });

  it("measures each quantized export's float export in the same runtime and warns exactly where it was slower", () => {
    const exports = report.variants.filter((v) => v.kind === 'export');
    expect(exports).toHaveLength(2);
    const expected: string[] = [];
    for (const v of exports) {
      expect(v.floatLatencyMs).toBeGreaterThan(0);
      const slower = v.latencyMs / v.floatLatencyMs! > SLOWER_THAN_FLOAT.ratio && v.latencyMs - v.floatLatencyMs! > SLOWER_THAN_FLOAT.ms;
      if (slower) expected.push(v.file!);
    }
    expect(report.warnings.map((w) => w.split(' ')[0])).toEqual(expected);
  });
});

describe('the slower-than-float rule', () => {
  it('flags a ratio above 1.25 that is also more than 0.01 ms, and names the runtime and both latencies', () => {
    expect(slowerThanFloat('q.onnx', 'onnxruntime', 0.229, 0.096)).toBe('q.onnx runs 2.4× slower than its float export in onnxruntime (0.229 ms vs 0.096 ms): quantization saves size here, not time');
    expect(slowerThanFloat('q.onnx', 'onnxruntime', 0.12, 0.1)).toBeUndefined(); // 1.2×: within noise
    expect(slowerThanFloat('q.onnx', 'onnxruntime', 0.008, 0.004)).toBeUndefined(); // 2× of 4 µs
    expect(slowerThanFloat('q.onnx', 'onnxruntime', 0.05, 0.1)).toBeUndefined(); // faster
  });
});

describe('--json figures are rounded to meaningful digits', () => {
  /** Every number in a JSON document with its path. */
  const numbers = (v: unknown, path = ''): [string, number][] =>
    typeof v === 'number' ? [[path, v]] : v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => numbers(x, `${path}.${k}`)) : [];

  it('quantize --data --per-layer-report: latency 4 digits, cosine 1e-9, SQNR 0.001 dB, ratios 4 digits, accuracy drop without float noise', async () => {
    const r = await cliAsync(['quantize', fixture('models', 'lenet-300-100.onnx'), '-o', join(dir, 'lenet.onnx'), '--per-layer-report', '--calibration', fixture('data', 'mnist-train.npz'), '--data', fixture('data', 'mnist-test.npz'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    const all = numbers(JSON.parse(r.stdout));
    const at = (suffix: string): number[] => all.filter(([p]) => p.endsWith(suffix)).map(([, v]) => v);
    expect(at('.latencyMs')).toHaveLength(2);
    for (const v of at('.latencyMs')) expect(digits(v)).toBeLessThanOrEqual(4);
    for (const v of at('.cosine')) expect(v).toBe(Number(v.toFixed(9)));
    for (const v of at('.sqnrDb')) expect(v).toBe(Number(v.toFixed(3)));
    expect(digits(at('.sizeRatio')[0]!)).toBeLessThanOrEqual(4);
    // Accuracies are k/1000 here: their difference is a multiple of 0.001 and prints as one.
    const [drop] = at('.accuracyDrop');
    expect(String(drop)).toMatch(/^-?\d(\.\d{1,3})?$/);
    // Nothing anywhere prints float noise (more than 9 significant digits).
    for (const [p, v] of all) expect(digits(v), p).toBeLessThanOrEqual(9);
  }, 300_000);
});
