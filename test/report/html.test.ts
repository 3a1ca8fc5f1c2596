// The HTML report's charts opened in headless Chromium: every label of every chart is measured in the
// page (getBoundingClientRect of the SVG text elements) and must neither overlap another label nor
// leave its chart, for reports shaped like real ones and for the awkward cases (coincident points,
// long names, sizes from bytes to gigabytes, a single variant). Skipped where Chromium is absent
// (`.ci/run` installs Debian's chromium).
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineReport, Variant } from '../../src/pipeline/index.js';
import { provenance } from '../../src/report/provenance.js';
import { renderHtml } from '../../src/report/render.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
// Flags that keep Chromium off the network it cannot reach here and in CI.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const KiB = 1024;
const MiB = 1024 ** 2;

function variant(name: string, kind: Variant['kind'], runtime: string, bytes: number, gzipBytes: number, accuracy: number | undefined, latencyMs: number, floatLatencyMs?: number): Variant {
  return {
    name, kind, format: runtime === 'litert' ? 'tflite' : runtime === 'tfjs' ? 'tfjs' : 'onnx', runtime, bytes, gzipBytes, params: 266_610, sparsity: 0,
    ...(accuracy !== undefined ? { accuracy, agreement: accuracy } : {}), latencyMs, ...(floatLatencyMs !== undefined ? { floatLatencyMs } : {}),
  };
}

function report(variants: Variant[], perLayer?: Variant['perLayer']): PipelineReport {
  if (perLayer) variants.filter((v) => v.kind === 'export').forEach((v) => (v.perLayer = perLayer));
  return {
    schema: 'edgelm.report/1', edgelm: '0.1.0', made: provenance('edgelm run ci/pipeline.json'), pipeline: 'ci/pipeline.json', model: '../models/mlp/model.json',
    evalData: '../data/mnist-test.npz', samples: 1000, variants, gates: [], passed: true, warnings: [],
  };
}

const CASES: Record<string, PipelineReport> = {
  // The demo's shape: pruning leaves the raw size and halves the gzip size; the exports are a quarter of it.
  demo: report([
    variant('original', 'original', 'tfjs', 1.02 * MiB, 961.5 * KiB, 0.955, 0.65),
    variant('step 1: prune unstructured global 0.5', 'step', 'onnxruntime', 1.02 * MiB, 520 * KiB, 0.953, 0.12),
    variant('step 2: distill width 0.5', 'step', 'onnxruntime', 520 * KiB, 480 * KiB, 0.951, 0.07),
    variant('export tflite', 'export', 'litert', 135 * KiB, 110 * KiB, 0.95, 0.09, 0.11),
    variant('export onnx', 'export', 'onnxruntime', 137 * KiB, 112 * KiB, 0.95, 0.21, 0.07),
  ], [
    { node: 'dense_Dense1', op: 'dense', params: 117_600, cosine: 0.999994, sqnrDb: 49.3 },
    { node: 'dense_Dense2', op: 'dense', params: 15_000, cosine: 0.999996, sqnrDb: 50.9 },
    { node: 'dense_Dense3', op: 'dense', params: 500, cosine: 0.99998, sqnrDb: 44.0 },
  ]),
  // Twelve variants on one spot with names longer than a chart is wide.
  coincident: report(Array.from({ length: 12 }, (_, i) => variant(`step ${i + 1}: ${'distill width 0.5 with a very long descriptive name '.repeat(2)}`, 'step', 'onnxruntime', 400 * KiB, 400 * KiB, 0.97, 0.1))),
  single: report([variant('original', 'original', 'onnxruntime', 50 * KiB, 48 * KiB, 1, 0.01)]),
  // Sizes from a kilobyte to gigabytes, latencies across five decades, an exact layer and long layer names.
  extremes: report([
    variant('original', 'original', 'onnxruntime', 2.5 * 1024 ** 3, 2.3 * 1024 ** 3, 0.5363, 2400),
    variant('export onnx', 'export', 'onnxruntime', 1100, 900, 0.02, 0.012, 0.01),
    variant('export tflite', 'export', 'litert', 640 * MiB, 600 * MiB, 0.5367, 180, 900),
  ], [
    { node: '/transformer/blocks.0/attention/query/MatMul_output_0', op: 'matMul', params: 16_384, cosine: 0.99, sqnrDb: 18.2 },
    { node: 'x', op: 'dense', params: 10, cosine: 1, sqnrDb: Infinity },
  ]),
  // Text data without labels: no accuracy, so no size/accuracy chart; the latency chart stays.
  unlabelled: report([variant('original', 'original', 'tfjs', 1.6 * MiB, 1.5 * MiB, undefined, 3.2), variant('export onnx', 'export', 'onnxruntime', 333 * KiB, 300 * KiB, undefined, 1.1, 1.4)]),
};

