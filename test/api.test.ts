// The library API as the README shows it: the same functions the CLI calls, from the built package.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, ROOT, tempDir } from './helpers.js';

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
