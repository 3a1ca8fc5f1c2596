// Every op the TFLite writer runs on int8 codes, one tiny ONNX model each, written as full-integer TFLite
// (float I/O) and checked two ways (issue 16):
// 1. the file obeys what each int8 kernel assumes, read back from the flatbuffer: MAXIMUM, MINIMUM,
//    CONCATENATION, pooling and the reshape-like ops compare or copy raw codes, so their int8 operands
//    and output share one scale and zero point; LOGISTIC, SOFTMAX and TANH write fixed output parameters;
//    conv/FC weights are symmetric and their int32 bias sits at input scale × weight scale;
// 2. LiteRT on the file agrees with onnxruntime on the float model within 3 output steps. The reference
//    gets the input already rounded to the file's input step, so what is left is the op's own rounding:
//    half a step at the output, and for conv/FC the weights' rounding (about one step at these sizes).
// Operands have deliberately different ranges (a constant far off the input's, a second operand 4× larger)
// so that a missing requantize shows as an error of many steps, not a fraction of one.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { exportTflite } from '../../src/export/tflite/index.js';
import { readTfliteInfo, type TfliteModelInfo, type TfliteTensorInfo } from '../../src/import/tflite/index.js';
import { quantizeModel } from '../../src/quantize/index.js';
import { openLiteRt } from '../../src/runtime/litert.js';
import { noise, readOnnxBytes, ROOT, tempDir } from '../helpers.js';
import { floats } from './conv-models.js';

const { onnx } = onnxProto;
const python = '/usr/bin/python3';
const hasArmnn = spawnSync(python, ['-c', 'import pyarmnn']).status === 0;

// ---- what the int8 kernels require (TFLite kernels' Prepare checks, or their lack of a requantize) ----

/** int8 kernels that copy or compare codes: every int8 operand and the output share scale and zero point. */
const SAME_SCALE_OPS = new Set([
  'MAXIMUM', 'MINIMUM', 'CONCATENATION', 'MAX_POOL_2D', 'AVERAGE_POOL_2D', 'RESHAPE', 'SQUEEZE', 'EXPAND_DIMS',
  'TRANSPOSE', 'PAD', 'PADV2', 'MIRROR_PAD', 'STRIDED_SLICE', 'SLICE', 'GATHER', 'SPLIT', 'SPLIT_V', 'TILE',
  'REDUCE_MAX', 'REDUCE_MIN', 'RESIZE_NEAREST_NEIGHBOR', 'RESIZE_BILINEAR', 'DEPTH_TO_SPACE', 'SPACE_TO_DEPTH',
]);
/** Output parameters fixed by the kernel: [scale, zero point]. */
const FIXED: Record<string, [number, number]> = { LOGISTIC: [1 / 256, -128], SOFTMAX: [1 / 256, -128], TANH: [1 / 128, 0] };
/** Kernels with int8 weights in input 1 and an int32 bias in input 2. */
const WEIGHTED = new Set(['CONV_2D', 'DEPTHWISE_CONV_2D', 'FULLY_CONNECTED', 'TRANSPOSE_CONV']);

const params = (t: TfliteTensorInfo): [number, number] => [t.quant?.scale[0] ?? NaN, t.quant?.zeroPoint[0] ?? NaN];
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(a), Math.abs(b));

