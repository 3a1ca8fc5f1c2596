// Directed cases: one per bug the fuzzer found, rebuilt by hand so that each stays covered at the
// default case count (several first showed up only in longer FUZZ_SCALE runs). Each names the
// reader fix it guards.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { serializeTflite, type TflModel } from '../../src/export/tflite/flatbuffer.js';
import { fixture } from '../helpers.js';

const { onnx } = onnxProto;

export interface DirectedCase {
  name: string;
  /** 'model': read through inspect; 'data': through loadDataset as eval does. */
  kind: 'model' | 'data';
  /** Writes the case into dir; returns the path to read. */
  make(dir: string): string;
}

const i64 = (...v: (number | bigint)[]): Uint8Array => new Uint8Array(BigInt64Array.from(v, (x) => BigInt(x)).buffer);

function editOnnx(seed: string, edit: (m: any) => void): (dir: string) => string {
  return (dir) => {
    const m: any = onnx.ModelProto.decode(readFileSync(fixture('models', seed)));
    edit(m);
    const path = join(dir, 'model.onnx');
    writeFileSync(path, onnx.ModelProto.encode(m).finish());
    return path;
  };
}
const node = (m: any, name: string): any => m.graph.node.find((n: any) => n.name === name);
const init = (m: any, name: string): any => m.graph.initializer.find((t: any) => t.name === name);
const int64Init = (name: string, dims: number[], ...v: number[]): unknown => ({ name, dataType: 7, dims, rawData: i64(...v) });

function editTfjs(seed: string | (() => string), edit: (j: any, dir: string) => void): (dir: string) => string {
  return (dir) => {
    const src = typeof seed === 'string' ? fixture('models', seed) : seed();
    const j = JSON.parse(readFileSync(join(src, 'model.json'), 'utf8'));
    for (const g of j.weightsManifest) for (const p of g.paths) writeFileSync(join(dir, p), readFileSync(join(src, p)));
    edit(j, dir);
    writeFileSync(join(dir, 'model.json'), JSON.stringify(j));
    return dir;
  };
}
const tfNode = (j: any, op: string): any => j.modelTopology.node.find((n: any) => n.op === op);

function editTflite(model: () => TflModel, edit: (m: TflModel) => void): (dir: string) => string {
  return (dir) => {
    const base = model();
    const m: TflModel = { ...structuredClone({ ...base, buffers: [] }), buffers: base.buffers.map((b) => b.slice()) };
    edit(m);
    const path = join(dir, 'model.tflite');
    writeFileSync(path, serializeTflite(m));
    return path;
  };
}

