// Values of rank 7 give wrong numbers in some TF.js and LiteRT kernels without an error, so the TF.js
// executor and writers refuse them, naming the value; ONNX export keeps them (onnxruntime takes any rank).
// The model is built here with onnx-proto; onnxruntime on the source is the reference.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { EdgelmError } from '../../src/errors.js';
import { exportOnnx } from '../../src/export/onnx/index.js';
import { exportTfjs } from '../../src/export/tfjs/index.js';
import { exportTflite } from '../../src/export/tflite/index.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import type { Graph } from '../../src/ir/graph.js';
import type { Tf } from '../../src/ir/op.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { tempDir } from '../helpers.js';

const { onnx } = onnxProto;
const SHAPE = [2, 3, 1, 2, 1, 2];

/** y = Squeeze(Unsqueeze(x, 3) * 2, 3): x and y have rank 6, the value 't' in between rank 7. */
function rank7Model(): Uint8Array {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: SHAPE.map((d) => ({ dimValue: d })) } } } });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'rank7',
      input: [vi('x')],
      output: [vi('y')],
      initializer: [
        { name: 'axes', dataType: 7, dims: [1], int64Data: [3] },
        { name: 'two', dataType: 1, dims: [], floatData: [2] },
      ],
      node: [
        { opType: 'Unsqueeze', name: 'up', input: ['x', 'axes'], output: ['t'] },
        { opType: 'Mul', name: 'double', input: ['t', 'two'], output: ['u'] },
        { opType: 'Squeeze', name: 'down', input: ['u', 'axes'], output: ['y'] },
      ],
    },
  }).finish();
}

function refusal(f: () => unknown): EdgelmError {
  try {
    f();
  } catch (e) {
    if (e instanceof EdgelmError) return e;
    throw e;
  }
  throw new Error('accepted');
}

describe('rank limit', () => {
  const dir = tempDir();
  const file = join(dir, 'rank7.onnx');
  const bytes = rank7Model();
  const x = Float32Array.from({ length: 24 }, (_, i) => i - 7.5);
  let graph: Graph;
  let tf: Tf;
  beforeAll(async () => {
    writeFileSync(file, bytes);
    graph = readOnnxModel(file, bytes);
    tf = await loadTf();
  });

  it('the TF.js executor refuses the rank-7 value, naming it and its node', () => {
    const e = refusal(() => new GraphExecutor(tf, graph));
    expect(e.code).toBe('unsupported');
    expect(e.message).toMatch(/node .*\(.*\): value 't' has rank 7; the TF\.js executor handles rank 6 at most/);
  });

  it('the TFLite and TF.js writers refuse it', () => {
    for (const [f, where] of [
      [() => exportTflite(graph, file), 'the TFLite writer'],
      [() => exportTfjs(graph, file), 'the TF.js writer'],
    ] as const) {
      const e = refusal(f);
      expect(e.code).toBe('unsupported');
      expect(e.message).toContain(`value 't' has rank 7; ${where} handles rank 6 at most`);
    }
  });

  it('the ONNX export keeps it and computes what onnxruntime computes on the source', async () => {
    const run = async (m: Uint8Array): Promise<Float32Array> => {
      const s = await ort.InferenceSession.create(m, { logSeverityLevel: 3 });
      try {
        const out = await s.run({ x: new ort.Tensor('float32', x, SHAPE) });
        return out[s.outputNames[0]!]!.data as Float32Array;
      } finally {
        await s.release();
      }
    };
    const want = await run(bytes);
    expect([...want]).toEqual([...x].map((v) => v * 2));
    expect([...(await run(exportOnnx(graph, file).model))]).toEqual([...want]);
  });
});