/** Every way the file's int8 operators break their kernels' rules, one line each. */
export function kernelRuleViolations(info: TfliteModelInfo): string[] {
  const bad: string[] = [];
  info.operators.forEach((o, k) => {
    const ins = o.inputs.filter((i) => i >= 0).map((i) => info.tensors[i]!);
    const outs = o.outputs.map((i) => info.tensors[i]!);
    const where = `operator ${k} (${o.op})`;
    const int8 = [...ins, ...outs].filter((t) => t.dtype === 'int8');
    if (!int8.length) return;
    for (const t of int8) if (!t.quant || !t.quant.scale.length) bad.push(`${where}: int8 tensor ${t.name} has no quantization`);
    if (o.op === 'QUANTIZE' || o.op === 'DEQUANTIZE') return;
    // No kernel mixes float activations with int8 ones in full-integer mode.
    for (const t of [...ins, ...outs]) if (t.dtype === 'float32' && !t.data.length) bad.push(`${where}: float activation ${t.name} next to int8 tensors`);
    const out = outs[0]!;
    if (SAME_SCALE_OPS.has(o.op))
      for (const t of ins.filter((t) => t.dtype === 'int8'))
        if (!close(params(t)[0], params(out)[0]) || params(t)[1] !== params(out)[1]) bad.push(`${where}: input ${t.name} at ${params(t)} but output ${out.name} at ${params(out)}`);
    const fixed = FIXED[o.op];
    if (fixed && (!close(params(out)[0], fixed[0]) || params(out)[1] !== fixed[1])) bad.push(`${where}: output ${out.name} at ${params(out)}, the kernel needs ${fixed}`);
    if (WEIGHTED.has(o.op)) {
      const [x, w, b] = o.op === 'TRANSPOSE_CONV' ? [ins[2]!, ins[1]!, ins[3]] : [ins[0]!, ins[1]!, ins[2]];
      if (w.quant!.zeroPoint.some((z) => z !== 0)) bad.push(`${where}: weight ${w.name} is not symmetric`);
      if (b) {
        if (b.dtype !== 'int32') bad.push(`${where}: bias ${b.name} is ${b.dtype}, not int32`);
        const ws = w.quant!.scale;
        const bs = b.quant?.scale ?? [];
        if (bs.length !== ws.length || bs.some((s, c) => !close(s, params(x)[0] * ws[c]!))) bad.push(`${where}: bias ${b.name} scales are not input scale × weight scale`);
        if (b.quant?.zeroPoint.some((z) => z !== 0)) bad.push(`${where}: bias ${b.name} has a zero point`);
      }
    }
  });
  return bad;
}

// ---- the models ----

interface Case {
  name: string;
  /** Input x's shape (batch 1). */
  shape: number[];
  nodes: object[];
  init?: object[];
  /** Calibration and test inputs are noise in [-gain, gain] (default 1). */
  gain?: number;
  /** TFLite ops that must run on int8 codes in the file (the op under test, not vacuously floated). */
  int8: string[];
  /** Output steps the error may reach (default 3). */
  k?: number;
}

const node = (opType: string, input: string[], output: string[], attribute: object[] = []): object => ({ opType, name: output[0], input, output, attribute });
const ints = (name: string, v: number[]): object => ({ name, type: 7, ints: v });
const int = (name: string, v: number): object => ({ name, type: 2, i: v });
const flt = (name: string, v: number): object => ({ name, type: 1, f: v });
const str = (name: string, v: string): object => ({ name, type: 3, s: new TextEncoder().encode(v) });
const int64s = (name: string, v: number[]): object => ({ name, dataType: 7, dims: [v.length], int64Data: v });
const scalar = (name: string, v: number): object => floats(name, [], [v]);
/** A second operand on a range 4× the input's and shifted: x·4 + 1. */
const wide = (x = 'x', out = 'w'): object[] => [node('Mul', [x, 'four'], [`${out}_m`]), node('Add', [`${out}_m`, 'one'], [out])];
const wideInit = [scalar('four', 4), scalar('one', 1)];
const conv = (w: string, b: string, group = 1, pads = [1, 1, 1, 1]): object[] => [node('Conv', ['x', w, b], ['y'], [ints('kernel_shape', [3, 3]), ints('pads', pads), int('group', group)])];

