// ONNX → IR for Einsum, written as existing IR ops so that every writer carries it: a repeated
// label in one operand (a diagonal) is a product with an identity and a sum, labels no one else
// needs are summed out, and each pair of operands is one matMul between transposes and reshapes
// ([batch, free, contracted] · [batch, contracted, free]). Merged into ONNX_OPS (ops.ts).
import { EdgelmError } from '../../errors.js';
import { isStaticDim, isStaticShape, productDims, type Dim } from '../../ir/dim.js';
import { transposeData } from '../../ir/tensor.js';
import type { Attrs } from '../../ir/graph.js';
import type { OpType } from '../../ir/registry.js';
import { attrStr, type OnnxCtx, type Translate } from './ctx.js';

/** Labels for the dims under '...' (ONNX labels are letters, so digits and symbols cannot clash). */
const ELLIPSIS_LABELS = '0123456789#$%&@';

interface Term {
  v: string;
  labels: string[];
}

const broken = (c: OnnxCtx, what: string): EdgelmError => new EdgelmError('input', `${c.file}: node ${c.name} (Einsum): ${what}`);

/** Input label lists and the output's, with '...' expanded (aligned to the right, like broadcasting). */
function parse(c: OnnxCtx, equation: string, ranks: number[]): { ins: string[][]; out: string[] } {
  const eq = equation.replace(/\s+/g, '');
  const [lhs, rhs, extra] = eq.split('->');
  if (lhs === undefined || extra !== undefined) throw broken(c, `equation '${equation}' is malformed`);
  const terms = lhs.split(',');
  if (terms.length !== ranks.length) throw broken(c, `equation '${equation}' has ${terms.length} operands for ${ranks.length} inputs`);
  const ellRank = Math.max(0, ...terms.map((t, i) => (t.includes('...') ? ranks[i]! - t.replace('...', '').length : 0)));
  if (ellRank > ELLIPSIS_LABELS.length) throw broken(c, `'...' stands for ${ellRank} dims`);
  const expand = (t: string, rank: number | undefined): string[] => {
    if (!/^[a-zA-Z]*(\.\.\.)?[a-zA-Z]*$/.test(t)) throw broken(c, `term '${t}' of '${equation}' is malformed`);
    const [before, after] = t.includes('...') ? t.split('...') as [string, string] : [t, undefined];
    if (after === undefined) {
      if (rank !== undefined && t.length !== rank) throw broken(c, `term '${t}' has ${t.length} labels for an input of rank ${rank}`);
      return [...t];
    }
    const e = rank === undefined ? ellRank : rank - before.length - after.length;
    if (e < 0) throw broken(c, `term '${t}' has more labels than its input's rank ${rank}`);
    return [...before, ...ELLIPSIS_LABELS.slice(ellRank - e, ellRank), ...after];
  };
  const ins = terms.map((t, i) => expand(t, ranks[i]));
  if (rhs !== undefined) return { ins, out: expand(rhs, undefined) };
  // Implicit output: the '...' dims, then the labels used once, in alphabetical order.
  const count = new Map<string, number>();
  for (const l of ins.flat()) count.set(l, (count.get(l) ?? 0) + 1);
  const letters = [...count].filter(([l, n]) => n === 1 && /[a-zA-Z]/.test(l)).map(([l]) => l).sort();
  return { ins, out: [...ELLIPSIS_LABELS.slice(0, ellRank), ...letters] };
}

