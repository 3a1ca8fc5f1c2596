// TF.js convolves with strides or dilations but not both; the executor runs such a convolution at
// stride 1 and samples it (nn.ts stridedDilated). Plain, grouped and depthwise convolutions with
// explicit pads against onnxruntime on the same file, in every stage.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { expect, it } from 'vitest';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import type { Case } from '../conformance/cases.js';
import { runStages } from '../conformance/stages.js';
import { tempDir } from '../helpers.js';

const { onnx } = onnxProto;
const ints = (name: string, v: number[]) => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
const int = (name: string, i: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const vi = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
const wave = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed));

it.each([
  { group: 1, cin: 2, cout: 3 },
  { group: 2, cin: 4, cout: 2 },
  { group: 3, cin: 3, cout: 6 },
])('Conv strides [2, 3], dilations [2, 2], pads [1, 0, 2, 1], group $group matches onnxruntime', async ({ group, cin, cout }) => {
  const xDims = [1, cin, 9, 11];
  const wDims = [cout, cin / group, 3, 2];
  const bytes = onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'g',
      input: [vi('x', xDims)],
      initializer: [
        { name: 'w', dims: wDims, dataType: 1, floatData: wave(wDims.reduce((a, b) => a * b, 1), 1) },
        { name: 'b', dims: [cout], dataType: 1, floatData: wave(cout, 2) },
      ],
      output: [vi('y', [1, cout, 4, 4])],
      node: [{ name: 'conv', opType: 'Conv', input: ['x', 'w', 'b'], output: ['y'], attribute: [ints('strides', [2, 3]), ints('dilations', [2, 2]), ints('pads', [1, 0, 2, 1]), int('group', group)] }],
    },
  }).finish();
  const x = Float32Array.from(wave(xDims.reduce((a, b) => a * b, 1), 3));
  const s = await ort.InferenceSession.create(bytes);
  const y = (await s.run({ x: new ort.Tensor('float32', x, xDims) })).y!;
  await s.release();
  const file = join(tempDir(), 'conv.onnx');
  writeFileSync(file, bytes);
  const c: Case = { id: 'conv', model: file, bytes, inputs: [{ name: 'x', type: 'float32', dims: xDims, data: x }], outputs: [{ name: 'y', type: 'float32', dims: [...y.dims], data: y.data as Float32Array }] };
  const r = await runStages(await loadTf('wasm'), c);
  for (const [stage, res] of Object.entries(r)) expect(`${stage}: ${res.outcome} ${res.detail ?? ''}`).toBe(`${stage}: pass `);
});
