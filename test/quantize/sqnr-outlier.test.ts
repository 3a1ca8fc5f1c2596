// Per-layer SQNR outliers (issue 16): a layer whose quantized error is far above the others' is flagged in
// the per-layer report, and --max-accuracy-drop keeps the flagged layers in float first. The bad layer is
// made on purpose: LeNet-300-100's fc1 gets a weight of 1000 on pixel 0, which is 0 in every MNIST digit,
// so the float model is unchanged while per-tensor int8 weights get a scale of 1000/127 and round the
// layer's real weights to zero. Accuracies are measured in LiteRT on the written file.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, type Dataset } from '../../src/data/index.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { fitAccuracy, quantizeModel } from '../../src/quantize/index.js';
import { layerErrors, OUTLIER_DB, sqnrOutliers, type LayerError } from '../../src/quantize/layer-error.js';
import { evaluate } from '../../src/report/eval.js';
import { provenance } from '../../src/report/provenance.js';
import { renderHtml, renderMarkdown } from '../../src/report/render.js';
import type { PipelineReport } from '../../src/pipeline/index.js';
import { fixture, tempDir } from '../helpers.js';

const { onnx } = onnxProto;

it(`sqnrOutliers flags layers more than ${OUTLIER_DB} dB below the median of the finite SQNRs, and needs three layers`, () => {
  const rows = (db: number[]) => db.map((sqnrDb, i) => ({ node: `l${i}`, sqnrDb }));
  // Finite values 10, 30, 31, 32: median 30.5, so the bound is 15.5 dB.
  expect(sqnrOutliers(rows([30, 32, 10, 31, Infinity]))).toEqual({ medianDb: 30.5, nodes: new Set(['l2']) });
  expect([...sqnrOutliers(rows([30, 15, 31])).nodes]).toEqual([]); // exactly at the bound is not below it
  expect([...sqnrOutliers(rows([30, 14.9, 31])).nodes]).toEqual(['l1']);
  expect([...sqnrOutliers(rows([40, 5])).nodes]).toEqual([]);
});

function subset(d: Dataset, n: number): Dataset {
  const per = d.x.length / d.shape[0]!;
  return { x: d.x.slice(0, n * per), shape: [n, ...d.shape.slice(1)], y: d.y!.slice(0, n), source: d.source };
}

describe('a LeNet whose fc1 quantizes badly per tensor', () => {
  const dir = tempDir();
  const bad = join(dir, 'lenet-outlier.onnx');
  let data: Dataset;
  let calibration: Dataset;
  beforeAll(async () => {
    const m = onnx.ModelProto.decode(readFileSync(fixture('models', 'lenet-300-100.onnx')));
    const w = m.graph!.initializer!.find((t) => t.name === 'fc1.weight')!;
    const f = new Float32Array(Uint8Array.from(w.rawData!).buffer);
    f[0] = 1000; // fc1.weight[0][0]: unit 0's weight on pixel 0
    w.rawData = new Uint8Array(f.buffer);
    writeFileSync(bad, onnx.ModelProto.encode(m).finish());
    const test = await loadDataset(fixture('data', 'mnist-test.npz'));
    data = subset(test, 300);
    calibration = subset(await loadDataset(fixture('data', 'mnist-train.npz')), 200);
  }, 60_000);

  const errors = async (file: string): Promise<{ rows: LayerError[]; q: Awaited<ReturnType<typeof quantizeModel>> }> => {
    const q = await quantizeModel(readOnnxModel(file), { mode: 'int8', granularity: 'tensor', calibration });
    return { rows: await layerErrors(q.graph, q.plan, 'tflite', calibration), q };
  };

  it('the per-layer report flags fc1 alone; the unmodified model has no outlier', async () => {
    const { rows } = await errors(bad);
    const byNode = new Map(rows.map((r) => [r.node, r]));
    const fc1 = rows.find((r) => r.outlier);
    expect(rows.filter((r) => r.outlier)).toHaveLength(1);
    expect(fc1!.op).toBe('dense');
    expect(fc1!.params).toBe(300 * 784);
    const others = rows.filter((r) => r !== fc1).map((r) => r.sqnrDb);
    expect(fc1!.sqnrDb).toBeLessThan(Math.min(...others) - OUTLIER_DB);
    expect(byNode.size).toBe(3);
    const clean = (await errors(fixture('models', 'lenet-300-100.onnx'))).rows;
    expect(clean.filter((r) => r.outlier)).toEqual([]);
    // The Markdown table marks it and the HTML chart draws it in red, with why in its tooltip.
    const report: PipelineReport = {
      schema: 'edgelm.report/1', edgelm: '0.1.0', made: provenance('edgelm run p.json'), pipeline: 'p.json', model: 'm.onnx', samples: 200, gates: [], passed: true, warnings: [],
      variants: [{ name: 'export tflite', kind: 'export', format: 'tflite', runtime: 'litert', bytes: 1, gzipBytes: 1, params: 1, sparsity: 0, latencyMs: 1, perLayer: rows }],
    };
    const md = renderMarkdown(report).split('\n');
    expect(md.filter((l) => l.includes('outlier'))).toEqual([expect.stringContaining(`| ${fc1!.node} ⚠️ outlier |`)]);
    expect(renderHtml(report).match(/#cf222e"[^>]*>\s*<title>[^<]*/g)?.map((t) => t.replace(/.*<title>/s, ''))).toEqual([expect.stringMatching(new RegExp(`^${fc1!.node.replace(/[/]/g, '\\/')} .*an outlier`))]);
  }, 120_000);

  it('--max-accuracy-drop keeps the outlier in float first and then meets the bound', async () => {
    const source = await evaluate(bad, data);
    const { rows, q } = await errors(bad);
    const fit = await fitAccuracy(q.graph, q.plan, 'tflite', data, source, 0.01, { calibration });
    if (process.env.EDGELM_TEST_FIGURES) console.log(JSON.stringify({ rows, kept: fit.kept, source: source.accuracy, result: fit.result.accuracy }));
    const outlier = rows.find((r) => r.outlier)!;
    expect(fit.kept[0]).toMatchObject({ node: outlier.node, outlier: true });
    // Before: the layer's weights round to zero and the digits are lost.
    expect(fit.kept[0]!.dropBefore).toBeGreaterThan(0.2);
    expect(source.accuracy! - fit.result.accuracy!).toBeLessThanOrEqual(0.01);
  }, 180_000);
});