const CASES: Case[] = [
  { name: 'conv', shape: [1, 3, 8, 8], nodes: conv('w', 'b'), init: [floats('w', [4, 3, 3, 3], noise(108, 1)), floats('b', [4], [0.5, -0.5, 3, 0])], int8: ['CONV_2D'] },
  { name: 'conv+relu', shape: [1, 3, 8, 8], nodes: [node('Conv', ['x', 'w', 'b'], ['c'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]), node('Relu', ['c'], ['y'])], init: [floats('w', [4, 3, 3, 3], noise(108, 1)), floats('b', [4], [0.5, -0.5, 3, 0])], int8: ['CONV_2D'] },
  { name: 'conv+relu6 (Clip 0..6 fused)', shape: [1, 3, 8, 8], nodes: [node('Conv', ['x', 'w', 'b'], ['c'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]), node('Clip', ['c', 'lo', 'hi'], ['y'])], init: [floats('w', [4, 3, 3, 3], noise(108, 1)), floats('b', [4], [0.5, -0.5, 5.5, 0]), scalar('lo', 0), scalar('hi', 6)], int8: ['CONV_2D'] },
  { name: 'conv explicit pads', shape: [1, 3, 8, 8], nodes: conv('w', 'b', 1, [2, 0, 1, 1]), init: [floats('w', [4, 3, 3, 3], noise(108, 2)), floats('b', [4], [0.1, 0.2, 0.3, 0.4])], int8: ['CONV_2D', 'PAD'] },
  { name: 'depthwise conv', shape: [1, 4, 8, 8], nodes: conv('w', 'b', 4), init: [floats('w', [4, 1, 3, 3], noise(36, 3)), floats('b', [4], [2, -1, 0, 0.5])], int8: ['DEPTHWISE_CONV_2D'] },
  { name: 'gemm (dense)', shape: [1, 16], nodes: [node('Gemm', ['x', 'w', 'b'], ['y'], [int('transB', 1)])], init: [floats('w', [8, 16], noise(128, 4)), floats('b', [8], noise(8, 5).map((v) => v * 4))], int8: ['FULLY_CONNECTED'] },
  { name: 'matMul 3-D (dense, keep dims)', shape: [1, 4, 16], nodes: [node('MatMul', ['x', 'w'], ['y'])], init: [floats('w', [16, 8], noise(128, 6))], int8: ['FULLY_CONNECTED'] },
  { name: 'matMul batched constant (BATCH_MATMUL)', shape: [1, 2, 4, 6], nodes: [node('MatMul', ['x', 'w'], ['y'])], init: [floats('w', [2, 6, 5], noise(60, 7).map((v) => v * 3 + 2))], int8: ['BATCH_MATMUL'] },
  { name: 'add constant far off', shape: [1, 2, 4, 4], nodes: [node('Add', ['x', 'c'], ['y'])], init: [floats('c', [1, 2, 1, 1], [20, -30])], int8: ['ADD'] },
  { name: 'add two ranges', shape: [1, 2, 4, 4], nodes: [...wide(), node('Add', ['x', 'w'], ['y'])], init: wideInit, int8: ['ADD'] },
  { name: 'sub constant far off', shape: [1, 2, 4, 4], nodes: [node('Sub', ['c', 'x'], ['y'])], init: [floats('c', [1, 1, 1, 4], [10, 11, 12, 13])], int8: ['SUB'] },
  { name: 'mul constant far off', shape: [1, 2, 4, 4], nodes: [node('Mul', ['x', 'c'], ['y'])], init: [floats('c', [1, 2, 1, 1], [40, -0.01])], int8: ['MUL'] },
  { name: 'mul two ranges', shape: [1, 2, 4, 4], nodes: [...wide(), node('Mul', ['x', 'w'], ['y'])], init: wideInit, int8: ['MUL'] },
  { name: 'max constant far off', shape: [1, 2, 4, 4], nodes: [node('Max', ['x', 'c'], ['y'])], init: [scalar('c', -2.5)], int8: ['MAXIMUM'] },
  { name: 'max constant inside', shape: [1, 2, 4, 4], nodes: [node('Max', ['x', 'c'], ['y'])], init: [floats('c', [1, 2, 1, 1], [0.3, 5])], int8: ['MAXIMUM'] },
  { name: 'max two ranges', shape: [1, 2, 4, 4], nodes: [...wide(), node('Max', ['x', 'w'], ['y'])], init: wideInit, int8: ['MAXIMUM'] },
  { name: 'min two ranges', shape: [1, 2, 4, 4], nodes: [...wide(), node('Min', ['w', 'x'], ['y'])], init: wideInit, int8: ['MINIMUM'] },
  { name: 'relu after add', shape: [1, 2, 4, 4], nodes: [...wide(), node('Relu', ['w'], ['y'])], init: wideInit, int8: ['ADD'] },
  { name: 'relu of the input', shape: [1, 2, 4, 4], nodes: [node('Relu', ['x'], ['y'])], gain: 3, int8: ['RELU'] },
  { name: 'sigmoid', shape: [1, 2, 4, 4], nodes: [node('Sigmoid', ['x'], ['y'])], gain: 6, int8: ['LOGISTIC'] },
  { name: 'tanh', shape: [1, 2, 4, 4], nodes: [node('Tanh', ['x'], ['y'])], gain: 3, int8: ['TANH'] },
  { name: 'softmax', shape: [1, 3, 10], nodes: [node('Softmax', ['x'], ['y'], [int('axis', -1)])], gain: 4, int8: ['SOFTMAX'] },
  { name: 'softmax axis 1', shape: [1, 10, 3], nodes: [node('Softmax', ['x'], ['y'], [int('axis', 1)])], gain: 4, int8: ['SOFTMAX'] },
  { name: 'hardSwish', shape: [1, 2, 4, 4], nodes: [node('HardSwish', ['x'], ['y'])], gain: 5, int8: ['HARD_SWISH'] },
  { name: 'max pool', shape: [1, 2, 8, 8], nodes: [...wide(), node('MaxPool', ['w'], ['y'], [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1])])], init: wideInit, int8: ['MAX_POOL_2D'] },
  { name: 'average pool', shape: [1, 2, 8, 8], nodes: [...wide(), node('AveragePool', ['w'], ['y'], [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])])], init: wideInit, int8: ['AVERAGE_POOL_2D'] },
  { name: 'average pool counting pads', shape: [1, 2, 8, 8], nodes: [node('AveragePool', ['x'], ['y'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1]), int('count_include_pad', 1)])], int8: ['AVERAGE_POOL_2D', 'PAD'] },
  { name: 'global average pool', shape: [1, 3, 4, 4], nodes: [...wide(), node('GlobalAveragePool', ['w'], ['y'])], init: wideInit, int8: [] },
  { name: 'reduce mean', shape: [1, 3, 4, 4], nodes: [...wide(), node('ReduceMean', ['w'], ['y'], [ints('axes', [2, 3]), int('keepdims', 0)])], init: wideInit, int8: ['MEAN'] },
  { name: 'reshape', shape: [1, 2, 4, 4], nodes: [...wide(), node('Reshape', ['w', 's'], ['y'])], init: [...wideInit, int64s('s', [1, 8, 4])], int8: ['RESHAPE'] },
  { name: 'flatten', shape: [1, 2, 4, 4], nodes: [...wide(), node('Flatten', ['w'], ['y'])], init: wideInit, int8: ['RESHAPE'] },
  { name: 'squeeze', shape: [1, 2, 1, 4], nodes: [...wide(), node('Squeeze', ['w', 'a'], ['y'])], init: [...wideInit, int64s('a', [2])], int8: ['RESHAPE'] },
  { name: 'unsqueeze', shape: [1, 2, 4], nodes: [...wide(), node('Unsqueeze', ['w', 'a'], ['y'])], init: [...wideInit, int64s('a', [1])], int8: ['RESHAPE'] },
  { name: 'transpose', shape: [1, 2, 3, 4], nodes: [...wide(), node('Transpose', ['w'], ['y'], [ints('perm', [0, 3, 1, 2])])], init: wideInit, int8: ['TRANSPOSE'] },
  { name: 'pad zeros', shape: [1, 2, 4, 4], nodes: [...wide(), node('Pad', ['w', 'p'], ['y'])], init: [...wideInit, int64s('p', [0, 0, 1, 2, 0, 0, 2, 1])], int8: ['PAD'] },
  { name: 'pad value inside', shape: [1, 2, 4, 4], nodes: [node('Pad', ['x', 'p', 'v'], ['y'])], init: [int64s('p', [0, 0, 1, 1, 0, 0, 1, 1]), scalar('v', 0.5)], int8: ['PADV2'] },
  { name: 'pad value far off', shape: [1, 2, 4, 4], nodes: [node('Pad', ['x', 'p', 'v'], ['y'])], init: [int64s('p', [0, 0, 1, 1, 0, 0, 1, 1]), scalar('v', 7)], int8: ['PADV2'] },
  { name: 'slice', shape: [1, 4, 6], nodes: [...wide(), node('Slice', ['w', 'st', 'en', 'ax', 'sp'], ['y'])], init: [...wideInit, int64s('st', [1, -1]), int64s('en', [3, 0]), int64s('ax', [1, 2]), int64s('sp', [1, -2])], int8: ['STRIDED_SLICE'] },
  { name: 'identity', shape: [1, 2, 4], nodes: [...wide(), node('Identity', ['w'], ['y'])], init: wideInit, int8: [] },
  { name: 'concat two ranges', shape: [1, 2, 4, 4], nodes: [...wide(), node('Concat', ['x', 'w'], ['y'], [int('axis', 1)])], init: wideInit, int8: ['CONCATENATION'] },
  { name: 'concat with a constant far off', shape: [1, 2, 4], nodes: [...wide(), node('Concat', ['w', 'c'], ['y'], [int('axis', 2)])], init: [...wideInit, floats('c', [1, 2, 2], [9, 10, -11, 12])], int8: ['CONCATENATION'] },
  { name: 'concat of an NCHW conv and the input (layout transposes on int8)', shape: [1, 3, 8, 8], nodes: [...conv('cw', 'cb').map((n) => ({ ...n, output: ['c'], name: 'c' })), node('Concat', ['c', 'x'], ['y'], [int('axis', 1)])], init: [floats('cw', [4, 3, 3, 3], noise(108, 8).map((v) => v * 3)), floats('cb', [4], [5, -5, 0, 1])], int8: ['CONCATENATION', 'CONV_2D'] },
  { name: 'leaky relu', shape: [1, 2, 4, 4], nodes: [...wide(), node('LeakyRelu', ['w'], ['y'], [flt('alpha', 0.2)])], init: wideInit, int8: ['LEAKY_RELU'] },
  // Ops that run in float between DEQUANTIZE and QUANTIZE: still faithful, and the edges around them obey the rules.
  { name: 'gather', shape: [1, 6, 4], nodes: [...wide(), node('Gather', ['w', 'i'], ['y'], [int('axis', 1)])], init: [...wideInit, int64s('i', [5, 0, -1, 2])], int8: [] },
  { name: 'prelu', shape: [1, 2, 4, 4], nodes: [...wide(), node('PRelu', ['w', 's'], ['y'])], init: [...wideInit, floats('s', [2, 1, 1], [0.25, 3])], int8: [] },
  { name: 'clip 0..6', shape: [1, 2, 4, 4], nodes: [...wide(), node('Clip', ['w', 'lo', 'hi'], ['y'])], init: [...wideInit, scalar('lo', 0), scalar('hi', 6)], gain: 2, int8: [] },
  { name: 'clip general', shape: [1, 2, 4, 4], nodes: [...wide(), node('Clip', ['w', 'lo', 'hi'], ['y'])], init: [...wideInit, scalar('lo', -0.3), scalar('hi', 2.5)], int8: [] },
  { name: 'resize nearest', shape: [1, 2, 3, 3], nodes: [...wide(), node('Resize', ['w', '', 'sc'], ['y'], [str('mode', 'nearest')])], init: [...wideInit, floats('sc', [4], [1, 1, 2, 2])], int8: [] },
];

