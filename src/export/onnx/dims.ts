// Run-time dims in the ONNX writer: an attribute holding symbols (a Reshape target `[batch, seq,
// 768]`, Range bounds `past .. past + seq`) becomes a small int64 computation on the graph inputs'
// shapes — Shape(input, start=k, end=k+1) per symbol, then Mul/Add/Div — the way exporters write it.
import { EdgelmError } from '../../errors.js';
import { dimSymbols, isStaticDim, symbolicDim, type Dim } from '../../ir/dim.js';
import type { Graph } from '../../ir/graph.js';
import { opDef } from '../../ir/registry.js';
import { hasValueInputs, valueDim } from '../../ir/value-dims.js';
import { attr, type OnnxAttr } from './proto.js';

/** What the dim writer needs of the ONNX writer. */
export interface DimHost {
  readonly graph: Graph;
  readonly file: string;
  ints(base: string, v: readonly number[]): string;
  op(type: string, inputs: string[], attrs?: Record<string, OnnxAttr>): string;
}

export class DimWriter {
  private readonly cache = new Map<string, string>();
  constructor(private readonly w: DimHost) {}

  /** A 1-D int64 tensor of `dims`: a constant when static, else computed from the inputs' shapes. */
  vector(dims: readonly Dim[], base: string): string {
    if (dims.every(isStaticDim)) return this.w.ints(base, dims as number[]);
    const parts: string[] = [];
    let run: number[] = [];
    const flush = (): void => {
      if (run.length) parts.push(this.w.ints(base, run));
      run = [];
    };
    for (const d of dims) {
      if (isStaticDim(d)) run.push(d);
      else {
        flush();
        parts.push(this.one(d));
      }
    }
    flush();
    return parts.length === 1 ? parts[0]! : this.w.op('Concat', parts, { axis: attr.i(0) });
  }

  /** A 0-D int64 tensor of one dim (Range bounds). */
  scalar(d: Dim, base: string): string {
    return this.w.op('Reshape', [this.vector([d], base), this.w.ints(`${base}/scalar_shape`, [])]);
  }

  /** [1] int64 holding a symbolic dim: a sum of terms, each a product of symbols times a constant. */
  private one(d: string): string {
    const hit = this.cache.get(d);
    if (hit) return hit;
    let value: string;
    const floor = /^floor\(\((.*)\)\/(\d+)\)$/.exec(d);
    if (floor) value = this.w.op('Div', [this.one(String(symbolicDim(floor[1]!))), this.w.ints('divisor', [Number(floor[2])])]);
    else if (dimSymbols(d).length === 1 && dimSymbols(d)[0] === d) value = this.atom(d);
    else {
      let sum: string | undefined;
      for (const term of splitTerms(d)) {
        let prod: string | undefined;
        for (const f of term.factors) {
          const t = /^\d+$/.test(f) ? this.w.ints('k', [Number(f)]) : this.one(f);
          prod = prod ? this.w.op('Mul', [prod, t]) : t;
        }
        prod ??= this.w.ints('one', [1]);
        if (term.negative) prod = this.w.op('Neg', [prod]);
        sum = sum ? this.w.op('Add', [sum, prod]) : prod;
      }
      value = sum!;
    }
    this.cache.set(d, value);
    return value;
  }

  /** Shape(input, k, k+1) of the first graph input whose dim k is this symbol. */
  private atom(sym: string): string {
    for (const i of this.w.graph.inputs) {
      const k = i.shape.indexOf(sym);
      if (k >= 0) return this.w.op('Shape', [i.name], { start: attr.i(k), end: attr.i(k + 1) });
    }
    // A dim decided by run-time values (src/ir/value-dims.ts): read from the tensor that has it.
    const k = Number(/_v(\d+)$/.exec(sym)?.[1] ?? -1);
    for (const n of this.w.graph.nodes)
      if (k >= 0 && hasValueInputs(opDef(n.op), n))
        for (const [j, o] of n.outputs.entries()) if (valueDim(n.name, k, j) === sym) return this.w.op('Shape', [o], { start: attr.i(k), end: attr.i(k + 1) });
    throw new EdgelmError('unsupported', `${this.w.file}: the run-time dim '${sym}' is not a dim of any graph input, so the ONNX writer cannot compute it`);
  }
}

/** Terms of a canonical dim string (`2*a*b - c + 3`): sign and '*'-separated factors. */
function splitTerms(d: string): { negative: boolean; factors: string[] }[] {
  const out: { negative: boolean; factors: string[] }[] = [];
  let depth = 0;
  let start = 0;
  let negative = false;
  const push = (end: number): void => {
    const t = d.slice(start, end).trim();
    if (t) out.push({ negative, factors: splitFactors(t) });
  };
  for (let i = 0; i < d.length; i++) {
    const ch = d[i]!;
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && (ch === '+' || ch === '-') && i > 0) {
      push(i);
      negative = ch === '-';
      start = i + 1;
    } else if (depth === 0 && ch === '-' && i === 0) {
      negative = true;
      start = 1;
    }
  }
  push(d.length);
  return out;
}

function splitFactors(t: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < t.length; i++) {
    const ch = t[i]!;
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && ch === '*') {
      out.push(t.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(t.slice(start).trim());
  return out;
}
