// ONNX opsets 1–6 (legacy.ts): models built here in their old forms, which onnxruntime no longer runs
// (it has no Add-6 or PRelu-6 kernel), so expected outputs come from the operators' formulas; every
// stage (import + TF.js, the ONNX writer in onnxruntime, the TFLite writer in LiteRT) must match them.
// Then the backend suite's opset-6 cases onnxruntime cannot run, against the suite's own outputs.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { EdgelmError } from '../../src/errors.js';
import { readOnnxModel } from '../../src/import/onnx/index.js';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { loadCase, suiteInstalled, type Case, type CaseTensor } from '../conformance/cases.js';
import { runStages } from '../conformance/stages.js';
import { tempDir } from '../helpers.js';

const { onnx } = onnxProto;
const T = onnx.AttributeProto.AttributeType;
const int = (name: string, i: number) => ({ name, type: T.INT, i });
const ints = (name: string, v: number[]) => ({ name, type: T.INTS, ints: v });
const float = (name: string, f: number) => ({ name, type: T.FLOAT, f });
const floats = (name: string, v: number[]) => ({ name, type: T.FLOATS, floats: v });
const str = (name: string, s: string) => ({ name, type: T.STRING, s: new TextEncoder().encode(s) });

interface Value { name: string; dims: number[]; elemType?: number; init?: number[] }
const vi = (v: Value) => ({ name: v.name, type: { tensorType: { elemType: v.elemType ?? 1, shape: { dim: v.dims.map((d) => ({ dimValue: d })) } } } });

/** One node of an old opset; inputs with `init` are initializers (also listed as inputs, as IR 3 did). */
function model(opset: number, opType: string, inputs: Value[], out: Value, attribute: object[] = []): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: 3,
    opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: 'g',
      input: inputs.map(vi),
      initializer: inputs.filter((v) => v.init).map((v) => ({ name: v.name, dims: v.dims, dataType: v.elemType ?? 1, floatData: v.elemType ? undefined : v.init, int64Data: v.elemType === 7 ? v.init : undefined })),
      output: [vi(out)],
      node: [{ name: 'n', opType, input: inputs.map((i) => i.name), output: [out.name], attribute }],
    },
  }).finish();
}

const size = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);
const data = (dims: number[], seed: number): Float32Array => Float32Array.from({ length: size(dims) }, (_, i) => Math.sin(i * 1.7 + seed) * 2);
/** Row-major index → coordinates. */
const coords = (i: number, dims: number[]): number[] => dims.map((_, k) => Math.floor(i / size(dims.slice(k + 1))) % dims[k]!);

function makeCase(id: string, bytes: Uint8Array, inputs: { name: string; dims: number[]; data: Float32Array }[], out: { dims: number[]; data: Float32Array }): Case {
  const file = join(tempDir(), `${id}.onnx`);
  writeFileSync(file, bytes);
  const t = (name: string, dims: number[], d: Float32Array): CaseTensor => ({ name, type: 'float32', dims, data: d });
  return { id, model: file, bytes, inputs: inputs.map((x) => t(x.name, x.dims, x.data)), outputs: [t('y', out.dims, out.data)] };
}

async function expectAllStagesPass(c: Case): Promise<void> {
  const r = await runStages(await loadTf('wasm'), c);
  for (const [stage, res] of Object.entries(r)) if (res.outcome !== 'na') expect(`${stage}: ${res.outcome} ${res.detail ?? ''}`).toBe(`${stage}: pass `);
}