/** Cases Arm NN 22 (Debian's pyarmnn) cannot run, and why: its limits, not the file's. */
const ARMNN_CANNOT: Record<string, string> = {
  'matMul 3-D (dense, keep dims)': 'its FULLY_CONNECTED ignores keep_num_dims',
  'matMul batched constant (BATCH_MATMUL)': 'its parser has no BATCH_MATMUL',
  'max pool': 'its parser has no PADV2 (the pads of a max pool)',
  'pad value inside': 'its parser has no PADV2',
  'pad value far off': 'its parser has no PADV2',
  // TFLite's int8 PAD fills with the zero point; Arm NN 22 fills with code 0 (off by exactly the zero point).
  'pad zeros': 'its int8 PAD fills with code 0, not the zero point',
  gather: 'its parser has no GATHER',
  prelu: 'its parser has no PRELU',
};

function model(c: Case): Uint8Array {
  const value = (name: string, shape?: number[]) => ({ name, type: { tensorType: { elemType: 1, ...(shape ? { shape: { dim: shape.map((d) => ({ dimValue: d })) } } : {}) } } });
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: { name: c.name.replace(/\W+/g, '_'), input: [value('x', c.shape)], output: [value('y')], initializer: c.init ?? [], node: c.nodes } }).finish();
}

