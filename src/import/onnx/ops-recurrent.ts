// ONNX → IR for the recurrences RNN, GRU and LSTM, unrolled over a static sequence length into
// existing IR ops (matMul, add, activations, where), so every writer carries them. The input
// projection X·Wᵀ + bias is one matMul over the whole sequence; each step adds H·Rᵀ. Merged into
// ONNX_OPS (ops.ts).
import { EdgelmError } from '../../errors.js';
import { isStaticDim } from '../../ir/dim.js';
import type { Attrs } from '../../ir/graph.js';
import type { OpType } from '../../ir/registry.js';
import { attrFloat, attrInt, attrStr, values, type OnnxCtx, type Translate } from './ctx.js';

type Family = 'RNN' | 'GRU' | 'LSTM';
/** Gates per family, in ONNX weight order: RNN [i], GRU [z r h], LSTM [i o f c]. */
const GATES: Record<Family, number> = { RNN: 1, GRU: 3, LSTM: 4 };
const DEFAULT_ACTS: Record<Family, string[]> = { RNN: ['Tanh'], GRU: ['Sigmoid', 'Tanh'], LSTM: ['Sigmoid', 'Tanh', 'Tanh'] };

/** An activation applied to an IR value. */
type Act = (x: string, what: string) => string;

const broken = (c: OnnxCtx, what: string): EdgelmError => new EdgelmError('input', `${c.file}: node ${c.name} (${c.opType}): ${what}`);

class Unroll {
  constructor(readonly c: OnnxCtx) {}
  op(op: OpType, inputs: string[], what: string, attrs: Attrs = {}): string {
    return this.c.b.add1(op, inputs, attrs, { name: `${this.c.name}/${what}`, source: this.c.name });
  }
  scalar(v: number, what: string): string {
    return this.c.b.addConstant({ name: `${this.c.name}/${what}`, dtype: 'float32', shape: [], data: Float32Array.of(v) });
  }
  /** A float32 constant's data, if `v` is one: weights sliced here stay constants, which the quantizer takes. */
  private konst(v: string): Float32Array | undefined {
    const k = this.c.b.constant(v);
    return k && k.dtype === 'float32' ? (k.data as Float32Array) : undefined;
  }
  private folded(what: string, shape: number[], data: Float32Array): string {
    return this.c.b.addConstant({ name: `${this.c.name}/${what}`, dtype: 'float32', shape, data });
  }
  /** Rows [from, to) of the first axis. */
  rows(x: string, from: number, to: number, what: string): string {
    const k = this.konst(x);
    if (k) {
      const shape = this.c.typeOf(x).shape as number[];
      const row = shape.slice(1).reduce((a, b) => a * b, 1);
      return this.folded(what, [to - from, ...shape.slice(1)], k.slice(from * row, to * row));
    }
    return this.op('slice', [x], what, { starts: [from], ends: [to], axes: [0], steps: [1] });
  }
  /** Direction d of a [dirs, …] input, without the dirs axis. */
  dir(x: string, d: number, what: string): string {
    const r = this.rows(x, d, d + 1, `${what}_d`);
    const k = this.konst(r);
    if (k) return this.folded(what, (this.c.typeOf(r).shape as number[]).slice(1), k);
    return this.op('squeeze', [r], what, { axes: [0] });
  }
  /** a + b, or a · b, folded when both are constants of one shape. */
  arith(op: 'add' | 'mul', a: string, b: string, what: string): string {
    const [ka, kb] = [this.konst(a), this.konst(b)];
    if (ka && kb && ka.length === kb.length) return this.folded(what, this.c.typeOf(a).shape as number[], ka.map((v, i) => (op === 'add' ? v + kb[i]! : v * kb[i]!)));
    return this.op(op, [a, b], what);
  }
  add(a: string | undefined, b: string, what: string): string {
    return a === undefined ? b : this.op('add', [a, b], what);
  }
}

