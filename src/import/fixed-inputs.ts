// Inputs a user fixes before the graph is read (`--shape NAME=1x512`, `--input-value NAME=16000`):
// a reader applies them while it declares the inputs, so everything that needs a static size or a
// constant (an unrolled LSTM, an If on a sample-rate input) folds at import as if the model had
// been exported that way.
import { usageError } from '../errors.js';
import { DTYPES, allocate, type DType } from '../ir/dtype.js';
import { bindShape, substituteDim, type Dim } from '../ir/dim.js';
import type { Tensor } from '../ir/tensor.js';

export interface FixedInputs {
  /** Sizes of an input's dims: its run-time dims become these, in every input that shares them. */
  shapes?: Record<string, number[]>;
  /** An input replaced by a constant with these values (its declared shape; a scalar takes one). */
  values?: Record<string, number[]>;
}

export const hasFixedInputs = (f: FixedInputs | undefined): boolean => Object.keys(f?.shapes ?? {}).length + Object.keys(f?.values ?? {}).length > 0;

export interface DeclaredInput {
  name: string;
  dtype: DType;
  shape: Dim[];
}

/**
 * The declared inputs with `fixed` applied: `inputs` keeps the ones still fed at run time (shapes
 * bound), `constants` the ones given values. Names that match no input, and shapes or values that
 * disagree with the declaration, are usage errors naming the flag.
 */
export function applyFixedInputs(file: string, declared: readonly DeclaredInput[], fixed: FixedInputs = {}): { inputs: DeclaredInput[]; constants: Tensor[] } {
  const names = declared.map((d) => d.name);
  const find = (flag: string, name: string): DeclaredInput => {
    const d = declared.find((x) => x.name === name);
    if (!d) throw usageError(`${flag} ${name}: ${file} has no input '${name}' (inputs: ${names.join(', ')})`);
    return d;
  };
  const bindings = new Map<string, number>();
  for (const [name, sizes] of Object.entries(fixed.shapes ?? {})) {
    const d = find('--shape', name);
    const err = bindShape(d.shape, sizes, bindings);
    if (err) throw usageError(`--shape ${name}=${sizes.join('x')}: ${err} (declared [${d.shape.join(', ')}])`);
  }
  const bound = declared.map((d) => ({ ...d, shape: d.shape.map((x) => substituteDim(x, bindings)) }));
  const constants: Tensor[] = [];
  for (const [name, values] of Object.entries(fixed.values ?? {})) {
    const d = bound.find((x) => x.name === name) ?? find('--input-value', name);
    if (fixed.shapes && Object.hasOwn(fixed.shapes, name)) throw usageError(`--input-value ${name} and --shape ${name}: give an input a value or a shape, not both`);
    constants.push(constantInput(d, values));
  }
  const valued = new Set(constants.map((c) => c.name));
  return { inputs: bound.filter((d) => !valued.has(d.name)), constants };
}

function constantInput(d: DeclaredInput, values: number[]): Tensor {
  const flag = `--input-value ${d.name}`;
  if (d.shape.some((x) => typeof x !== 'number')) throw usageError(`${flag}: the input's shape [${d.shape.join(', ')}] has run-time dims; fix them with --shape first, or give a scalar input`);
  const shape = d.shape as number[];
  const n = shape.reduce((a, b) => a * b, 1);
  if (values.length !== n) throw usageError(`${flag}: ${values.length} value${values.length === 1 ? '' : 's'} for shape [${shape.join(', ')}] (${n} expected)`);
  if (!DTYPES[d.dtype].float && values.some((v) => !Number.isInteger(v))) throw usageError(`${flag}: the input is ${d.dtype}, and ${values.find((v) => !Number.isInteger(v))} is not an integer`);
  if (d.dtype === 'bool' && values.some((v) => v !== 0 && v !== 1)) throw usageError(`${flag}: a bool input takes 0 or 1`);
  // Float constants are float32 in the IR (readers widen float16/float64 weights the same way).
  const dtype: DType = DTYPES[d.dtype].float ? 'float32' : d.dtype;
  const data = allocate(dtype, n);
  values.forEach((v, i) => {
    if (data instanceof BigInt64Array || data instanceof BigUint64Array) data[i] = BigInt(v);
    else (data as Float32Array)[i] = v;
  });
  return { name: d.name, dtype, shape, data };
}
