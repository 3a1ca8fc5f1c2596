// The library API as the README shows it: the same functions the CLI calls, from the built package.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, ROOT, tempDir } from './helpers.js';

type Edgelm = typeof import('../src/index.js');
type Graph = import('../src/index.js').Graph;

describe("import { … } from 'edgelm'", () => {
  it('prunes, quantizes, exports and evaluates the bundled teacher', async () => {
    const edgelm = (await import(join(ROOT, 'dist', 'index.js'))) as typeof import('../src/index.js');
    const dir = tempDir();
    const teacher = await edgelm.loadModel(fixture('models', 'mlp'));
    const train = await edgelm.loadDataset(fixture('data', 'mnist-train.npz'));
    const pruned = await edgelm.prune(teacher, { sparsity: 0.8, scope: 'global', pattern: edgelm.parsePattern('unstructured'), exclude: () => false, data: train, training: { epochs: 1, batchSize: 64, lr: 5e-4, optimizer: 'adam', seed: 1 } });
    expect(pruned.sparsity).toBeCloseTo(0.8, 6);
    const { graph, plan } = await edgelm.quantize(pruned.graph, { mode: 'int8', calibration: train, calibrationLimit: 300 });
    const out = join(dir, 'model.tflite');
    const written = await edgelm.exportModel(graph, 'tflite', out, [], { quant: plan });
    expect(written.files).toEqual([out]);
    const result = await edgelm.evaluate(out, await edgelm.loadDataset(fixture('data', 'mnist-test.npz')));
    expect(result.runtime).toBe('litert');
    expect(result.accuracy).toBeGreaterThan(0.93);
    expect(typeof edgelm.version).toBe('string');
  });
});

describe('the library fills in the CLI defaults and refuses bad options with EdgelmError', () => {
  const load = async () => {
    const edgelm = (await import(join(ROOT, 'dist', 'index.js'))) as Edgelm;
    return { edgelm, teacher: await edgelm.loadModel(fixture('models', 'mlp')) };
  };

  it('prune(graph, { sparsity: 0.5 }): each layer half zeros (per layer, unstructured, no fine-tuning)', async () => {
    const { edgelm, teacher } = await load();
    const r = await edgelm.prune(teacher, { sparsity: 0.5 });
    expect(r.history).toEqual([]);
    expect(r.layers.map((l) => l.layer)).toEqual(['fc1/dense', 'fc2/dense', 'logits']);
    for (const l of r.layers) {
      // Counted from the returned graph's weights, not from the report.
      const zeros = (r.graph.constants.get(l.weight)!.data as Float32Array).filter((v) => v === 0).length;
      expect(zeros).toBe(Math.round(0.5 * l.params));
    }
  });

  it('distill(graph, { studentWidth: 0.5, data, training: { epochs: 1 } }) trains a working student', async () => {
    const { edgelm, teacher } = await load();
    const data = await edgelm.loadDataset(fixture('data', 'mnist-train.npz'));
    const r = await edgelm.distill(teacher, { studentWidth: 0.5, data, training: { epochs: 1 } });
    expect(r.history).toHaveLength(1);
    expect(r.alpha).toBe(0.5);
    const out = join(tempDir(), 'student.onnx');
    await edgelm.exportModel(r.student, 'onnx', out);
    const result = await edgelm.evaluate(out, await edgelm.loadDataset(fixture('data', 'mnist-test.npz')));
    expect(result.runtime).toBe('onnxruntime');
    expect(result.accuracy).toBeGreaterThan(0.8);
  }, 120_000);

  it("exportModel(graph, 'tflite', path): a float TFLite with the source's accuracy in LiteRT", async () => {
    const { edgelm, teacher } = await load();
    const out = join(tempDir(), 'model.tflite');
    const written = await edgelm.exportModel(teacher, 'tflite', out);
    expect(written.files).toEqual([out]);
    const test = await edgelm.loadDataset(fixture('data', 'mnist-test.npz'));
    const [source, artifact] = [await edgelm.evaluate(fixture('models', 'mlp'), test), await edgelm.evaluate(out, test)];
    expect(artifact.runtime).toBe('litert');
    expect(artifact.accuracy).toBe(source.accuracy);
  }, 60_000);

  const refusals: [string, (e: Edgelm, g: Graph) => Promise<unknown>, string][] = [
    ['prune: sparsity out of range', (e: Edgelm, g: Graph) => e.prune(g, { sparsity: 1.5 }), '--sparsity'],
    ['prune: missing sparsity', (e: Edgelm, g: Graph) => e.prune(g, {} as never), '--sparsity'],
    ['prune: unknown backend', (e: Edgelm, g: Graph) => e.prune(g, { sparsity: 0.5, backend: 'gpu' as never }), 'wasm, cpu, node, auto'],
    ['prune: exclude matching nothing', (e: Edgelm, g: Graph) => e.prune(g, { sparsity: 0.5, exclude: ['conv'] }), "'conv'"],
    ['distill: zero epochs', async (e: Edgelm, g: Graph) => e.distill(g, { studentWidth: 0.5, data: await e.loadDataset(fixture('data', 'mnist-test.npz')), training: { epochs: 0 } }), '--epochs'],
    ['distill: no student', async (e: Edgelm, g: Graph) => e.distill(g, { data: await e.loadDataset(fixture('data', 'mnist-test.npz')) }), 'student'],
    ['quantize: float16 with 4 bits', (e: Edgelm, g: Graph) => e.quantize(g, { mode: 'float16', bits: 4 }), '--bits 4'],
    ['quantize: int8 without calibration', (e: Edgelm, g: Graph) => e.quantize(g, { mode: 'int8' }), '--calibration'],
    ['exportModel: unknown format', (e: Edgelm, g: Graph) => e.exportModel(g, 'pdf' as never, join(tempDir(), 'x.pdf')), "'pdf'"],
    ['exportModel: batch size for ONNX', (e: Edgelm, g: Graph) => e.exportModel(g, 'onnx', join(tempDir(), 'x.onnx'), [], { batchSize: 4 }), '--batch 4'],
  ];
  it.each(refusals)('%s', async (_, call, part) => {
    const { edgelm, teacher } = await load();
    const error = await Promise.resolve().then(() => call(edgelm, teacher)).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(edgelm.EdgelmError);
    expect((error as InstanceType<typeof edgelm.EdgelmError>).code).toBe('usage');
    expect((error as Error).message).toContain(part);
  });
});
