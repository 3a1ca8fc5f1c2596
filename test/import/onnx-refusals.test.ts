// A valid ONNX model edgelm cannot handle is refused as 'unsupported', naming what is missing; only a
// broken model is 'input'. Models built here with onnx-proto, one defect each.
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { EdgelmError } from '../../src/errors.js';
import { onnxRefusal, tempDir } from '../helpers.js';

const { onnx } = onnxProto;

function model(opsets: { domain: string; version: number }[], node: { opType: string; domain?: string; output?: string[] }, outputs = ['y']): Uint8Array {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: opsets,
    graph: { name: 'g', input: [vi('x')], output: outputs.map(vi), node: [{ input: ['x'], output: node.output ?? outputs, opType: node.opType, domain: node.domain ?? '' }] },
  }).finish();
}

const dir = tempDir();

const refusal = (bytes: Uint8Array): EdgelmError => onnxRefusal(bytes, dir);

describe('ONNX reader refusals', () => {
  it('a model whose only opset import is another domain is refused for its op, not for "opset 0"', () => {
    const e = refusal(model([{ domain: 'ai.onnx.ml', version: 3 }], { opType: 'Binarizer', domain: 'ai.onnx.ml' }));
    expect(e.code).toBe('unsupported');
    expect(e.message).toBe(`${join(dir, 'm.onnx')}: unsupported op in the ONNX graph: ai.onnx.ml.Binarizer (node #0)`);
  });

  it('default-domain ops without an ai.onnx opset import are bad input', () => {
    const e = refusal(model([{ domain: 'ai.onnx.ml', version: 3 }], { opType: 'Relu' }));
    expect(e.code).toBe('input');
    expect(e.message).toBe(`${join(dir, 'm.onnx')}: the graph uses ONNX (ai.onnx) ops but the model imports no ai.onnx opset`);
  });

  it('an optional output edgelm does not compute (the mask of Dropout) is unsupported, naming node and output', () => {
    const e = refusal(model([{ domain: '', version: 17 }], { opType: 'Dropout', output: ['y', 'mask'] }, ['y', 'mask']));
    expect(e.code).toBe('unsupported');
    expect(e.message).toBe(`${join(dir, 'm.onnx')}: node Dropout_0 (Dropout): output 1 ('mask') is not supported`);
  });
});