const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** x rounded to int8 at (scale, zero point) and back, as the file's input QUANTIZE sees it. */
function roundTo(x: Float32Array, [scale, zp]: [number, number]): Float32Array {
  return Float32Array.from(x, (v) => (Math.max(-128, Math.min(127, Math.round(v / scale) + zp)) - zp) * scale);
}

async function ortRun(bytes: Uint8Array, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  const y = (await s.run({ x: new ort.Tensor('float32', x, shape) })).y!.data as Float32Array;
  await s.release();
  return y;
}

interface Written {
  file: string;
  info: TfliteModelInfo;
  x: Float32Array;
  want: Float32Array;
  /** The int8 output step: the scale of the tensor the output DEQUANTIZE reads (float outputs: the largest int8 step). */
  step: number;
}

const dir = tempDir();
const written = new Map<string, Written | Error>();

async function write(c: Case): Promise<Written> {
  const bytes = model(c);
  const name = c.name.replace(/\W+/g, '_');
  const graph = readOnnxBytes(bytes, dir, name);
  const gain = c.gain ?? 1;
  const n = size(c.shape);
  const calibration = { x: noise(64 * n, 11).map((v) => v * gain), shape: [64, ...c.shape.slice(1)], source: 'noise' };
  const { graph: q, plan } = await quantizeModel(graph, { mode: 'int8', calibration });
  const file = join(dir, `${name}.tflite`);
  writeFileSync(file, exportTflite(q, file, { quant: plan }));
  const info = readTfliteInfo(file);
  const quantizeIn = info.operators.find((o) => o.op === 'QUANTIZE' && o.inputs[0] === info.inputs[0]);
  const dequantizeOut = info.operators.find((o) => o.op === 'DEQUANTIZE' && o.outputs[0] === info.outputs[0]);
  const x = noise(n, 12).map((v) => v * gain);
  // The reference sees the input as the file's QUANTIZE leaves it: the error left is the op's own.
  const want = await ortRun(bytes, quantizeIn ? roundTo(x, params(info.tensors[quantizeIn.outputs[0]!]!)) : x, c.shape);
  // An op kept in float has a float output: its error is that of the int8 tensors before it.
  const int8Steps = info.tensors.filter((t) => t.dtype === 'int8' && !t.data.length).map((t) => params(t)[0]);
  const step = dequantizeOut ? params(info.tensors[dequantizeOut.inputs[0]!]!)[0] : Math.max(...int8Steps);
  const w = { file, info, x, want, step };
  written.set(c.name, w);
  return w;
}

