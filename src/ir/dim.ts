// Run-time dimensions. A Dim is a size, or a symbol known only when the model runs: the name an ONNX
// file gives it (`batch_size`, `past_sequence_length + sequence_length`) or one edgelm generates. A
// symbolic Dim is an integer polynomial over named symbols written in one canonical form, so two dims
// are equal exactly when their strings are, and shape arithmetic (a Reshape's −1, a Concat of the KV
// cache, Shape → Gather → Mul chains) stays symbolic instead of collapsing to "unknown".

/** A dimension: a size, or a canonical symbolic expression (see `parseDim`). */
export type Dim = number | string;

/** Monomial (sorted atom names joined by '*', '' for the constant term) → integer coefficient. */
type Poly = Map<string, number>;

const IDENT = /^[A-Za-z_][A-Za-z0-9_.:]*$/;

export const isStaticDim = (d: Dim): d is number => typeof d === 'number';
export const isStaticShape = (s: readonly Dim[]): s is number[] => s.every(isStaticDim);

/** Splits `s` at top-level occurrences of the separators (outside parentheses). */
function splitTop(s: string, seps: string[]): { part: string; sep: string }[] {
  const out: { part: string; sep: string }[] = [];
  let depth = 0;
  let start = 0;
  let sep = '+';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (depth === 0 && seps.includes(ch) && i > start) {
      out.push({ part: s.slice(start, i).trim(), sep });
      sep = ch;
      start = i + 1;
    }
  }
  out.push({ part: s.slice(start).trim(), sep });
  return out;
}

/** Parses a dim expression: terms joined by + and −, factors by *; anything else is one atom. */
function parse(s: string): Poly {
  let p: Poly = new Map();
  for (const { part, sep } of splitTop(s.trim(), ['+', '-'])) {
    let coef = sep === '-' ? -1 : 1;
    const atoms: string[] = [];
    const groups: Poly[] = [];
    for (const { part: f } of splitTop(part, ['*'])) {
      if (/^\d+$/.test(f)) coef *= Number(f);
      else if (IDENT.test(f) || /^floor\(.*\)$/.test(f)) atoms.push(f);
      else if (f.startsWith('(') && f.endsWith(')')) groups.push(parse(f.slice(1, -1)));
      else return new Map([[atomName(s), 1]]);
    }
    p = addPoly(p, mulPoly(monomial(atoms, coef), ...groups));
  }
  return p;
}

const monomial = (atoms: string[], coef: number): Poly => new Map([[[...atoms].sort().join('*'), coef]]);

/** An atom from a name that is not an expression: characters outside identifiers become '_'. */
export function atomName(s: string): string {
  const t = s.trim().replace(/[^A-Za-z0-9_.:]/g, '_');
  return /^[A-Za-z_]/.test(t) ? t : `d_${t}`;
}

function addPoly(...ps: Poly[]): Poly {
  const out: Poly = new Map();
  for (const p of ps) for (const [k, v] of p) out.set(k, (out.get(k) ?? 0) + v);
  for (const [k, v] of out) if (v === 0) out.delete(k);
  return out;
}

function mulPoly(...ps: Poly[]): Poly {
  let out: Poly = new Map([['', 1]]);
  for (const p of ps) {
    const next: Poly = new Map();
    for (const [ka, va] of out)
      for (const [kb, vb] of p) {
        const key = [...(ka ? ka.split('*') : []), ...(kb ? kb.split('*') : [])].sort().join('*');
        next.set(key, (next.get(key) ?? 0) + va * vb);
      }
    out = next;
  }
  for (const [k, v] of out) if (v === 0) out.delete(k);
  return out;
}

const toPoly = (d: Dim): Poly => (typeof d === 'number' ? (d === 0 ? new Map() : new Map([['', d]])) : parse(d));

/** The canonical form: non-constant terms in key order, the constant last; a constant-only poly is a number. */
function fromPoly(p: Poly): Dim {
  const keys = [...p.keys()].filter((k) => k !== '').sort();
  const constant = p.get('') ?? 0;
  if (!keys.length) return constant;
  let s = '';
  for (const k of keys) {
    const c = p.get(k)!;
    const body = Math.abs(c) === 1 ? k : `${Math.abs(c)}*${k}`;
    s += s ? (c < 0 ? ` - ${body}` : ` + ${body}`) : c < 0 ? `-${body}` : body;
  }
  if (constant) s += constant < 0 ? ` - ${-constant}` : ` + ${constant}`;
  return s;
}

/** A dim from an ONNX dim_param or any user-given name, in canonical form. */
export const symbolicDim = (name: string): Dim => fromPoly(parse(name));

export const addDims = (a: Dim, b: Dim): Dim => (typeof a === 'number' && typeof b === 'number' ? a + b : fromPoly(addPoly(toPoly(a), toPoly(b))));
export const subDims = (a: Dim, b: Dim): Dim => (typeof a === 'number' && typeof b === 'number' ? a - b : fromPoly(addPoly(toPoly(a), mulPoly(toPoly(b), new Map([['', -1]])))));
export const mulDims = (a: Dim, b: Dim): Dim => (typeof a === 'number' && typeof b === 'number' ? a * b : fromPoly(mulPoly(toPoly(a), toPoly(b))));
export const productDims = (ds: readonly Dim[]): Dim => ds.reduce<Dim>((p, d) => mulDims(p, d), 1);

