// Pipelines, reports and gates as a CI job uses them; the HTML report opened in headless Chromium.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/index.js';
import { argmax, cli, cliAsync, fixture, tempDir } from '../helpers.js';

const dir = tempDir();
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

function pipeline(name: string, over: Record<string, unknown> = {}): string {
  const p = {
    model: fixture('models', 'mlp', 'model.json'),
    data: { train: fixture('data', 'mnist-train.npz'), calibration: fixture('data', 'mnist-train.npz'), eval: fixture('data', 'mnist-test.npz') },
    steps: [{ prune: { sparsity: 0.5, scope: 'global' } }, { distill: { studentWidth: 0.5, epochs: 2 } }, { quantize: { mode: 'int8' } }],
    export: [{ format: 'tflite', path: `${name}/model.tflite` }, { format: 'onnx', path: `${name}/model.onnx` }],
    report: { json: `${name}/report.json`, markdown: `${name}/report.md`, html: `${name}/report.html` },
    gates: { maxAccuracyDrop: 0.05, minAgreement: 0.9 },
    ...over,
  };
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(p));
  return file;
}

interface Report {
  schema: string;
  variants: { name: string; kind: string; runtime: string; file?: string; accuracy: number; agreement?: number; bytes: number; perLayer?: unknown[] }[];
  gates: { gate: string; value: number; limit: number; passed: boolean }[];
  passed: boolean;
}

describe('edgelm run', () => {
  let report: Report;
  it('runs a pipeline end to end: both artifacts and all three reports', async () => {
    const r = await cliAsync(['run', pipeline('ok'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/\u001b\[/); // no ANSI escapes in --json output
    report = JSON.parse(r.stdout) as Report;
    expect(report.schema).toBe('edgelm.report/1');
    for (const f of ['model.tflite', 'model.onnx', 'report.json', 'report.md', 'report.html']) expect(existsSync(join(dir, 'ok', f)), f).toBe(true);
    expect(report.variants.map((v) => v.kind)).toEqual(['original', 'step', 'step', 'export', 'export']);
    expect(report.variants.filter((v) => v.kind === 'export').map((v) => v.runtime)).toEqual(['litert', 'onnxruntime']);
    expect(report.passed).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'ok', 'report.json'), 'utf8'))).toEqual(report);
    const md = readFileSync(join(dir, 'ok', 'report.md'), 'utf8');
    expect(md).toContain('| variant | runtime |');
    expect(md).toContain('export tflite');
  });

  it('reports what onnxruntime measures when run independently (within 0.2 point)', async () => {
    const onnx = report.variants.find((v) => v.kind === 'export' && v.runtime === 'onnxruntime')!;
    const data = await loadDataset(fixture('data', 'mnist-test.npz'));
    const s = await ort.InferenceSession.create(join(dir, onnx.file!)); // report paths are relative to the pipeline file
    const n = data.shape[0]!;
    const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', data.x as Float32Array, [n, 28, 28, 1]) }); // the mlp starts with a Flatten of [28, 28, 1] digits
    const pred = argmax(out[s.outputNames[0]!]!.data as Float32Array, 10);
    const acc = pred.reduce((a, p, i) => a + (p === data.y![i] ? 1 : 0), 0) / n;
    expect(Math.abs(acc - onnx.accuracy)).toBeLessThanOrEqual(0.002);
  });

  it('reports what LiteRT measures when run independently (within 0.2 point)', async () => {
    const tfl = report.variants.find((v) => v.kind === 'export' && v.runtime === 'litert')!;
    const data = await loadDataset(fixture('data', 'mnist-test.npz'));
    const { openLiteRt } = await import('../../src/runtime/litert.js');
    const s = await openLiteRt(readFileSync(join(dir, tfl.file!)), tfl.file!);
    let right = 0;
    const n = data.shape[0]!;
    for (let i = 0; i < n; i++) {
      const [o] = await s.run([{ data: (data.x as Float32Array).subarray(i * 784, (i + 1) * 784), shape: [1, 28, 28, 1] }]);
      if (argmax(o!.data as Float32Array, 10)[0] === data.y![i]) right++;
    }
    s.dispose();
    expect(Math.abs(right / n - tfl.accuracy)).toBeLessThanOrEqual(0.002);
  });

  it('an unmeetable gate exits 3, naming the gate, the value and the limit, with the reports written', async () => {
    const r = await cliAsync(['run', pipeline('gate', { steps: [{ quantize: { mode: 'dynamic' } }], gates: { maxSizeBytes: 1000 } })]);
    expect(r.code).toBe(3);
    const last = r.stderr.trim().split('\n').pop()!;
    expect(last).toMatch(/maxSizeBytes measured \d+ bytes, limit 1000 bytes/);
    expect(existsSync(join(dir, 'gate', 'report.html'))).toBe(true);
    expect((JSON.parse(readFileSync(join(dir, 'gate', 'report.json'), 'utf8')) as Report).passed).toBe(false);
  });

  it.each([
    [{ steps: [{ prune: { sparsity: 0.5 } }, { distill: { studentWidth: 0.5, epochs: 0 } }] }, 'steps[1].distill.epochs: expected a positive integer'],
    [{ steps: [{ quantize: { mode: 'int4' } }] }, 'steps[0].quantize.mode: expected one of dynamic, int8, float16'],
    [{ export: [{ format: 'pt', path: 'x.pt' }] }, 'export[0].format: expected one of tflite, onnx, tfjs'],
    [{ gates: { maxSizeBytes: -5 } }, 'gates.maxSizeBytes: expected a positive integer'],
    [{ colour: 'blue' }, 'colour: unknown field'],
  ])('validation names the field: %j', (over, message) => {
    const r = cli(['run', pipeline('bad', over)]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(message);
  });

  it('reads YAML pipelines too', () => {
    const file = join(dir, 'p.yaml');
    writeFileSync(file, `model: ${fixture('models', 'mlp', 'model.json')}\nsteps:\n  - quantize: { mode: float16 }\nexport:\n  - { format: onnx, path: yaml/model.onnx }\n`);
    const r = cli(['run', file, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dir, 'yaml', 'model.onnx'))).toBe(true);
  });

  it.skipIf(!CHROMIUM)('the HTML report draws its charts in headless Chromium', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    try {
      const page = await browser.newPage();
      await page.goto(`file://${join(dir, 'ok', 'report.html')}`);
      const drawn = await page.evaluate(() => {
        const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): Iterable<{ getBoundingClientRect(): { width: number; height: number } }> } }).document;
        const size = (sel: string): number[] => [...doc.querySelectorAll(sel)].map((e) => { const b = e.getBoundingClientRect(); return b.width * b.height; });
        return { points: size('#size-accuracy circle.point:not(.gzip)'), gzip: size('#size-accuracy circle.gzip'), latency: size('#latency rect.bar'), bars: size('#layer-error rect.bar') };
      });
      expect(drawn.points.length).toBe(report.variants.length);
      expect(drawn.points.every((a) => a > 0)).toBe(true);
      expect(drawn.gzip.length).toBe(report.variants.length); // a ring at each gzip size
      expect(drawn.latency.length).toBe(report.variants.length);
      const layers = report.variants.find((v) => v.perLayer?.length)!.perLayer!.length;
      expect(drawn.bars.length).toBe(layers);
      expect(drawn.bars.every((a) => a > 0)).toBe(true);
    } finally {
      await browser.close();
    }
  });
});

