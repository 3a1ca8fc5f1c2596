// Weight-only int8 quantization of an ONNX model one tensor at a time, for models past what fits in
// memory (and past protobuf's 2 GiB limit): the graph proto is decoded without its external data;
// each initializer is read, quantized (or copied) and appended to the output's external data file,
// then dropped. Peak memory is about one float tensor plus its codes. The graph keeps its structure:
// every quantized weight becomes int8 codes behind a DequantizeLinear that produces the old name.
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import type * as P from 'onnx-proto';
import { EdgelmError, usageError } from '../errors.js';
import { decodeModel, num, tensorFromProto } from '../import/onnx/proto.js';
import { readInputFile } from '../import/files.js';
import { DTYPES } from '../ir/dtype.js';
import type { Node } from '../ir/graph.js';
import { quantizeWeights, type QuantPlan } from './plan.js';

const { onnx } = onnxProto;

export interface StreamResult {
  files: string[];
  bytes: number;
  quantized: number;
  weights: string[];
}

/** Which initializers are weights, with their output-channel axis, from the nodes that read them. */
function weightAxes(g: P.onnx.IGraphProto, plan: QuantPlan): Map<string, number> {
  const axes = new Map<string, number>();
  const other = new Set<string>();
  const inits = new Map((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  for (const n of g.node ?? []) {
    const ins = n.input ?? [];
    ins.forEach((v, i) => {
      const t = inits.get(v);
      if (!t) return;
      const rank = (t.dims ?? []).length;
      const asNode = { name: n.name ?? '', op: (n.opType ?? '') as Node['op'], inputs: ins, outputs: n.output ?? [], attrs: {} } as Node;
      const float = t.dataType === DTYPES.float32.onnx;
      let axis = -1;
      if (i === 1 && float && !plan.exclude(asNode)) {
        if (n.opType === 'MatMul' && rank === 2) axis = 1;
        else if (n.opType === 'Gemm' && rank === 2) axis = (n.attribute ?? []).some((a) => a.name === 'transB' && num(a.i) === 1) ? 0 : 1;
        else if (n.opType === 'Conv' && rank >= 3) axis = 0;
      }
      if (axis < 0 || (axes.has(v) && axes.get(v) !== axis)) other.add(v);
      else axes.set(v, axis);
    });
  }
  for (const v of other) axes.delete(v); // also read elsewhere, or in two layouts: leave it float
  return axes;
}

export function streamQuantizeOnnx(file: string, out: string, plan: QuantPlan): StreamResult {
  if (plan.mode !== 'dynamic') throw usageError('streaming quantization writes int8 weights only (--mode dynamic)');
  const model = decodeModel(file, readInputFile(file));
  const opset = num((model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0);
  if (opset < 13) throw new EdgelmError('unsupported', `${file}: per-channel DequantizeLinear needs ONNX opset 13 or later (the model has ${opset})`);
  const g = model.graph!;
  const axes = weightAxes(g, plan);
  const location = `${basename(out)}.data`;
  const dataPath = join(dirname(resolve(out)), location);
  const tmpData = `${dataPath}.${process.pid}.tmp`;
  const tmpModel = join(dirname(resolve(out)), `.${basename(out)}.${process.pid}.tmp`);
  const fd = openSync(tmpData, 'w');
  let offset = 0;
  const append = (name: string, dtype: keyof typeof DTYPES, dims: number[], data: Uint8Array): P.onnx.ITensorProto => {
    const pad = (16 - (offset % 16)) % 16;
    if (pad) writeSync(fd, new Uint8Array(pad), 0, pad, offset);
    offset += pad;
    let done = 0;
    while (done < data.length) done += writeSync(fd, data, done, data.length - done, offset + done);
    const t: P.onnx.ITensorProto = {
      name, dataType: DTYPES[dtype].onnx, dims, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(data.length) }],
    };
    offset += data.length;
    return t;
  };
  const initializers: P.onnx.ITensorProto[] = [];
  const dequantize: P.onnx.INodeProto[] = [];
  const quantized: string[] = [];
  try {
    for (const proto of g.initializer ?? []) {
      const name = proto.name ?? '';
      // One tensor in memory at a time: read (inline or external), write, drop.
      const t = tensorFromProto(file, proto, name);
      const axis = axes.get(name);
      if (axis === undefined) {
        const raw = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
        initializers.push(raw.length >= 1024 ? append(name, t.dtype, t.shape, raw) : { name, dataType: DTYPES[t.dtype].onnx, dims: t.shape, rawData: raw.slice() });
        continue;
      }
      const granularity = plan.granularity === 'auto' ? 'channel' : plan.granularity;
      if (granularity === 'block') throw usageError(`${file}: block-wise weights need ONNX opset 21; use --granularity channel or tensor`);
      const q = quantizeWeights(name, t.data as Float32Array, t.shape, plan, granularity, axis);
      const perChannel = q.params.scale.length > 1;
      const scaleDims = perChannel ? [q.params.scale.length] : [];
      initializers.push(append(`${name}_quantized`, 'int8', t.shape, new Uint8Array(q.codes.buffer, q.codes.byteOffset, q.codes.byteLength)));
      initializers.push({ name: `${name}_scale`, dataType: DTYPES.float32.onnx, dims: scaleDims, rawData: new Uint8Array(q.params.scale.buffer.slice(0)) });
      initializers.push({ name: `${name}_zero_point`, dataType: DTYPES.int8.onnx, dims: scaleDims, rawData: new Uint8Array(q.params.scale.length) });
      dequantize.push({
        name: `${name}_DequantizeLinear`, opType: 'DequantizeLinear', input: [`${name}_quantized`, `${name}_scale`, `${name}_zero_point`], output: [name],
        attribute: perChannel ? [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis }] : [],
      });
      quantized.push(name);
    }
  } catch (e) {
    closeSync(fd);
    rmSync(tmpData, { force: true }); // a failed run leaves nothing behind
    throw e;
  }
  closeSync(fd);
  g.initializer = initializers;
  // Old exports list initializers among the graph inputs; a quantized weight is now computed.
  const computed = new Set(quantized);
  g.input = (g.input ?? []).filter((i) => !computed.has(i.name ?? ''));
  g.node = [...dequantize, ...(g.node ?? [])];
  model.producerName = 'edgelm';
  const bytes = onnx.ModelProto.encode(model).finish();
  try {
    const mfd = openSync(tmpModel, 'w');
    try {
      writeSync(mfd, bytes);
    } finally {
      closeSync(mfd);
    }
    renameSync(tmpData, dataPath);
    renameSync(tmpModel, resolve(out));
  } catch (e) {
    rmSync(tmpData, { force: true });
    rmSync(tmpModel, { force: true });
    throw e;
  }
  return { files: [resolve(out), dataPath], bytes: bytes.length + offset, quantized: quantized.length, weights: quantized };
}