export function directedCases(seeds: { floatTflite: () => TflModel; layersZoo: () => string }): DirectedCase[] {
  const constTensor = (m: TflModel): TflModel['tensors'][number] => m.tensors.find((t) => (m.buffers[t.buffer]?.length ?? 0) > 0)!;
  return [
    // src/import/tflite/index.ts: shapes of constants checked against their buffers (was a hang of 2^32 steps in inspect).
    { name: 'tflite: constant of shape [65536, 65536] over 576 bytes', kind: 'model', make: editTflite(seeds.floatTflite, (m) => void (constTensor(m).shape = [65536, 65536])) },
    // src/import/tflite/index.ts: subgraph inputs must be real tensors (was a TypeError in inspect).
    { name: 'tflite: subgraph input -1', kind: 'model', make: editTflite(seeds.floatTflite, (m) => void (m.inputs = [-1])) },
    // src/import/tflite/index.ts: tensor type codes past the schema's enum (was a TypeError in inspect).
    { name: 'tflite: tensor type 200', kind: 'model', make: editTflite(seeds.floatTflite, (m) => void (constTensor(m).type = 200)) },

    // src/import/builder.ts: arity checked before shape inference (were TypeErrors in src/ir/ops).
    { name: 'onnx: Gather without indices', kind: 'model', make: editOnnx('ops-zoo.onnx', (m) => void (node(m, '/Gather_22').input = ['/Slice_21_output_0'])) },
    { name: 'onnx: Equal with one input', kind: 'model', make: editOnnx('ops-zoo.onnx', (m) => void (node(m, '/Equal_24').input = ['x'])) },
    // src/import/onnx/ops.ts requiredInts: opset-13 Unsqueeze without its axes input (was a TypeError).
    { name: 'onnx: Unsqueeze without axes', kind: 'model', make: editOnnx('ops-zoo.onnx', (m) => void (node(m, '/Unsqueeze_18').input = ['/Sqrt_17_output_0'])) },
    // src/import/onnx/ops.ts spatial(): pads [] gave NaN dims, folded by Shape into BigInt(NaN) (a RangeError).
    {
      name: 'onnx: Conv with pads []',
      kind: 'model',
      make: editOnnx('cnn-nchw.onnx', (m) => {
        for (const n of m.graph.node) if (n.opType === 'Conv') for (const a of n.attribute) if (a.name === 'pads') a.ints = [];
      }),
    },
    // src/import/onnx/ops.ts Range: a missing input (was values(undefined)), delta 0 (never ended), 10^12 values.
    { name: 'onnx: Range with one input', kind: 'model', make: editOnnx('ops-zoo.onnx', (m) => Object.assign(node(m, '/ConstantOfShape_29'), { opType: 'Range', input: ['shp'], attribute: [] })) },
    {
      name: 'onnx: Range with delta 0',
      kind: 'model',
      make: editOnnx('ops-zoo.onnx', (m) => {
        m.graph.initializer.push(int64Init('r0', [], 5), int64Init('r1', [], 0), int64Init('r2', [], 0));
        Object.assign(node(m, '/ConstantOfShape_29'), { opType: 'Range', input: ['r0', 'r1', 'r2'], attribute: [] });
      }),
    },
    {
      name: 'onnx: Range of 10^12 values',
      kind: 'model',
      make: editOnnx('ops-zoo.onnx', (m) => {
        m.graph.initializer.push(int64Init('r0', [], 0), int64Init('r1', [], 1e12), int64Init('r2', [], 1));
        Object.assign(node(m, '/ConstantOfShape_29'), { opType: 'Range', input: ['r0', 'r1', 'r2'], attribute: [] });
      }),
    },
    // src/import/onnx/ops.ts ConstantOfShape: size capped before allocating (10^12: a RangeError; 2^28: 2 GiB of JS numbers, a heap crash).
    { name: 'onnx: ConstantOfShape [10^12]', kind: 'model', make: editOnnx('ops-zoo.onnx', (m) => void (init(m, 'shp').rawData = i64(1e12))) },
    { name: 'onnx: ConstantOfShape [2^28]', kind: 'model', make: editOnnx('ops-zoo.onnx', (m) => void (init(m, 'shp').rawData = i64(2 ** 28))) },
    // src/import/onnx/ops.ts Concat: no inputs (was parts[0]!.dtype of undefined).
    { name: 'onnx: Concat without inputs', kind: 'model', make: editOnnx('ops-zoo.onnx', (m) => void (node(m, '/Concat_11').input = [])) },
    // src/import/onnx/ops.ts Transpose: perm checked before the constant fold indexes with it (it built a
    // constant whose data did not match its shape, refused only later by verifyGraph).
    {
      name: 'onnx: Transpose of a constant with perm [0, 0, 5]',
      kind: 'model',
      make: editOnnx('ops-zoo.onnx', (m) => {
        const t = node(m, '/Transpose_19');
        t.input = ['img'];
        for (const a of t.attribute) if (a.name === 'perm') a.ints = [0, 0, 5];
      }),
    },
    // src/import/onnx/ops.ts Slice: step 0 reached sliceBounds' ShapeError (not an EdgelmError); a float step never advanced.
    { name: 'onnx: Slice of a constant with step 0', kind: 'model', make: editOnnx('ops-zoo.onnx', (m) => ((node(m, '/Slice_21').input[0] = 'img'), (init(m, 'stp').rawData = i64(0)))) },
    {
      name: 'onnx: Slice of a constant with a float step',
      kind: 'model',
      make: editOnnx('ops-zoo.onnx', (m) => {
        node(m, '/Slice_21').input[0] = 'img';
        Object.assign(init(m, 'stp'), { dataType: 1, rawData: new Uint8Array(new Float32Array([1e-45]).buffer) });
      }),
    },
    // src/import/onnx/ops.ts binary(): folds bounded by the broadcast size ([65536,1] x [1,65536] was 2^32 steps).
    {
      name: 'onnx: Add of [65536, 1] and [1, 65536] constants',
      kind: 'model',
      make: editOnnx('ops-zoo.onnx', (m) => {
        const ones = new Uint8Array(new BigInt64Array(65536).fill(1n).buffer);
        m.graph.initializer.push({ name: 'ca', dataType: 7, dims: [65536, 1], rawData: ones }, { name: 'cb', dataType: 7, dims: [1, 65536], rawData: ones });
        node(m, '/Add_32').input = ['ca', 'cb'];
      }),
    },

    // src/import/tfjs-graph/index.ts ints(): a float32 strides constant (int bits read as 1.4e-45) never advanced: a fatal V8 crash.
    {
      name: 'tfjs-graph: StridedSlice strides stored as float32',
      kind: 'model',
      make: editTfjs('graph-cnn', (j) => {
        for (const w of j.weightsManifest[0].weights) if (w.name === 'model/up/ss/strides') w.dtype = 'float32';
      }),
    },
    // src/import/tfjs-graph/index.ts: Placeholder dims validated (a string dim list was a TypeError; 'abc' a silent NaN dim).
    { name: "tfjs-graph: Placeholder shape.dim 'x'", kind: 'model', make: editTfjs('graph-cnn', (j) => void (tfNode(j, 'Placeholder').attr.shape = { shape: { dim: 'x' } })) },
    { name: "tfjs-graph: Placeholder dim size 'abc'", kind: 'model', make: editTfjs('graph-cnn', (j) => void (tfNode(j, 'Placeholder').attr.shape = { shape: { dim: [{ size: '-1' }, { size: 'abc' }] } })) },
    // src/import/tfjs-graph/index.ts Pack: no inputs (was konst(0)!.dtype of undefined).
    { name: 'tfjs-graph: Pack without inputs', kind: 'model', make: editTfjs('graph-cnn', (j) => void (tfNode(j, 'Pack').input = [])) },
    // src/import/tfjs-graph/index.ts listOf(): attr list values that are not arrays.
    { name: 'tfjs-graph: fused_ops list.s a string', kind: 'model', make: editTfjs('graph-cnn', (j) => void (tfNode(j, '_FusedConv2D').attr.fused_ops = { list: { s: 'complex64' } })) },
    { name: 'tfjs-graph: strides list.i an object', kind: 'model', make: editTfjs('graph-cnn', (j) => void (tfNode(j, 'Conv2D').attr.strides = { list: { i: { a: 1 } } })) },

    // src/import/tfjs-layers/layers.ts ZeroPadding2D: {} was "not iterable", [1] NaN pads.
    { name: 'tfjs-layers: ZeroPadding2D padding {}', kind: 'model', make: editTfjs(seeds.layersZoo, (j) => void (j.modelTopology.config.layers.find((l: any) => l.config.name === 'zp').config.padding = {})) },
    // src/import/tfjs-layers/layers.ts LayerNormalization scale=false: gamma made from the declared shape (2^40: a RangeError).
    {
      name: 'tfjs-layers: LayerNormalization scale=false over 2^40 features',
      kind: 'model',
      make: editTfjs(seeds.layersZoo, (j) => {
        const layers = j.modelTopology.config.layers;
        const ln = layers.find((l: any) => l.config.name === 'ln');
        ln.config.scale = false;
        ln.inbound_nodes = [[['wide', 0, 0, {}]]];
        layers.splice(1, 0, { class_name: 'InputLayer', config: { name: 'wide', batch_input_shape: [null, 2 ** 40] }, inbound_nodes: [] });
        j.weightsManifest[0].weights = j.weightsManifest[0].weights.filter((w: any) => w.name !== 'ln/gamma');
      }),
    },

    // src/data/index.ts nestedShape: every level walked its first subtree twice (2^1000 steps: a hang).
    ...[1000, 200_000].map((depth): DirectedCase => ({
      name: `jsonl: input nested ${depth} deep`,
      kind: 'data',
      make: (dir) => {
        const path = join(dir, 'd.jsonl');
        writeFileSync(path, `{"input": ${'['.repeat(depth)}0${']'.repeat(depth)}, "label": 1}\n`);
        return path;
      },
    })),
    // src/data/index.ts loadDataset: zero samples (eval failed inside onnxruntime/TF.js: an internal error).
    {
      name: 'npy: shape (0, 784)',
      kind: 'data',
      make: (dir) => {
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 784), }";
        header += `${' '.repeat(64 - ((10 + header.length + 1) % 64))}\n`;
        const path = join(dir, 'x.npy');
        const head = Buffer.alloc(10);
        Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
        head.writeUInt16LE(header.length, 8);
        writeFileSync(path, Buffer.concat([head, Buffer.from(header, 'latin1')]));
        return path;
      },
    },
  ];
}