/** The activation named `name` (ONNX's list for recurrences), alpha/beta from the attribute lists. */
function activation(u: Unroll, name: string, alpha: number | undefined, beta: number | undefined): Act {
  const simple = (op: OpType, attrs: Attrs = {}): Act => (x, what) => u.op(op, [x], what, attrs);
  switch (name.toLowerCase()) {
    case 'sigmoid': return simple('sigmoid');
    case 'tanh': return simple('tanh');
    case 'relu': return simple('relu');
    case 'softsign': return simple('softsign');
    case 'softplus': return simple('softplus');
    case 'leakyrelu': return simple('leakyRelu', { alpha: alpha ?? 0.01 });
    case 'thresholdedrelu': return simple('thresholdedRelu', { alpha: alpha ?? 1 });
    case 'elu': return simple('elu', { alpha: alpha ?? 1 });
    case 'hardsigmoid': return simple('hardSigmoid', { alpha: alpha ?? 0.2, beta: beta ?? 0.5 });
    case 'affine': return (x, what) => u.op('add', [u.op('mul', [x, u.scalar(alpha ?? 1, `${what}_alpha`)], `${what}_scaled`), u.scalar(beta ?? 0, `${what}_beta`)], what);
    case 'scaledtanh': return (x, what) =>
      u.op('mul', [u.op('tanh', [u.op('mul', [x, u.scalar(beta ?? 1, `${what}_beta`)], `${what}_in`)], `${what}_tanh`), u.scalar(alpha ?? 1, `${what}_alpha`)], what);
    default: throw u.c.fail(`activation '${name}' is not supported`);
  }
}