/**
 * a / b when the division is exact: numbers that divide, or a polynomial whose every term the
 * monomial b divides. Undefined otherwise.
 */
export function divDims(a: Dim, b: Dim): Dim | undefined {
  if (typeof a === 'number' && typeof b === 'number') return b !== 0 && a % b === 0 ? a / b : undefined;
  const pb = toPoly(b);
  if (pb.size !== 1) return a === b ? 1 : undefined;
  const [[bk, bc]] = [...pb] as [[string, number]];
  const bAtoms = bk ? bk.split('*') : [];
  const out: Poly = new Map();
  for (const [k, c] of toPoly(a)) {
    const atoms = k ? k.split('*') : [];
    for (const at of bAtoms) {
      const j = atoms.indexOf(at);
      if (j < 0) return undefined;
      atoms.splice(j, 1);
    }
    if (c % bc !== 0) return undefined;
    out.set(atoms.join('*'), c / bc);
  }
  return fromPoly(out);
}

/** floor(a / k) for a positive integer k: exact where it divides, otherwise an atom `floor(a/k)`. */
export function floorDivDim(a: Dim, k: number): Dim {
  if (typeof a === 'number') return Math.floor(a / k);
  return divDims(a, k) ?? `floor((${a})/${k})`;
}

/** The symbols a dim is made of (atoms of its polynomial, `floor(...)` atoms opened up). */
export function dimSymbols(d: Dim): string[] {
  if (typeof d === 'number') return [];
  const out = new Set<string>();
  for (const k of toPoly(d).keys())
    for (const at of k ? k.split('*') : []) {
      const m = /^floor\(\((.*)\)\/\d+\)$/.exec(at);
      if (m) dimSymbols(m[1]!).forEach((s) => out.add(s));
      else out.add(at);
    }
  return [...out];
}

/** The value of a dim under `bindings` (symbol → size), or undefined if a symbol is unbound. */
export function evalDim(d: Dim, bindings: ReadonlyMap<string, number>): number | undefined {
  if (typeof d === 'number') return d;
  let total = 0;
  for (const [k, c] of toPoly(d)) {
    let term = c;
    for (const at of k ? k.split('*') : []) {
      const m = /^floor\(\((.*)\)\/(\d+)\)$/.exec(at);
      const v = m ? evalDim(m[1]!, bindings) : bindings.get(at);
      if (v === undefined) return undefined;
      term *= m ? Math.floor(v / Number(m[2])) : v;
    }
    total += term;
  }
  return total;
}

/** A dim with its symbols replaced by the bound sizes that are known (partial evaluation). */
export function substituteDim(d: Dim, bindings: ReadonlyMap<string, number>): Dim {
  if (typeof d === 'number') return d;
  const full = evalDim(d, bindings);
  if (full !== undefined) return full;
  let p: Poly = new Map();
  for (const [k, c] of toPoly(d)) {
    let coef = c;
    const rest: string[] = [];
    for (const at of k ? k.split('*') : []) {
      const v = bindings.get(at);
      if (v === undefined) rest.push(at);
      else coef *= v;
    }
    p = addPoly(p, monomial(rest, coef));
  }
  return fromPoly(p);
}

/**
 * Learns symbol sizes from a declared shape and the actual one: an atom dim binds directly; a
 * linear dim with one unbound atom (`past + 1`, `past + seq` once seq is known) is solved. Returns
 * a message when a static or already-bound dim disagrees.
 */
export function bindShape(declared: readonly Dim[], actual: readonly number[], bindings: Map<string, number>): string | undefined {
  if (declared.length !== actual.length) return `rank ${actual.length}, expected ${declared.length}`;
  // Two rounds: a solved atom may make another linear dim solvable.
  for (let round = 0; round < 2; round++)
    for (let i = 0; i < declared.length; i++) {
      const d = declared[i]!;
      const v = actual[i]!;
      const known = evalDim(d, bindings);
      if (known !== undefined) {
        if (known !== v) return `dim ${i} is ${v}, expected ${typeof d === 'number' ? d : `${d} = ${known}`}`;
        continue;
      }
      const p = toPoly(d as string);
      const unbound = [...p].filter(([k]) => k && k.split('*').some((a) => !bindings.has(a)));
      if (unbound.length !== 1) continue;
      const [[key, coef]] = unbound as [[string, number]];
      const atoms = key.split('*');
      const free = atoms.filter((a) => !bindings.has(a));
      if (free.length !== 1 || free[0]!.startsWith('floor(')) continue;
      const factor = coef * atoms.filter((a) => a !== free[0]).reduce((q, a) => q * bindings.get(a)!, 1);
      const rest = evalDim(fromPoly(new Map([...p].filter(([k]) => k !== key))), bindings) ?? 0;
      const x = (v - rest) / factor;
      if (Number.isInteger(x) && x >= 0) bindings.set(free[0]!, x);
    }
  return undefined;
}

export const formatDim = (d: Dim): string => String(d);

/**
 * The symbol for a run-time dim a file leaves unnamed: `batch` for the leading dim (readers share
 * it across inputs, as every input carries the same batch), `<input>_dim<i>` otherwise.
 */
export const unnamedDim = (input: string, index: number): Dim => (index === 0 ? 'batch' : `${atomName(input)}_dim${index}`);
