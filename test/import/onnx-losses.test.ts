// ops-loss.ts on what the ONNX backend suite leaves out: a rank-6 loss with an ignore_index inside
// [0, C), LayerNormalization declaring only InvStdDev. Expected outputs are onnxruntime's on the same
// file; every stage (import + TF.js, ONNX writer, TFLite writer on LiteRT) must match them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import type { Case, CaseTensor } from '../conformance/cases.js';
import { runStages } from '../conformance/stages.js';
import { tempDir } from '../helpers.js';

const { onnx } = onnxProto;
const FLOAT = 1;
const INT64 = 7;

interface Value { name: string; elemType: number; dims: number[] }
const vi = (v: Value) => ({ name: v.name, type: { tensorType: { elemType: v.elemType, shape: { dim: v.dims.map((d) => ({ dimValue: d })) } } } });

function model(opType: string, inputs: Value[], outputs: (Value | '')[], attribute: object[]): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      input: inputs.map(vi),
      output: outputs.filter((o): o is Value => o !== '').map(vi),
      node: [{ name: 'n', opType, input: inputs.map((i) => i.name), output: outputs.map((o) => (o === '' ? '' : o.name)), attribute }],
    },
  }).finish();
}

/** Deterministic values in [-2, 2) (floats) or [0, n) (ints). */
function fill(v: Value, n?: number): CaseTensor {
  const size = v.dims.reduce((a, b) => a * b, 1);
  const at = (i: number): number => ((i * 7919) % 1009) / 1009;
  if (v.elemType === INT64) return { name: v.name, type: 'int64', dims: v.dims, data: BigInt64Array.from({ length: size }, (_, i) => BigInt(Math.floor(at(i) * n!))) };
  return { name: v.name, type: 'float32', dims: v.dims, data: Float32Array.from({ length: size }, (_, i) => at(i) * 4 - 2) };
}

async function caseWithOrt(id: string, bytes: Uint8Array, inputs: CaseTensor[]): Promise<Case> {
  const s = await ort.InferenceSession.create(bytes);
  const feeds = Object.fromEntries(inputs.map((t) => [t.name, new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims)]));
  const out = await s.run(feeds);
  const outputs = s.outputNames.map((name) => ({ name, type: out[name]!.type, dims: [...out[name]!.dims], data: out[name]!.data as Float32Array }));
  // The reader also looks beside the file (external data): it must exist.
  const file = join(tempDir(), `${id}.onnx`);
  writeFileSync(file, bytes);
  return { id, model: file, bytes, inputs, outputs };
}

const intAttr = (name: string, i: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const strAttr = (name: string, s: string) => ({ name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(s) });

describe('ONNX losses and LayerNormalization statistics match onnxruntime in every stage', () => {
  it.each(['none', 'sum', 'mean'])('NegativeLogLikelihoodLoss on rank 6 with weights, ignore_index 1 (a real class), reduction %s', async (reduction) => {
    const x: Value = { name: 'x', elemType: FLOAT, dims: [2, 3, 2, 3, 2, 2] };
    const t: Value = { name: 't', elemType: INT64, dims: [2, 2, 3, 2, 2] };
    const w: Value = { name: 'w', elemType: FLOAT, dims: [3] };
    const y: Value = { name: 'y', elemType: FLOAT, dims: reduction === 'none' ? t.dims : [] };
    const bytes = model('NegativeLogLikelihoodLoss', [x, t, w], [y], [strAttr('reduction', reduction), intAttr('ignore_index', 1)]);
    const c = await caseWithOrt(`nll_${reduction}`, bytes, [fill(x), fill(t, 3), fill(w)]);
    const r = await runStages(await loadTf('wasm'), c);
    expect(Object.values(r).map((s) => `${s.outcome} ${s.outcome === "pass" ? "" : s.detail}`.trim())).toEqual(['pass', 'pass', 'pass', 'pass']);
  });

  it('SoftmaxCrossEntropyLoss on N×C with both outputs, no weights', async () => {
    const x: Value = { name: 'x', elemType: FLOAT, dims: [4, 5] };
    const t: Value = { name: 't', elemType: INT64, dims: [4] };
    const bytes = model('SoftmaxCrossEntropyLoss', [x, t], [{ name: 'loss', elemType: FLOAT, dims: [] }, { name: 'logp', elemType: FLOAT, dims: [4, 5] }], [strAttr('reduction', 'mean')]);
    const c = await caseWithOrt('sce', bytes, [fill(x), fill(t, 5)]);
    const r = await runStages(await loadTf('wasm'), c);
    expect(Object.values(r).map((s) => `${s.outcome} ${s.outcome === "pass" ? "" : s.detail}`.trim())).toEqual(['pass', 'pass', 'pass', 'pass']);
  });

  it('LayerNormalization declaring Y and InvStdDev but not Mean', async () => {
    const x: Value = { name: 'x', elemType: FLOAT, dims: [2, 3, 4] };
    const g: Value = { name: 'g', elemType: FLOAT, dims: [3, 4] };
    const bytes = model('LayerNormalization', [x, g], [{ name: 'y', elemType: FLOAT, dims: [2, 3, 4] }, '', { name: 'inv', elemType: FLOAT, dims: [2, 1, 1] }], [intAttr('axis', 1)]);
    const c = await caseWithOrt('ln', bytes, [fill(x), fill(g)]);
    const r = await runStages(await loadTf('wasm'), c);
    expect(Object.values(r).map((s) => `${s.outcome} ${s.outcome === "pass" ? "" : s.detail}`.trim())).toEqual(['pass', 'pass', 'pass', 'pass']);
  });
});
