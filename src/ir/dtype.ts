/**
 * The one dtype table: each IR dtype with its TypedArray, byte size and its codes in ONNX
 * (TensorProto.DataType) and TFLite (TensorType). Everything else derives from it.
 */
export const DTYPES = {
  float32: { array: Float32Array, bytes: 4, onnx: 1, tflite: 0, float: true },
  float16: { array: Uint16Array, bytes: 2, onnx: 10, tflite: 1, float: true }, // raw IEEE half bits
  float64: { array: Float64Array, bytes: 8, onnx: 11, tflite: 10, float: true },
  int8: { array: Int8Array, bytes: 1, onnx: 3, tflite: 9, float: false },
  uint8: { array: Uint8Array, bytes: 1, onnx: 2, tflite: 3, float: false },
  int16: { array: Int16Array, bytes: 2, onnx: 5, tflite: 7, float: false },
  uint16: { array: Uint16Array, bytes: 2, onnx: 4, tflite: 16, float: false },
  int32: { array: Int32Array, bytes: 4, onnx: 6, tflite: 2, float: false },
  int64: { array: BigInt64Array, bytes: 8, onnx: 7, tflite: 4, float: false },
  bool: { array: Uint8Array, bytes: 1, onnx: 9, tflite: 6, float: false },
} as const;

export type DType = keyof typeof DTYPES;
type ArrayOf<C> = C extends Float32ArrayConstructor ? Float32Array
  : C extends Float64ArrayConstructor ? Float64Array
  : C extends Int8ArrayConstructor ? Int8Array
  : C extends Uint8ArrayConstructor ? Uint8Array
  : C extends Int16ArrayConstructor ? Int16Array
  : C extends Uint16ArrayConstructor ? Uint16Array
  : C extends Int32ArrayConstructor ? Int32Array
  : C extends BigInt64ArrayConstructor ? BigInt64Array
  : never;
export type TypedArrayOf<D extends DType> = ArrayOf<(typeof DTYPES)[D]['array']>;
export type TypedArray = TypedArrayOf<DType>;

export const isDType = (s: string): s is DType => Object.hasOwn(DTYPES, s);
export const isFloatDType = (d: DType): boolean => DTYPES[d].float;

export function dtypeFromOnnx(code: number): DType | undefined {
  return (Object.keys(DTYPES) as DType[]).find((d) => DTYPES[d].onnx === code);
}
export function dtypeFromTflite(code: number): DType | undefined {
  return (Object.keys(DTYPES) as DType[]).find((d) => DTYPES[d].tflite === code);
}

export function allocate<D extends DType>(dtype: D, length: number): TypedArrayOf<D> {
  const Ctor = DTYPES[dtype].array as unknown as new (n: number) => TypedArrayOf<D>;
  return new Ctor(length);
}