function einsum(c: OnnxCtx): void {
  const equation = attrStr(c, 'equation', '');
  const inputs = c.inputs.map((_, i) => c.input(i));
  if (!inputs.length || inputs.some((v) => !v)) throw broken(c, 'needs at least one input');
  const { ins, out } = parse(c, equation, inputs.map((v) => c.typeOf(v).shape.length));
  const b = c.b;
  const op = (o: OpType, vs: string[], what: string, attrs: Attrs = {}): string => b.add1(o, vs, attrs, { name: `${c.name}/${what}`, source: c.name });
  const dtype = c.typeOf(inputs[0]!).dtype;
  const isFloat = dtype.startsWith('float');
  // The size of each label, checked to agree (size-1 broadcasting is not taken).
  const size = new Map<string, Dim>();
  ins.forEach((ls, i) => ls.forEach((l, j) => {
    const d = c.typeOf(inputs[i]!).shape[j]!;
    const known = size.get(l);
    if (known === undefined) size.set(l, d);
    else if (known !== d) throw c.fail(`${ELLIPSIS_LABELS.includes(l) ? 'a dim under ...' : `label '${l}'`} of '${equation}' has sizes ${known} and ${d} (broadcasting a size-1 dim is not supported)`);
  }));
  for (const l of out) if (!size.has(l)) throw broken(c, `output label '${l}' of '${equation}' is in no input`);
  if (new Set(out).size !== out.length) throw broken(c, `output of '${equation}' repeats a label`);

  const diagonal = (t: Term, i: number): Term => {
    for (;;) {
      const a = t.labels.findIndex((l, j) => t.labels.indexOf(l) !== j);
      if (a < 0) return t;
      const l = t.labels[a]!;
      const first = t.labels.indexOf(l);
      const n = size.get(l)!;
      if (!isStaticDim(n)) throw c.fail(`the diagonal over label '${l}' needs a static size (got ${n})`);
      const shape = t.labels.map((_, j) => (j === first || j === a ? n : 1));
      const eyeType = isFloat ? 'float32' : dtype === 'int64' ? 'int64' : 'int32';
      const eyeData = Array.from({ length: n * n }, (_, k) => (Math.floor(k / n) === k % n ? 1 : 0));
      const eye = b.addConstant({ name: `${c.name}/eye${i}`, dtype: eyeType, shape, data: eyeType === 'int64' ? BigInt64Array.from(eyeData, BigInt) : eyeType === 'int32' ? Int32Array.from(eyeData) : Float32Array.from(eyeData) });
      const masked = op('mul', [t.v, eye], `diag_mask${i}`);
      t = { v: op('reduceSum', [masked], `diag${i}`, { axes: [a], keepDims: false }), labels: t.labels.filter((_, j) => j !== a) };
    }
  };
  /** Sums out the labels outside `needed`. */
  const sumOut = (t: Term, needed: Set<string>, what: string): Term => {
    const axes = t.labels.flatMap((l, j) => (needed.has(l) ? [] : [j]));
    if (!axes.length) return t;
    return { v: op('reduceSum', [t.v], what, { axes, keepDims: false }), labels: t.labels.filter((l) => needed.has(l)) };
  };
  const permute = (t: Term, labels: string[], what: string): Term => {
    const perm = labels.map((l) => t.labels.indexOf(l));
    if (perm.every((p, j) => p === j)) return { v: t.v, labels };
    // A constant operand (a weight) is rearranged here: it stays a constant for the writers and the quantizer.
    const k = b.constant(t.v);
    if (k) return { v: b.addConstant({ ...k, name: `${c.name}/${what}`, shape: perm.map((p) => k.shape[p]!), data: transposeData(k.data, k.shape, perm) }), labels };
    return { v: op('transpose', [t.v], what, { perm }), labels };
  };
  const reshape = (v: string, shape: Dim[], what: string): string => {
    const now = c.typeOf(v).shape;
    if (now.length === shape.length && now.every((d, j) => d === shape[j])) return v;
    const k = b.constant(v);
    if (k && isStaticShape(shape)) return b.addConstant({ ...k, name: `${c.name}/${what}`, shape });
    return op('reshape', [v], what, { shape });
  };
  const dims = (ls: string[]): Dim[] => ls.map((l) => size.get(l)!);

  let terms: Term[] = inputs.map((v, i) => diagonal({ v, labels: ins[i]! }, i));
  const neededAfter = (k: number): Set<string> => new Set([...out, ...terms.slice(k).flatMap((t) => t.labels)]);
  let acc = sumOut(terms[0]!, new Set([...out, ...terms.slice(1).flatMap((t) => t.labels)]), 'sum0');
  for (let k = 1; k < terms.length; k++) {
    if (!isFloat) throw c.fail(`contracting ${dtype} operands is not supported (float only)`);
    const keep = neededAfter(k + 1);
    const rhsT = sumOut(terms[k]!, new Set([...keep, ...acc.labels]), `sum${k}`);
    const inB = new Set(rhsT.labels);
    const batch = acc.labels.filter((l) => inB.has(l) && keep.has(l));
    const contracted = acc.labels.filter((l) => inB.has(l) && !keep.has(l));
    const aFree = acc.labels.filter((l) => !inB.has(l));
    const bFree = rhsT.labels.filter((l) => !acc.labels.includes(l));
    const a = permute(acc, [...batch, ...aFree, ...contracted], `lhs${k}`);
    const bb = permute(rhsT, [...batch, ...contracted, ...bFree], `rhs${k}`);
    const lead = batch.length ? [productDims(dims(batch))] : [];
    const m = productDims(dims(aFree));
    const kk = productDims(dims(contracted));
    const n = productDims(dims(bFree));
    const prod = op('matMul', [reshape(a.v, [...lead, m, kk], `lhs${k}_3d`), reshape(bb.v, [...lead, kk, n], `rhs${k}_3d`)], `matmul${k}`);
    const labels = [...batch, ...aFree, ...bFree];
    acc = { v: reshape(prod, dims(labels), `prod${k}`), labels };
    terms = terms.map((t, j) => (j === k ? rhsT : t));
  }
  const result = permute(sumOut(acc, new Set(out), 'sum_out'), out, 'transpose_out');
  c.bind(0, result.v === inputs[0] ? op('identity', [result.v], 'copy') : result.v);
}

export const EINSUM_OPS: Record<string, Translate> = { Einsum: einsum };
