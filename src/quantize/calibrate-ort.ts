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
import { loadOnnxRuntime, ortTensor, type OrtSession } from '../runtime/onnxruntime.js';
import { planInputs, type InputSpec } from '../data/feeds.js';
import { isStaticShape, symbolicDim, unnamedDim } from '../ir/dim.js';
import { dtypeFromOnnx } from '../ir/dtype.js';
import { withoutUnquantizable, type Range } from './plan.js';

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
  const initialized = new Set((g.initializer ?? []).map((t) => t.name));
  const specs: InputSpec[] = (g.input ?? []).filter((i) => i.name && !initialized.has(i.name)).map((i) => ({
    name: i.name!,
    shape: (i.type?.tensorType?.shape?.dim ?? []).map((d, k) => (Number(d.dimValue ?? 0) > 0 ? Number(d.dimValue) : d.dimParam ? symbolicDim(d.dimParam) : unnamedDim(i.name!, k))),
    dtype: dtypeFromOnnx(i.type?.tensorType?.elemType ?? 1) ?? 'float32',
  }));
  const input = specs[0];
  if (!input) throw new EdgelmError('input', `${file}: the model has no input to feed calibration data to`);
  const others = planInputs(data, specs);
  const staticBatch = typeof input.shape[0] === 'number' ? input.shape[0] : undefined;
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
    const sample = input.shape.slice(1);
    const shapeOf = (rows: number): number[] => (isStaticShape(sample) && sample.reduce((p, d) => p * d, 1) === per ? [rows, ...sample] : [rows, ...data.shape.slice(1)]);
    for (const b of batches(data, staticBatch ?? opts.batchSize ?? 16)) {
      if (b.start >= n) break;
      const rows = Math.min(b.shape[0]!, n - b.start);
      if (staticBatch && rows !== staticBatch) break; // a fixed-batch model takes whole batches only
      const x = b.x.subarray(0, rows * per);
      const shape = shapeOf(rows);
      const feeds = { [input.name]: ortTensor(ort, input.dtype, x, shape) };
      for (const a of others.batch(b.start, shape)) feeds[a.name] = ortTensor(ort, specs.find((i) => i.name === a.name)!.dtype, a.data, a.shape);
      const out = await session.run(feeds, [...names]);
      for (const name of names) {
        const d = out[name]!.data as Float32Array;
        const r = ranges.get(name)!;
        for (let i = 0; i < d.length; i++) { // an empty tensor leaves the range unobserved (dropped at the end)
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
  return withoutUnquantizable(ranges);
}
