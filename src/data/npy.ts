// NumPy .npy (format 1.0–3.0): little-endian, C order. Sizes are checked before anything is allocated.
import { inputError } from '../errors.js';
import { DTYPES, type DType, type TypedArray } from '../ir/dtype.js';
import { sizeOf } from '../ir/tensor.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** numpy descr → IR dtype ('<' little-endian, '|' not applicable). */
const DESCR: Record<string, DType> = {
  '<f4': 'float32', '<f8': 'float64', '<f2': 'float16', '<i4': 'int32', '<i8': 'int64', '|u1': 'uint8',
  '|i1': 'int8', '<i2': 'int16', '<u2': 'uint16', '|b1': 'bool',
};
const DESCR_OF = Object.fromEntries(Object.entries(DESCR).map(([k, v]) => [v, k])) as Record<DType, string>;

export interface NdArray {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

export function parseNpy(file: string, bytes: Uint8Array, what = 'array'): NdArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw inputError(file, `${what} is not a .npy array (bad magic)`);
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw inputError(file, `${what}: truncated .npy header`);
    headerLen = view.getUint32(8, true);
    start = 12;
  } else throw inputError(file, `${what}: unsupported .npy format version ${major}`);
  if (start + headerLen > bytes.length) throw inputError(file, `${what}: .npy header runs past the end of the data`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw inputError(file, `${what}: malformed .npy header ${JSON.stringify(header.trim())}`);
  // Byte order means nothing for one-byte types: numpy writes '|u1' but reads '<u1' too.
  const dtype = DESCR[/^[<>=][iub]1$/.test(descr) ? `|${descr.slice(1)}` : descr];
  if (!dtype) throw inputError(file, `${what}: unsupported dtype '${descr}' (little-endian float/int/uint/bool only)`);
  if (fortran === 'True') throw inputError(file, `${what}: Fortran-order arrays are not supported; save with np.ascontiguousarray`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw inputError(file, `${what}: invalid shape (${shapeText})`);
  const n = sizeOf(shape);
  const dataStart = start + headerLen;
  const need = n * DTYPES[dtype].bytes;
  if (!Number.isFinite(n) || need > bytes.length - dataStart)
    throw inputError(file, `${what}: shape (${shape.join(', ')}) of ${descr} needs ${need} bytes, the file holds ${bytes.length - dataStart}`);
  // An owned, aligned copy (Buffer.slice would be a view into a shared pool).
  const copy = new Uint8Array(bytes.subarray(dataStart, dataStart + need));
  const Ctor = DTYPES[dtype].array as unknown as new (b: ArrayBuffer, o: number, n: number) => TypedArray;
  return { dtype, shape, data: new Ctor(copy.buffer as ArrayBuffer, 0, n) };
}

/** Serializes an array as .npy version 1.0 (header padded so data starts 64-byte aligned). */
export function encodeNpy(a: NdArray): Uint8Array {
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '${DESCR_OF[a.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + a.data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), 10 + header.length);
  return out;
}