interface Box { text: string; left: number; top: number; right: number; bottom: number }
interface Measured { id: string; svg: Box; labels: Box[]; points: number; gzipPoints: number; bars: number; grid: number }

describe.skipIf(!CHROMIUM)('HTML report charts in headless Chromium', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgelm-html-'));
  const shots = process.env.EDGELM_SCREENSHOTS ?? dir;
  let browser: import('playwright-core').Browser;
  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    // Playwright starts Chromium with a new, empty profile (its own --user-data-dir) each launch.
    browser = await chromium.launch({ executablePath: CHROMIUM!, args: FLAGS });
  });
  afterAll(async () => browser?.close());

  async function measure(name: string, r: PipelineReport): Promise<Measured[]> {
    const file = join(dir, `${name}.html`);
    writeFileSync(file, renderHtml(r));
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    try {
      await page.goto(`file://${file}`);
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, `report-${name}.png`), fullPage: true });
      // The callback runs in the page; its DOM types are spelled out because the tests compile without lib.dom.
      return await page.evaluate(() => {
        type El = { id: string; textContent: string | null; getBoundingClientRect(): { left: number; top: number; right: number; bottom: number }; querySelectorAll(s: string): ArrayLike<El> };
        const doc = (globalThis as unknown as { document: El }).document;
        const box = (e: El): Box => { const b = e.getBoundingClientRect(); return { text: e.textContent ?? '', left: b.left, top: b.top, right: b.right, bottom: b.bottom }; };
        return Array.from(doc.querySelectorAll('svg')).map((s) => ({
          id: s.id, svg: box(s), labels: Array.from(s.querySelectorAll('text')).map(box),
          points: s.querySelectorAll('circle.point:not(.gzip)').length, gzipPoints: s.querySelectorAll('circle.gzip').length,
          bars: s.querySelectorAll('rect.bar').length, grid: s.querySelectorAll('line.grid').length,
        }));
      });
    } finally {
      await page.close();
    }
  }

  const overlap = (a: Box, b: Box): number => Math.max(0, Math.min(a.right, b.right) - Math.max(a.left, b.left)) * Math.max(0, Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top));

  it.each(Object.keys(CASES))('%s: no label overlaps another or leaves its chart', async (name) => {
    const r = CASES[name]!;
    const charts = await measure(name, r);
    const labelled = r.variants.filter((v) => v.accuracy !== undefined);
    expect(charts.map((c) => c.id)).toEqual([...(labelled.length ? ['size-accuracy'] : []), 'latency', ...(r.variants.some((v) => v.perLayer) ? ['layer-error'] : [])]);
    for (const c of charts) {
      expect(c.labels.length, c.id).toBeGreaterThan(0);
      for (const l of c.labels) {
        const where = `${c.id}: '${l.text}' [${l.left.toFixed(1)}, ${l.right.toFixed(1)}] × [${l.top.toFixed(1)}, ${l.bottom.toFixed(1)}] in [${c.svg.left}, ${c.svg.right}] × [${c.svg.top}, ${c.svg.bottom}]`;
        expect(l.right - l.left, where).toBeGreaterThan(0);
        expect(l.left >= c.svg.left - 0.5 && l.right <= c.svg.right + 0.5 && l.top >= c.svg.top - 0.5 && l.bottom <= c.svg.bottom + 0.5, `outside its chart: ${where}`).toBe(true);
      }
      for (let i = 0; i < c.labels.length; i++)
        for (let j = i + 1; j < c.labels.length; j++) {
          const [a, b] = [c.labels[i]!, c.labels[j]!];
          expect(overlap(a, b), `${c.id}: '${a.text}' overlaps '${b.text}'`).toBeLessThan(1);
        }
    }
    const size = charts.find((c) => c.id === 'size-accuracy');
    if (size) {
      expect(size.points).toBe(labelled.length); // one raw-size dot and one gzip ring per variant
      expect(size.gzipPoints).toBe(labelled.length);
      expect(size.grid).toBeGreaterThanOrEqual(4); // at least two gridlines on each axis
      // Each axis has at least two tick labels besides the titles and the legend.
      expect(size.labels.filter((l) => /^\d+(\.\d+)? (B|KiB|MiB|GiB)$/.test(l.text)).length).toBeGreaterThanOrEqual(2);
      expect(size.labels.filter((l) => /^\d+(\.\d)?%$/.test(l.text)).length).toBeGreaterThanOrEqual(2);
    }
    const latency = charts.find((c) => c.id === 'latency')!;
    expect(latency.bars).toBe(r.variants.length);
    expect(latency.grid).toBeGreaterThanOrEqual(2);
  });
});