function recurrence(family: Family): Translate {
  return (c) => {
    const u = new Unroll(c);
    const hidden = attrInt(c, 'hidden_size', 0);
    const direction = attrStr(c, 'direction', 'forward');
    const layout = attrInt(c, 'layout', 0);
    const clip = c.attrs.has('clip') ? attrFloat(c, 'clip', Infinity) : undefined;
    const lbr = attrInt(c, 'linear_before_reset', 0) !== 0;
    if (family === 'LSTM' && attrInt(c, 'input_forget', 0) !== 0) throw c.fail('input_forget=1 (coupled input and forget gates) is not supported');
    if (!['forward', 'reverse', 'bidirectional'].includes(direction)) throw broken(c, `direction '${direction}' is not one of forward, reverse, bidirectional`);
    if (layout !== 0 && layout !== 1) throw broken(c, `layout ${layout} is not 0 or 1`);
    const dirs = direction === 'bidirectional' ? 2 : 1;
    const [xIn, w, r, bias, seqLens, h0In, c0In, peep] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => c.input(i)) as [string, string, string, string, string, string, string, string];
    if (!xIn || !w || !r) throw broken(c, 'needs inputs X, W and R');
    const xt = c.typeOf(xIn);
    if (xt.dtype !== 'float32') throw c.fail(`${xt.dtype} inputs are not supported (float32 only)`);
    if (xt.shape.length !== 3) throw broken(c, `X must have rank 3 (got [${xt.shape}])`);
    const gates = GATES[family];
    const wShape = c.typeOf(w).shape;
    if (!hidden && isStaticDim(wShape[1]!)) throw broken(c, 'hidden_size is missing');
    const H = hidden || (wShape[1] as number) / gates;
    if (wShape.length !== 3 || (isStaticDim(wShape[1]!) && wShape[1] !== gates * H)) throw broken(c, `W of shape [${wShape}] does not hold ${gates} gates of hidden_size ${H}`);
    // Layout 1 is batch-major: the unrolling works on [seq, batch, …].
    const x = layout === 1 ? u.op('transpose', [xIn], 'x_seq_major', { perm: [1, 0, 2] }) : xIn;
    const T = c.typeOf(x).shape[0]!;
    if (!isStaticDim(T)) throw c.fail(`the sequence length is a run-time dim (${T}); edgelm unrolls recurrences over a static sequence length (fix it with --shape NAME=DIMS)`);
    if (T < 1) throw c.fail('an empty sequence is not supported');
    const batchMajor = (v: string, what: string): string => (layout === 1 && v ? u.op('transpose', [v], what, { perm: [1, 0, 2] }) : v);
    const h0 = batchMajor(h0In, 'initial_h_dirs');
    const c0 = family === 'LSTM' ? batchMajor(c0In, 'initial_c_dirs') : '';

    // Activations: one list for all directions, the forward's first; alpha/beta consumed in order by the ones that take them.
    const names = c.attrs.get('activations');
    const perDir = DEFAULT_ACTS[family].length;
    const actNames = names && typeof names === 'object' && 'strings' in names ? names.strings : [];
    if (names !== undefined && !actNames.length) throw broken(c, 'activations is not a list of strings');
    const list = actNames.length ? actNames : Array.from({ length: dirs }, () => DEFAULT_ACTS[family]).flat();
    if (list.length !== perDir * dirs) throw broken(c, `${list.length} activations for ${dirs} direction(s) (needs ${perDir * dirs})`);
    const alphas = (c.attrs.get('activation_alpha') as number[] | undefined) ?? [];
    const betas = (c.attrs.get('activation_beta') as number[] | undefined) ?? [];
    let ai = 0;
    let bi = 0;
    const acts = list.map((name) => {
      const lower = name.toLowerCase();
      const takesAlpha = ['leakyrelu', 'thresholdedrelu', 'elu', 'hardsigmoid', 'affine', 'scaledtanh'].includes(lower);
      const takesBeta = ['hardsigmoid', 'affine', 'scaledtanh'].includes(lower);
      return activation(u, name, takesAlpha ? alphas[ai++] : undefined, takesBeta ? betas[bi++] : undefined);
    });

    // Steps whose batch entry is past its sequence_lens keep the state and output zeros; all-full constant lengths need no mask.
    let mask: ((t: number) => string) | undefined;
    if (seqLens) {
      const k = c.konst(4);
      const full = k && values(k).every((v) => v === T);
      if (!full) {
        const lens = c.typeOf(seqLens).dtype === 'int32' ? seqLens : u.op('cast', [seqLens], 'seq_lens_i32', { to: 'int32' });
        const lens2 = u.op('unsqueeze', [lens], 'seq_lens_col', { axes: [1] });
        mask = (t) => u.op('less', [c.b.addConstant({ name: `${c.name}/t${t}`, dtype: 'int32', shape: [], data: Int32Array.of(t) }), lens2], `valid_t${t}`);
      }
    }

    const ys: string[] = [];
    const yhs: string[] = [];
    const ycs: string[] = [];
    for (let d = 0; d < dirs; d++) {
      const reverse = direction === 'reverse' || d === 1;
      const [f, g, hAct] = acts.slice(d * perDir, (d + 1) * perDir) as [Act, Act?, Act?];
      const pre = (v: string, what: string): string => (clip === undefined ? v : u.op('clip', [v], `${what}_clip`, { min: -clip, max: clip }));
      const wd = u.dir(w, d, `W${d}`);
      const rd = u.dir(r, d, `R${d}`);
      // Bias of the input projection: Wb + Rb, except GRU's h gate whose Rb stays inside the reset product.
      let inBias: string | undefined;
      let rbh: string | undefined;
      if (bias) {
        const bd = u.dir(bias, d, `B${d}`);
        const wb = u.rows(bd, 0, gates * H, `Wb${d}`);
        const rb = u.rows(bd, gates * H, 2 * gates * H, `Rb${d}`);
        if (family === 'GRU') {
          const zrOnly = c.b.addConstant({ name: `${c.name}/zr_mask`, dtype: 'float32', shape: [3 * H], data: Float32Array.from({ length: 3 * H }, (_, i) => (i < 2 * H ? 1 : 0)) });
          inBias = u.arith('add', wb, u.arith('mul', rb, zrOnly, `Rb_zr${d}`), `in_bias${d}`);
          rbh = u.rows(rb, 2 * H, 3 * H, `Rb_h${d}`);
        } else inBias = u.arith('add', wb, rb, `in_bias${d}`);
      }
      let proj = u.op('matMul', [x, wd], `x_proj${d}`, { transposeB: true });
      if (inBias) proj = u.op('add', [proj, inBias], `x_proj_b${d}`);
      const steps = T === 1 ? [proj] : c.b.add('split', [proj], { axis: 0, sizes: Array<number>(T).fill(1) }, { name: `${c.name}/x_steps${d}`, source: c.name });
      const rzr = family === 'GRU' && !lbr ? u.rows(rd, 0, 2 * H, `R_zr${d}`) : undefined;
      const rh = family === 'GRU' && !lbr ? u.rows(rd, 2 * H, 3 * H, `R_h${d}`) : undefined;
      const pd = family === 'LSTM' && peep ? u.dir(peep, d, `P${d}`) : undefined;
      const peeps = pd ? [0, 1, 2].map((i) => u.rows(pd, i * H, (i + 1) * H, `P${d}_${'iof'[i]}`)) : undefined;
      let h: string | undefined = h0 ? u.dir(h0, d, `h0_${d}`) : undefined;
      let cell: string | undefined = c0 ? u.dir(c0, d, `c0_${d}`) : undefined;
      const out: string[] = new Array<string>(T);
      for (let s = 0; s < T; s++) {
        const t = reverse ? T - 1 - s : s;
        const tag = `${d}_t${t}`;
        const xs = u.op('squeeze', [steps[t]!], `x${tag}`, { axes: [0] });
        const splitGates = (v: string, n: number, what: string): string[] =>
          n === 1 ? [v] : c.b.add('split', [v], { axis: 1, sizes: Array<number>(n).fill(H) }, { name: `${c.name}/${what}`, source: c.name });
        let hNew: string;
        let cNew: string | undefined;
        if (family === 'RNN') {
          hNew = f(pre(u.add(h && u.op('matMul', [h, rd], `hr${tag}`, { transposeB: true }), xs, `gate${tag}`), `gate${tag}`), `h${tag}`);
        } else if (family === 'GRU') {
          const [xz, xr, xh] = splitGates(xs, 3, `x_gates${tag}`) as [string, string, string];
          let hz: string | undefined, hr: string | undefined, hh: string | undefined;
          if (h && lbr) {
            const all = u.op('matMul', [h, rd], `hR${tag}`, { transposeB: true });
            [hz, hr, hh] = splitGates(all, 3, `h_gates${tag}`);
          } else if (h) [hz, hr] = splitGates(u.op('matMul', [h, rzr!], `hR_zr${tag}`, { transposeB: true }), 2, `h_gates${tag}`);
          const z = f(pre(u.add(hz, xz, `z_in${tag}`), `z${tag}`), `z${tag}`);
          const rg = f(pre(u.add(hr, xr, `r_in${tag}`), `r${tag}`), `r${tag}`);
          // The candidate: linear_before_reset applies the reset gate after (H·Rhᵀ + Rbh), else before the product.
          let rec: string | undefined;
          if (lbr) rec = hh || rbh ? u.op('mul', [rg, rbh ? u.add(hh, rbh, `hh_b${tag}`) : hh!], `r_hh${tag}`) : undefined;
          else {
            const prod = h ? u.op('matMul', [u.op('mul', [rg, h], `r_h${tag}`), rh!], `rh_R${tag}`, { transposeB: true }) : undefined;
            rec = rbh ? u.add(prod, rbh, `rh_Rb${tag}`) : prod;
          }
          const cand = g!(pre(u.add(rec, xh, `hh_in${tag}`), `hh${tag}`), `hh${tag}`);
          // H = (1 − z)·ĥ + z·H₋₁ = ĥ + z·(H₋₁ − ĥ)
          hNew = h ? u.op('add', [cand, u.op('mul', [z, u.op('sub', [h, cand], `h_diff${tag}`)], `z_diff${tag}`)], `h${tag}`)
            : u.op('mul', [u.op('sub', [u.scalar(1, `one${tag}`), z], `one_z${tag}`), cand], `h${tag}`);
        } else {
          const all = u.add(h && u.op('matMul', [h, rd], `hR${tag}`, { transposeB: true }), xs, `gates${tag}`);
          let [gi, go, gf, gc] = splitGates(all, 4, `gate_split${tag}`) as [string, string, string, string];
          if (peeps && cell) {
            gi = u.op('add', [gi, u.op('mul', [peeps[0]!, cell], `pi_c${tag}`)], `i_peep${tag}`);
            gf = u.op('add', [gf, u.op('mul', [peeps[2]!, cell], `pf_c${tag}`)], `f_peep${tag}`);
          }
          const i = f(pre(gi, `i${tag}`), `i${tag}`);
          const fg = f(pre(gf, `f${tag}`), `f${tag}`);
          const cc = g!(pre(gc, `c_cand${tag}`), `c_cand${tag}`);
          const ic = u.op('mul', [i, cc], `i_c${tag}`);
          cNew = cell ? u.op('add', [u.op('mul', [fg, cell], `f_c${tag}`), ic], `c${tag}`) : ic;
          if (peeps) go = u.op('add', [go, u.op('mul', [peeps[1]!, cNew], `po_c${tag}`)], `o_peep${tag}`);
          const o = f(pre(go, `o${tag}`), `o${tag}`);
          hNew = u.op('mul', [o, hAct!(cNew, `c_act${tag}`)], `h${tag}`);
        }
        if (mask) {
          const valid = mask(t);
          const zero = u.scalar(0, `zero${tag}`);
          out[t] = u.op('where', [valid, hNew, zero], `y${tag}`);
          h = u.op('where', [valid, hNew, h ?? zero], `h_kept${tag}`);
          if (cNew) cell = u.op('where', [valid, cNew, cell ?? zero], `c_kept${tag}`);
        } else {
          out[t] = hNew;
          h = hNew;
          cell = cNew;
        }
      }
      // Y of this direction: [seq, 1, batch, hidden].
      if (c.outputs[0]) {
        const rows = out.map((v, t) => u.op('unsqueeze', [v], `y_row${d}_t${t}`, { axes: [0, 1] }));
        ys.push(rows.length === 1 ? rows[0]! : u.op('concat', rows, `y${d}`, { axis: 0 }));
      }
      yhs.push(u.op('unsqueeze', [h!], `y_h${d}`, { axes: [0] }));
      if (cell) ycs.push(u.op('unsqueeze', [cell], `y_c${d}`, { axes: [0] }));
    }
    const join = (vs: string[], axis: number, what: string): string => (vs.length === 1 ? vs[0]! : u.op('concat', vs, what, { axis }));
    if (c.outputs[0]) {
      const y = join(ys, 1, 'y');
      c.bind(0, layout === 1 ? u.op('transpose', [y], 'y_batch_major', { perm: [2, 0, 1, 3] }) : u.op('identity', [y], 'Y'));
    }
    const state = (vs: string[], what: string): string => {
      const v = join(vs, 0, what);
      return layout === 1 ? u.op('transpose', [v], `${what}_batch_major`, { perm: [1, 0, 2] }) : u.op('identity', [v], what);
    };
    if (c.outputs[1]) c.bind(1, state(yhs, 'Y_h'));
    if (family === 'LSTM' && c.outputs[2]) {
      if (ycs.length !== dirs) throw broken(c, 'Y_c has no cell state');
      c.bind(2, state(ycs, 'Y_c'));
    }
  };
}

export const RECURRENT_OPS: Record<string, Translate> = {
  RNN: recurrence('RNN'),
  GRU: recurrence('GRU'),
  LSTM: recurrence('LSTM'),
};