describe('command-line experience', () => {
  it('edgelm demo runs the whole pipeline in under a minute', async () => {
    const start = Date.now();
    const r = await cliAsync(['demo', '-o', join(dir, 'demo'), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect((Date.now() - start) / 1000).toBeLessThan(60);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.variants.map((v) => v.kind)).toContain('export');
    for (const f of ['student-int8.tflite', 'student-int8.onnx', 'report.html', 'report.md', 'report.json']) expect(existsSync(join(dir, 'demo', f)), f).toBe(true);
  });

  it('quantize --max-accuracy-drop keeps the most sensitive layers in float until the bound holds', async () => {
    const r = await cliAsync(['quantize', fixture('models', 'mlp'), '-o', join(dir, 'fit.tflite'), '--bits', '3', '--data', fixture('data', 'mnist-test.npz'), '--max-accuracy-drop', '0.005', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const q = JSON.parse(r.stdout) as { keptFloat: { node: string }[]; eval: { accuracyDrop: number } };
    expect(q.keptFloat.length).toBeGreaterThan(0);
    expect(q.eval.accuracyDrop).toBeLessThanOrEqual(0.005);
  });

  it('doctor reports the runtimes that work here', () => {
    const r = cli(['doctor', '--json']);
    expect(r.code).toBe(0);
    const checks = (JSON.parse(r.stdout) as { checks: { name: string; ok: boolean }[] }).checks;
    for (const name of ['TF.js wasm (default)', 'LiteRT (.tflite)', 'onnxruntime-node (.onnx, native)', 'onnxruntime-web (.onnx, wasm)', '.onnx files run in']) expect(checks.find((c) => c.name === name)?.ok, name).toBe(true);
  });

  it('--version answers without loading TF.js', () => {
    const start = Date.now();
    const r = cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Date.now() - start).toBeLessThan(5000);
  });
});
