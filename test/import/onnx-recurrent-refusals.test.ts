// What the recurrence, Einsum and TopK readers refuse: a valid model edgelm cannot carry faithfully
// is 'unsupported', naming the node and what is missing. Models built here with onnx-proto.
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { EdgelmError } from '../../src/errors.js';
import { onnxRefusal, tempDir } from '../helpers.js';

const { onnx } = onnxProto;

type Dims = (number | string)[];
interface Input {
  name: string;
  dims: Dims;
  elemType?: number;
}

/** One node reading graph inputs and float initializers (all ones). */
function model(opType: string, inputs: Input[], inits: { name: string; dims: number[] }[], attribute: object[], outputs = ['y'], order?: string[]): Uint8Array {
  const vi = (name: string, dims: Dims, elemType = 1) => ({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 14 }],
    graph: {
      name: 'g',
      input: inputs.map((i) => vi(i.name, i.dims, i.elemType)),
      output: outputs.map((o) => ({ name: o })),
      initializer: inits.map((t) => ({ name: t.name, dataType: 1, dims: t.dims, floatData: new Array<number>(t.dims.reduce((a, b) => a * b, 1)).fill(1) })),
      node: [{ opType, name: 'n', input: order ?? [...inputs.map((i) => i.name), ...inits.map((t) => t.name)], output: outputs, attribute }],
    },
  }).finish();
}

const dir = tempDir();
const refusal = (bytes: Uint8Array): EdgelmError => onnxRefusal(bytes, dir);

const lstmInits = [{ name: 'W', dims: [1, 8, 3] }, { name: 'R', dims: [1, 8, 2] }];
const hidden = { name: 'hidden_size', type: 2, i: 2 };

describe('recurrence, Einsum and TopK refusals', () => {
  it('an LSTM over a run-time sequence length is unsupported (edgelm unrolls a static length)', () => {
    const e = refusal(model('LSTM', [{ name: 'x', dims: ['seq', 1, 3] }], lstmInits, [hidden], ['', 'y']));
    expect(e.code).toBe('unsupported');
    expect(e.message).toMatch(/node n \(LSTM\): the sequence length is a run-time dim \(seq\)/);
  });

  it('an LSTM with input_forget=1 is unsupported, naming the attribute', () => {
    const e = refusal(model('LSTM', [{ name: 'x', dims: [2, 1, 3] }], lstmInits, [hidden, { name: 'input_forget', type: 2, i: 1 }], ['', 'y']));
    expect(e.code).toBe('unsupported');
    expect(e.message).toMatch(/node n \(LSTM\): input_forget=1/);
  });

  it('an RNN activation edgelm does not know is unsupported, naming it', () => {
    const e = refusal(model('RNN', [{ name: 'x', dims: [2, 1, 3] }], [{ name: 'W', dims: [1, 2, 3] }, { name: 'R', dims: [1, 2, 2] }], [hidden, { name: 'activations', type: 8, strings: [new TextEncoder().encode('Gelu')] }], ['', 'y']));
    expect(e.code).toBe('unsupported');
    expect(e.message).toMatch(/node n \(RNN\): activation 'Gelu' is not supported/);
  });

  it('TopK with K a run-time input is unsupported (the output shape depends on it)', () => {
    const e = refusal(model('TopK', [{ name: 'x', dims: [3, 4] }, { name: 'k', dims: [1], elemType: 7 }], [], [], ['v', 'i']));
    expect(e.code).toBe('unsupported');
    expect(e.message).toMatch(/node n \(TopK\): K \(input 1\) is a run-time value/);
  });

  it('Einsum broadcasting a size-1 dim under ... is unsupported', () => {
    const e = refusal(model('Einsum', [{ name: 'a', dims: [1, 3, 4] }, { name: 'b', dims: [5, 4, 2] }], [], [{ name: 'equation', type: 3, s: new TextEncoder().encode('...ij,...jk->...ik') }]));
    expect(e.code).toBe('unsupported');
    expect(e.message).toMatch(/node n \(Einsum\): a dim under \.\.\. of '\.\.\.ij,\.\.\.jk->\.\.\.ik' has sizes 1 and 5/);
  });
});
