// Activation ranges of an ONNX model observed in onnxruntime itself: a copy of the model lists the
// wanted intermediate tensors as extra graph outputs, batches of calibration samples run through it,
// and only a running min/max per tensor is kept, so memory does not grow with the sample count. The
// ONNX rewriter's int8 mode uses it for models edgelm's IR does not read (and it is faster than the
// TF.js executor on the models it does).
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import { batches, type Dataset } from '../data/index.js';
import { EdgelmError } from '../errors.js';
import { decodeModel } from '../import/onnx/proto.js';
import { readInputFile } from '../import/files.js';
import { loadOnnxRuntime, type OrtSession } from '../runtime/onnxruntime.js';
import type { Range } from './plan.js';

const { onnx } = onnxProto;

export interface OrtCalibrateOptions {
  limit?: number;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function calibrateOnnx(file: string, data: Dataset, names: readonly string[], opts: OrtCalibrateOptions = {}): Promise<Map<string, Range>> {
  const model = decodeModel(file, readInputFile(file));
  const g = model.graph!;
  const have = new Set((g.output ?? []).map((o) => o.name));
  for (const name of names) if (!have.has(name)) g.output = [...(g.output ?? []), { name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }];
  const input = (g.input ?? []).find((i) => !(g.initializer ?? []).some((t) => t.name === i.name));
  if (!input?.name) throw new EdgelmError('input', `${file}: the model has no input to feed calibration data to`);
  const dims = input.type?.tensorType?.shape?.dim ?? [];
  const first = dims[0];
  const staticBatch = first?.dimValue !== undefined && first.dimValue !== null && Number(first.dimValue) > 0 ? Number(first.dimValue) : undefined;
  const elem = input.type?.tensorType?.elemType;
  // With external data the copy goes beside the source, so that its data files resolve; otherwise to
  // the temp folder. Removed whatever happens.
  const external = (g.initializer ?? []).some((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL);
  const tmp = join(external ? dirname(file) : tmpdir(), `.${basename(file)}.calibrate.${process.pid}.onnx`);
  writeFileSync(tmp, onnx.ModelProto.encode(model).finish());
  const ranges = new Map<string, Range>(names.map((n) => [n, { min: Infinity, max: -Infinity }]));
  const rt = await loadOnnxRuntime();
  const ort = rt.api;
  let session: OrtSession | undefined;
  try {
    session = await rt.open(tmp);
    const n = Math.min(data.shape[0]!, opts.limit ?? 1000);
    const per = data.x.length / data.shape[0]!;
    const sample = dims.slice(1).map((d) => Number(d.dimValue ?? 0));
    const shapeOf = (rows: number): number[] => (sample.every((d) => d > 0) && sample.reduce((p, d) => p * d, 1) === per ? [rows, ...sample] : [rows, ...data.shape.slice(1)]);
    for (const b of batches(data, staticBatch ?? opts.batchSize ?? 16)) {
      if (b.start >= n) break;
      const rows = Math.min(b.shape[0]!, n - b.start);
      if (staticBatch && rows !== staticBatch) break; // a fixed-batch model takes whole batches only
      const x = b.x.subarray(0, rows * per);
      const feed =
        elem === onnx.TensorProto.DataType.INT64 ? new ort.Tensor('int64', BigInt64Array.from(x, (v) => BigInt(v)), shapeOf(rows))
        : elem === onnx.TensorProto.DataType.INT32 ? new ort.Tensor('int32', Int32Array.from(x), shapeOf(rows))
        : new ort.Tensor('float32', x instanceof Float32Array ? x : Float32Array.from(x), shapeOf(rows));
      const out = await session.run({ [input.name]: feed }, [...names]);
      for (const name of names) {
        const d = out[name]!.data as Float32Array;
        const r = ranges.get(name)!;
        for (let i = 0; i < d.length; i++) {
          const v = d[i]!;
          if (v < r.min) r.min = v;
          if (v > r.max) r.max = v;
        }
        if (!Number.isFinite(r.min) || !Number.isFinite(r.max)) throw new EdgelmError('input', `calibration: value '${name}' is NaN or infinite on the calibration data`);
      }
      opts.onProgress?.(b.start + rows, n);
    }
  } finally {
    await session?.release();
    rmSync(tmp, { force: true });
  }
  return ranges;
}
