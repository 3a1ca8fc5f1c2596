// Weight manifests of TF.js models (model.json "weightsManifest"), shared by the Layers and Graph readers.
import { inputError } from '../errors.js';
import { DTYPES, type DType } from '../ir/dtype.js';
import { decodeHalfs } from '../ir/float16.js';
import { sizeOf, type Tensor } from '../ir/tensor.js';
import { isRecord, readInputFile, resolveInside } from './files.js';

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: DType;
  /** How the bytes are stored when the converter quantized them. */
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; min?: number; scale?: number };
}

const STORED_BYTES = { uint8: 1, uint16: 2, float16: 2 } as const;

/** Parses and validates the manifest; returns specs in storage order with their shard paths. */
export function parseManifest(file: string, manifest: unknown): { paths: string[]; specs: WeightSpec[] }[] {
  if (!Array.isArray(manifest)) throw inputError(file, 'weightsManifest must be an array');
  return manifest.map((group, g) => {
    if (!isRecord(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights))
      throw inputError(file, `weightsManifest[${g}] needs "paths" and "weights" arrays`);
    const paths = group.paths.map((p, i) => {
      if (typeof p !== 'string') throw inputError(file, `weightsManifest[${g}].paths[${i}] is not a string`);
      return p;
    });
    const specs = group.weights.map((w, i): WeightSpec => {
      const at = `weightsManifest[${g}].weights[${i}]`;
      if (!isRecord(w) || typeof w.name !== 'string') throw inputError(file, `${at} needs a "name"`);
      const where = `weight '${w.name}'`;
      if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
        throw inputError(file, `${where}: shape must be a list of non-negative integers`);
      const dtype = w.dtype;
      if (typeof dtype !== 'string' || !['float32', 'int32', 'bool', 'uint8', 'int8', 'int16', 'uint16', 'int64', 'float16'].includes(dtype))
        throw inputError(file, `${where}: unsupported dtype ${JSON.stringify(dtype)}`);
      const spec: WeightSpec = { name: w.name, shape: w.shape as number[], dtype: dtype as DType };
      if (w.quantization !== undefined) {
        const q = w.quantization;
        if (!isRecord(q) || (q.dtype !== 'uint8' && q.dtype !== 'uint16' && q.dtype !== 'float16'))
          throw inputError(file, `${where}: quantization.dtype must be uint8, uint16 or float16`);
        if (q.dtype !== 'float16' && !(Number.isFinite(q.min) && Number.isFinite(q.scale)))
          throw inputError(file, `${where}: quantization needs finite "min" and "scale"`);
        spec.quantization = { dtype: q.dtype, min: q.min as number | undefined, scale: q.scale as number | undefined };
      }
      return spec;
    });
    return { paths, specs };
  });
}

/** Reads every weight named in the manifest, dequantizing converter-quantized ones to float32. */
export function readWeights(modelFile: string, manifest: unknown): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const { paths, specs } of parseManifest(modelFile, manifest)) {
    // A group's shards are one byte stream split into files.
    const shards = paths.map((p) => readInputFile(resolveInside(modelFile, p, 'weight shard')));
    const bytes = shards.length === 1 ? shards[0]! : Buffer.concat(shards);
    let offset = 0;
    for (const spec of specs) {
      const n = sizeOf(spec.shape);
      if (!Number.isFinite(n)) throw inputError(modelFile, `weight '${spec.name}': shape [${spec.shape}] overflows`);
      const q = spec.quantization;
      const itemBytes = q ? STORED_BYTES[q.dtype] : DTYPES[spec.dtype].bytes;
      const length = n * itemBytes;
      if (offset + length > bytes.length)
        throw inputError(modelFile, `weight '${spec.name}' needs bytes ${offset}..${offset + length} but the shards hold only ${bytes.length}`);
      const raw = bytes.subarray(offset, offset + length);
      offset += length;
      out.set(spec.name, decode(spec, raw, n));
    }
  }
  return out;
}

function decode(spec: WeightSpec, raw: Buffer, n: number): Tensor {
  const copy = new Uint8Array(raw); // aligned copy, independent of the file buffer
  const q = spec.quantization;
  if (!q) {
    const Ctor = DTYPES[spec.dtype].array as unknown as new (b: ArrayBuffer, o: number, n: number) => Tensor['data'];
    return { name: spec.name, dtype: spec.dtype, shape: spec.shape, data: new Ctor(copy.buffer, 0, n) };
  }
  let values: Float32Array;
  if (q.dtype === 'float16') values = decodeHalfs(new Uint16Array(copy.buffer, 0, n));
  else {
    // tensorflowjs_converter affine storage: value = q·scale + min.
    const codes = q.dtype === 'uint8' ? copy : new Uint16Array(copy.buffer, 0, n);
    values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = codes[i]! * q.scale! + q.min!;
  }
  if (spec.dtype === 'int32') return { name: spec.name, dtype: 'int32', shape: spec.shape, data: Int32Array.from(values, Math.round) };
  return { name: spec.name, dtype: 'float32', shape: spec.shape, data: values };
}