function got(c: Case): Written {
  const w = written.get(c.name);
  if (w instanceof Error) throw w;
  return w!;
}

describe('int8 TFLite op by op against onnxruntime on the float model', () => {
  beforeAll(async () => {
    // A case that fails to write fails its own tests, not the others'.
    for (const c of CASES) await write(c).catch((e: Error) => written.set(c.name, e));
  }, 300_000);

  it.each(CASES.map((c) => [c.name, c] as const))('%s: int8 kernels get the parameters they need', (_, c) => {
    const { info } = got(c);
    const ops = info.operators.map((o) => o.op);
    const int8Ops = info.operators.filter((o) => info.tensors[o.inputs[0]!]?.dtype === 'int8' && o.op !== 'DEQUANTIZE' && o.op !== 'QUANTIZE').map((o) => o.op);
    for (const op of c.int8) expect(int8Ops, `${op} on int8 codes in [${ops.join(', ')}]`).toContain(op);
    expect(kernelRuleViolations(info)).toEqual([]);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s: LiteRT within a few output steps of onnxruntime', async (_, c) => {
    const { file, x, want, step } = got(c);
    expect(step, 'the file has int8 activations').toBeGreaterThan(0);
    const bytes = (await import('node:fs')).readFileSync(file);
    const lrt = await openLiteRt(bytes, file);
    const [out] = await lrt.run([{ data: x, shape: c.shape }]);
    lrt.dispose();
    const g = out!.data as Float32Array;
    expect(g.length).toBe(want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(g[i]! - want[i]!));
    if (process.env.EDGELM_TEST_FIGURES) console.log(`${c.name}: ${(worst / step).toFixed(2)} steps`);
    expect(worst / step, `worst error ${worst} at output step ${step}`).toBeLessThanOrEqual(c.k ?? 3);
  });

  it.skipIf(!hasArmnn)('Arm NN (CpuRef) runs every int8 file within a few output steps of onnxruntime', () => {
    const failures: string[] = [];
    for (const c of CASES.filter((c) => !ARMNN_CANNOT[c.name])) {
      const { file, x, want, step } = got(c);
      const xf = `${file}.x.bin`;
      writeFileSync(xf, x);
      const r = spawnSync(python, [join(ROOT, 'test', 'tools', 'armnn-run.py'), file, xf], { encoding: 'buffer' });
      if (r.status !== 0) {
        failures.push(`${c.name}: ${r.stderr.toString().trim().split('\n').pop()}`);
        continue;
      }
      const g = new Float32Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength / 4);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(g[i]! - want[i]!));
      if (g.length !== want.length || worst / step > (c.k ?? 3)) failures.push(`${c.name}: ${g.length} values, worst ${(worst / step).toFixed(2)} steps`);
    }
    expect(failures).toEqual([]);
  }, 300_000);
});