const refusal = (bytes: Uint8Array): string => {
  const file = join(tempDir(), 'refused.onnx');
  writeFileSync(file, bytes);
  try {
    readOnnxModel(file, bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(EdgelmError);
    expect((e as EdgelmError).code).toBe('unsupported');
    return (e as Error).message;
  }
  throw new Error('the model was read, not refused');
};

describe('opset 1–6 forms read faithfully (expected outputs by formula)', () => {
  // A [2,3,4,5]; B's dims line up with A's from `axis` (suffix when absent), not numpy's right alignment.
  it.each([
    { op: 'Add', opset: 6, b: [3, 4], axis: 1, f: (a: number, b: number) => a + b },
    { op: 'Mul', opset: 6, b: [2], axis: 0, f: (a: number, b: number) => a * b },
    { op: 'Sub', opset: 1, b: [3], axis: 1, f: (a: number, b: number) => a - b },
    { op: 'Div', opset: 6, b: [4, 5], axis: undefined, f: (a: number, b: number) => a / b },
    { op: 'Pow', opset: 1, b: [4], axis: 2, f: (a: number, b: number) => Math.abs(a) ** b },
  ])('$op-$opset broadcast=1 axis=$axis of B $b, B run-time and constant', async ({ op, opset, b, axis, f }) => {
    const aDims = [2, 3, 4, 5];
    const a = op === 'Pow' ? data(aDims, 1).map(Math.abs) : data(aDims, 1);
    const bv = op === 'Div' ? data(b, 2).map((v) => v + 3) : data(b, 2);
    const start = axis ?? aDims.length - b.length;
    const want = a.map((x, i) => {
      const at = coords(i, aDims).slice(start, start + b.length);
      return f(x, bv[at.reduce((p, c, k) => p * b[k]! + c, 0)]!);
    });
    const attrs = [int('broadcast', 1), ...(axis === undefined ? [] : [int('axis', axis)])];
    const out = { name: 'y', dims: aDims };
    const runtime = model(opset, op, [{ name: 'a', dims: aDims }, { name: 'b', dims: b }], out, attrs);
    await expectAllStagesPass(makeCase(`${op}${opset}`, runtime, [{ name: 'a', dims: aDims, data: a }, { name: 'b', dims: b, data: bv }], { dims: aDims, data: want }));
    const constant = model(opset, op, [{ name: 'a', dims: aDims }, { name: 'b', dims: b, init: [...bv] }], out, attrs);
    await expectAllStagesPass(makeCase(`${op}${opset}_const`, constant, [{ name: 'a', dims: aDims, data: a }], { dims: aDims, data: want }));
  });

  it('PRelu-6: a slope of size C applies per channel (axis 1), for a run-time and a constant slope', async () => {
    const xDims = [2, 3, 4];
    const x = data(xDims, 3);
    const slope = Float32Array.of(0.1, -0.5, 2);
    const want = x.map((v, i) => (v < 0 ? v * slope[coords(i, xDims)[1]!]! : v));
    const out = { name: 'y', dims: xDims };
    await expectAllStagesPass(makeCase('prelu6', model(6, 'PRelu', [{ name: 'x', dims: xDims }, { name: 's', dims: [3] }], out), [{ name: 'x', dims: xDims, data: x }, { name: 's', dims: [3], data: slope }], { dims: xDims, data: want }));
    await expectAllStagesPass(makeCase('prelu6c', model(6, 'PRelu', [{ name: 'x', dims: xDims }, { name: 's', dims: [3], init: [...slope] }], out), [{ name: 'x', dims: xDims, data: x }], { dims: xDims, data: want }));
  });

  it('BatchNormalization-6 is_test=1 (with consumed_inputs in opset 1) is the inference formula', async () => {
    const xDims = [2, 3, 2, 2];
    const x = data(xDims, 4);
    const [scale, bias, mean, variance] = [[1, 2, 0.5], [0, 1, -1], [0.1, -0.2, 0.3], [1, 0.5, 2]];
    const eps = 1e-3;
    const want = x.map((v, i) => {
      const ch = coords(i, xDims)[1]!;
      return ((v - mean[ch]!) / Math.sqrt(variance[ch]! + eps)) * scale[ch]! + bias[ch]!;
    });
    const params = (['scale', 'bias', 'mean', 'var'] as const).map((name, k) => ({ name, dims: [3], init: [scale, bias, mean, variance][k]! }));
    for (const [opset, extra] of [[6, []], [1, [ints('consumed_inputs', [0, 0, 0, 1, 1])]]] as const) {
      const bytes = model(opset, 'BatchNormalization', [{ name: 'x', dims: xDims }, ...params], { name: 'y', dims: xDims }, [float('epsilon', eps), int('is_test', 1), ...extra]);
      await expectAllStagesPass(makeCase(`bn${opset}`, bytes, [{ name: 'x', dims: xDims, data: x }], { dims: xDims, data: want }));
    }
  });

  it('Concat-1 without axis concatenates on axis 1; Tile-1 repeats along its axis input', async () => {
    const d = [2, 2];
    const [a, b] = [data(d, 5), data(d, 6)];
    const cat = Float32Array.of(a[0]!, a[1]!, b[0]!, b[1]!, a[2]!, a[3]!, b[2]!, b[3]!);
    await expectAllStagesPass(makeCase('concat1', model(1, 'Concat', [{ name: 'a', dims: d }, { name: 'b', dims: d }], { name: 'y', dims: [2, 4] }), [{ name: 'a', dims: d, data: a }, { name: 'b', dims: d, data: b }], { dims: [2, 4], data: cat }));
    const tile = model(1, 'Tile', [{ name: 'a', dims: d }, { name: 'tiles', dims: [], elemType: 7, init: [3] }, { name: 'axis', dims: [], elemType: 7, init: [0] }], { name: 'y', dims: [6, 2] });
    await expectAllStagesPass(makeCase('tile1', tile, [{ name: 'a', dims: d, data: a }], { dims: [6, 2], data: Float32Array.from({ length: 12 }, (_, i) => a[i % 4]!) }));
  });

  it('Cast-1 takes `to` as a type name; Upsample-1 nearest scales H and W', async () => {
    const d = [1, 1, 2, 3];
    const x = data(d, 7).map((v) => v * 3);
    const cast = model(1, 'Cast', [{ name: 'x', dims: d }], { name: 'y', dims: d, elemType: 6 }, [str('to', 'INT32')]);
    const file = join(tempDir(), 'cast1.onnx');
    writeFileSync(file, cast);
    const g = readOnnxModel(file, cast);
    expect(g.nodes.map((n) => [n.op, n.attrs.to])).toEqual([['cast', 'int32']]);
    const up = model(1, 'Upsample', [{ name: 'x', dims: d }], { name: 'y', dims: [1, 1, 4, 9] }, [float('height_scale', 2), float('width_scale', 3)]);
    const want = Float32Array.from({ length: 36 }, (_, i) => x[Math.floor(Math.floor(i / 9) / 2) * 3 + Math.floor((i % 9) / 3)]!);
    await expectAllStagesPass(makeCase('upsample1', up, [{ name: 'x', dims: d, data: x }], { dims: [1, 1, 4, 9], data: want }));
  });

  it('Pad-1 paddings both readings of its spec agree on are read; others are refused', async () => {
    const d = [2, 3];
    const x = data(d, 8);
    const want = Float32Array.from({ length: 4 * 5 }, (_, i) => {
      const [r, c] = [Math.floor(i / 5) - 1, (i % 5) - 1];
      return r >= 0 && r < 2 && c >= 0 && c < 3 ? x[r * 3 + c]! : 0.5;
    });
    const pad = (p: number[]) => model(1, 'Pad', [{ name: 'x', dims: d }], { name: 'y', dims: [4, 5] }, [ints('paddings', p), float('value', 0.5)]);
    await expectAllStagesPass(makeCase('pad1', pad([1, 1, 1, 1]), [{ name: 'x', dims: d, data: x }], { dims: [4, 5], data: want }));
    expect(refusal(pad([0, 0, 2, 0]))).toMatch(/Pad.*paddings \[0,0,2,0\]/);
  });
});

describe('opset 1–6 forms edgelm cannot express are refused, naming the attribute', () => {
  const x = { name: 'x', dims: [2, 3] };
  it.each([
    ['Dropout', [float('ratio', 0.3)], /Dropout.*is_test=0/],
    ['BatchNormalization', [int('is_test', 1), int('spatial', 0)], /spatial=0/],
    ['BatchNormalization', [], /is_test=0/],
    ['Upsample', [float('height_scale', 2), float('width_scale', 2), str('mode', 'bilinear')], /Upsample mode 'bilinear'/],
  ] as const)('%s %j', (op, attrs, why) => {
    const params = op === 'BatchNormalization' ? ['s', 'b', 'm', 'v'].map((name) => ({ name, dims: [3], init: [1, 1, 1] })) : [];
    const inputs = op === 'Upsample' ? [{ name: 'x', dims: [1, 1, 2, 3] }] : [x, ...params];
    expect(refusal(model(6, op, inputs, { name: 'y', dims: [2, 3] }, [...attrs]))).toMatch(why);
  });

  it('PRelu-6 with a slope neither per channel nor shared', () => {
    expect(refusal(model(6, 'PRelu', [{ name: 'x', dims: [2, 3, 4] }, { name: 's', dims: [4] }], { name: 'y', dims: [2, 3, 4] }))).toMatch(/PRelu with a slope of shape \[4\]/);
  });
});

describe('InstanceNormalization (opset 6) matches onnxruntime with a run-time scale and bias', () => {
  it('on [2, 3, 4, 5]', async () => {
    const xDims = [2, 3, 4, 5];
    const bytes = model(6, 'InstanceNormalization', [{ name: 'x', dims: xDims }, { name: 's', dims: [3] }, { name: 'b', dims: [3] }], { name: 'y', dims: xDims }, [float('epsilon', 1e-3)]);
    const inputs = [{ name: 'x', dims: xDims, data: data(xDims, 9) }, { name: 's', dims: [3], data: Float32Array.of(1, -2, 0.5) }, { name: 'b', dims: [3], data: Float32Array.of(0, 1, -1) }];
    const s = await ort.InferenceSession.create(bytes);
    const got = await s.run(Object.fromEntries(inputs.map((t) => [t.name, new ort.Tensor('float32', t.data, t.dims)])));
    await s.release();
    await expectAllStagesPass(makeCase('instnorm6', bytes, inputs, { dims: xDims, data: got.y!.data as Float32Array }));
  });
});

// Opset-6 cases of the backend suite onnxruntime cannot run (no Add-6, Gemm-6, PRelu-6, BatchNormalization-6
// kernels): the conformance record leaves them out, so they are checked here against the suite's outputs.
describe.runIf(suiteInstalled())('backend-suite opset-6 cases onnxruntime cannot run match the suite', () => {
  it.each([
    'pytorch-converted/test_BatchNorm2d_eval', 'pytorch-converted/test_BatchNorm3d_momentum_eval', 'pytorch-converted/test_GLU_dim',
    'pytorch-converted/test_Linear', 'pytorch-converted/test_PReLU_2d_multiparam', 'pytorch-converted/test_PReLU_3d_multiparam',
    'pytorch-converted/test_AvgPool2d_stride', 'pytorch-operator/test_operator_add_size1_broadcast', 'pytorch-operator/test_operator_addmm',
    'pytorch-operator/test_operator_basic', 'pytorch-operator/test_operator_pow', 'pytorch-operator/test_operator_mm',
  ])('%s', async (id) => {
    for (const c of loadCase(id).cases!) await expectAllStagesPass(c);
  });
});
