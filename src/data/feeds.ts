// The arrays a batch of samples gives a model's inputs beyond the first. The first input takes the
// data's samples (x); every other input takes the dataset's array of the same name (an .npz holds one
// per input), or, for the inputs a Hugging Face-style language model has, what the model expects on a
// first pass without cache: attention_mask all ones, position_ids 0…T−1, token_type_ids zeros and an
// empty past (past length 0). Any other input without data is refused by name before any work: zeros
// for an unknown input would calibrate ranges the model never sees.
import { inputError } from '../errors.js';
import { bindShape, dimSymbols, evalDim, type Dim } from '../ir/dim.js';
import { sizeOf } from '../ir/tensor.js';
import type { Dataset } from './index.js';

/** A model input as the runtimes and the IR describe it. */
export interface InputSpec {
  name: string;
  shape: readonly Dim[];
  dtype: string;
}

/** One input's values for a batch, row-major. Integer inputs as int32, float ones as float32. */
export interface InputArray {
  name: string;
  data: Float32Array | Int32Array;
  shape: number[];
}

type Fill = 'ones' | 'zeros' | 'positions';

/** The value a language model's input takes on a first pass without cache, by its conventional name. */
function conventionalFill(name: string): Fill | undefined {
  const base = name.split(/[./:]/).pop()!;
  if (/^(attention_mask|encoder_attention_mask)$/.test(base)) return 'ones';
  if (/^(position_ids)$/.test(base)) return 'positions';
  if (/^(token_type_ids)$/.test(base)) return 'zeros';
  if (/^past[._]|^past$|past_key_values/.test(name)) return 'zeros';
  return undefined;
}

const isFloat = (dtype: string): boolean => dtype.startsWith('float') || dtype === 'bfloat16';

/**
 * How each input after the first gets its values: the dataset's array, or a conventional fill. Throws,
 * naming the input, when neither applies, so commands fail before they write anything.
 */
export function planInputs(ds: Dataset, inputs: readonly InputSpec[]): InputPlan {
  const n = ds.shape[0]!;
  const others = inputs.slice(1).map((input) => {
    const given = ds.others?.[input.name];
    if (given) {
      if (given.shape[0] !== n) throw inputError(ds.source, `array '${input.name}' has ${given.shape[0]} rows, x has ${n}`);
      return { input, given };
    }
    const fill = conventionalFill(input.name);
    if (!fill)
      throw inputError(ds.source, `no data for model input '${input.name}' [${input.shape.join(', ')}]: add an array named '${input.name}' to an .npz (attention_mask, position_ids, token_type_ids and past_* inputs have defaults)`);
    return { input, fill };
  });
  return new InputPlan(ds.source, inputs[0]?.shape ?? [], others);
}

export class InputPlan {
  constructor(
    private readonly source: string,
    private readonly first: readonly Dim[],
    private readonly others: readonly { input: InputSpec; given?: { data: Float32Array | Int32Array; shape: number[] }; fill?: Fill }[],
  ) {}

  /** Whether the model reads more than the samples. */
  get needed(): boolean {
    return this.others.length > 0;
  }

  /**
   * The other inputs' arrays for rows [start, start + rows) of the data, whose first input has shape
   * `xShape`. Rows past the data's end (a static batch padded) are zeros in given arrays.
   */
  batch(start: number, xShape: readonly number[]): InputArray[] {
    const rows = xShape[0]!;
    // Symbols the first input binds (batch, sequence length); a past length nobody binds is 0.
    const bindings = new Map<string, number>();
    bindShape(this.first, xShape, bindings);
    return this.others.map(({ input, given, fill }) => {
      const int = !isFloat(input.dtype);
      if (given) {
        const per = sizeOf(given.shape.slice(1));
        const data = new (given.data.constructor as Int32ArrayConstructor | Float32ArrayConstructor)(rows * per);
        const end = Math.min(given.shape[0]!, start + rows);
        if (end > start) data.set(given.data.subarray(start * per, end * per));
        // Token ids stored as floats, or a float input stored as integers: the model's type wins.
        const typed = int === data instanceof Int32Array ? data : int ? Int32Array.from(data) : Float32Array.from(data);
        // An input with no batch axis (an LSTM state [layers, 1, hidden]) takes one sample's array whole.
        const sample = given.shape.slice(1);
        if (sample.length === input.shape.length) {
          if (rows !== 1) throw inputError(this.source, `array '${input.name}' [${given.shape.join(', ')}]: model input [${input.shape.join(', ')}] has no batch axis, so it takes one sample per run, not ${rows}`);
          return { name: input.name, data: typed, shape: sample };
        }
        return { name: input.name, data: typed, shape: [rows, ...sample] };
      }
      const shape = input.shape.map((d, i) => {
        const v = evalDim(d, bindings) ?? evalDim(d, withPastZero(d, bindings));
        if (v === undefined) throw inputError(this.source, `model input '${input.name}': cannot size dim ${i} (${d}) from the data's shape [${xShape.join(', ')}]`);
        return v;
      });
      const size = sizeOf(shape);
      const data = int ? new Int32Array(size) : new Float32Array(size);
      if (fill === 'ones') data.fill(1);
      if (fill === 'positions') {
        const t = shape[shape.length - 1] ?? 1;
        for (let i = 0; i < size; i++) data[i] = i % t;
      }
      return { name: input.name, data, shape };
    });
  }
}

/** `bindings` with every unbound symbol of `d` that names a past length set to 0. */
function withPastZero(d: Dim, bindings: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map(bindings);
  for (const atom of dimSymbols(d)) if (/past/i.test(atom) && !out.has(atom)) out.set(atom, 0);
  return out;
}
