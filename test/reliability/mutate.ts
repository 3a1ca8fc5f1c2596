// Deterministic mutators for the fuzz suite: bytes, JSON trees, text lines. Every mutator takes a
// PRNG and returns the mutated value plus a short description, so a failing case can be named and
// replayed from its seed.

export type Rng = () => number;

/** mulberry32: a small deterministic PRNG. */
export function prng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The PRNG of case `i` of a reader: cases are independent, so any one can be replayed alone. */
export const caseRng = (readerSeed: number, i: number): Rng => prng(Math.imul(readerSeed, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b));

export const int = (r: Rng, n: number): number => Math.floor(r() * n);
export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)]!;
export const chance = (r: Rng, p: number): boolean => r() < p;

// ---------------------------------------------------------------------------------------------
// Bytes

/**
 * A position in [0, n): half the time uniform, half the time near the head or the tail, where
 * headers, tables, directories and vtables usually live (the middle of a model is mostly weights).
 */
export function position(r: Rng, n: number): number {
  if (n <= 0) return 0;
  const u = r();
  if (u < 0.5) return int(r, n);
  const span = Math.min(n, 4096);
  return u < 0.75 ? int(r, span) : n - 1 - int(r, span);
}

const INTERESTING_32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 0x40000000, 0x01000000];
const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x22, 0x27, 0x5c];

export interface Mutated<T> {
  value: T;
  desc: string;
}

/** One byte-level mutation: truncation, bit flips, interesting integers, chunk copies/removals, growth. */
export function mutateBytesOnce(r: Rng, input: Uint8Array, focus?: { start: number; end: number }): Mutated<Uint8Array> {
  // A plain Uint8Array: Buffer#slice returns a view, and mutating it would change the seed itself.
  const src = input instanceof Buffer ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : input;
  const n = src.length;
  const at = (): number => (focus && chance(r, 0.7) ? focus.start + int(r, Math.max(1, focus.end - focus.start)) : position(r, n));
  const kind = int(r, 9);
  switch (kind) {
    case 0: {
      const cut = int(r, n);
      return { value: src.slice(0, cut), desc: `truncate@${cut}` };
    }
    case 1: {
      const out = src.slice();
      const k = 1 + int(r, 8);
      const where: number[] = [];
      for (let j = 0; j < k && n; j++) {
        const p = Math.min(n - 1, at());
        out[p]! ^= 1 << int(r, 8);
        where.push(p);
      }
      return { value: out, desc: `flip@${where.join(',')}` };
    }
    case 2: {
      const out = src.slice();
      const p = Math.min(Math.max(0, n - 4), at());
      const v = pick(r, [...INTERESTING_32, n, n + 1, n * 2, (n + 4) & ~3]) >>> 0;
      if (n >= 4) new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(p, v, chance(r, 0.8));
      return { value: out, desc: `u32@${p}=${v}` };
    }
    case 3: {
      const out = src.slice();
      const p = Math.min(n - 1, at());
      const v = pick(r, INTERESTING_8);
      if (n) out[p] = v;
      return { value: out, desc: `u8@${p}=${v}` };
    }
    case 4: {
      // Copy a chunk over another place (duplicated fields, tables pointing at the wrong data).
      const len = 1 + int(r, Math.min(256, Math.max(1, n >> 2)));
      const a = Math.min(Math.max(0, n - len), at());
      const b = Math.min(Math.max(0, n - len), at());
      const out = src.slice();
      out.copyWithin(b, a, a + len);
      return { value: out, desc: `copy${len}@${a}->${b}` };
    }
    case 5: {
      const len = 1 + int(r, Math.min(256, Math.max(1, n >> 2)));
      const a = Math.min(Math.max(0, n - len), at());
      const out = new Uint8Array(n - Math.min(len, n - a));
      out.set(src.subarray(0, a));
      out.set(src.subarray(a + len), a);
      return { value: out, desc: `delete${len}@${a}` };
    }
    case 6: {
      const len = 1 + int(r, Math.min(256, Math.max(1, n >> 2)));
      const a = Math.min(Math.max(0, n - len), at());
      const b = at();
      const out = new Uint8Array(n + len);
      out.set(src.subarray(0, b));
      out.set(src.subarray(a, a + len), b);
      out.set(src.subarray(b), b + Math.min(len, n - a));
      return { value: out.subarray(0, n + Math.min(len, n - a)).slice(), desc: `insert${len}@${b}` };
    }
    case 7: {
      const extra = 1 + int(r, 4096);
      const out = new Uint8Array(n + extra);
      out.set(src);
      for (let i = n; i < out.length; i++) out[i] = chance(r, 0.5) ? 0 : int(r, 256);
      return { value: out, desc: `append${extra}` };
    }
    default: {
      const len = 1 + int(r, 64);
      const p = Math.min(Math.max(0, n - len), at());
      const out = src.slice();
      out.fill(pick(r, [0, 0xff]), p, p + len);
      return { value: out, desc: `fill${len}@${p}` };
    }
  }
}

/** 1–3 stacked byte mutations. */
export function mutateBytes(r: Rng, src: Uint8Array, focus?: { start: number; end: number }): Mutated<Uint8Array> {
  let value = src;
  const descs: string[] = [];
  const k = 1 + (chance(r, 0.3) ? int(r, 3) : 0);
  for (let j = 0; j < k; j++) {
    const m = mutateBytesOnce(r, value, value === src ? focus : undefined);
    value = m.value;
    descs.push(m.desc);
  }
  return { value, desc: descs.join('+') };
}

// ---------------------------------------------------------------------------------------------
// JSON

export type JsonPath = (string | number)[];

/** Every path in a JSON tree (objects' keys and arrays' indices), root excluded. */
export function jsonPaths(v: unknown, under: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  if (Array.isArray(v)) v.forEach((e, i) => (out.push([...under, i]), jsonPaths(e, [...under, i], out)));
  else if (v && typeof v === 'object') for (const [k, e] of Object.entries(v)) out.push([...under, k]), jsonPaths(e, [...under, k], out);
  return out;
}

export function getAt(root: unknown, path: JsonPath): unknown {
  let v: any = root;
  for (const k of path) v = v?.[k];
  return v;
}
function parentOf(root: unknown, path: JsonPath): { parent: any; key: string | number } {
  return { parent: getAt(root, path.slice(0, -1)), key: path[path.length - 1]! };
}
export function setAt(root: unknown, path: JsonPath, value: unknown): void {
  const { parent, key } = parentOf(root, path);
  if (parent && typeof parent === 'object') parent[key] = value;
}
function deleteAt(root: unknown, path: JsonPath): void {
  const { parent, key } = parentOf(root, path);
  if (Array.isArray(parent)) parent.splice(key as number, 1);
  else if (parent && typeof parent === 'object') delete parent[key];
}

/** Values that break assumptions: wrong types, huge/negative/absurd numbers, NaN/Infinity as strings. */
export const WEIRD_VALUES: readonly unknown[] = [
  'abc', '', '0', '1e12', 'NaN', 'Infinity', '-Infinity', '../../../etc/passwd', 'float64', 'string', 'complex64', 'DT_STRING',
  0, 1, -1, -7, 1.5, 1e12, -1e12, 2 ** 31, 2 ** 32 + 1, 2 ** 53, 2 ** 60, 1e308, -0, Number.MIN_VALUE,
  null, true, false, [], {}, [1e12], [-1], [null], ['x'], [1e12, 1e12], [[]], { a: 1 }, { dtype: 'uint8' },
];

export const weird = (r: Rng): unknown => structuredClone(pick(r, WEIRD_VALUES));

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
};

/**
 * One structural mutation of a JSON tree, in place: delete a key, swap or copy values between two
 * paths, replace a value with a weird one, duplicate or drop an array element, wrap a value in an array.
 * `paths` restricts the choice (e.g. to the weights manifest); defaults to the whole tree.
 */
export function mutateJsonOnce(r: Rng, root: unknown, paths: JsonPath[] = jsonPaths(root)): string {
  if (!paths.length) return 'noop';
  const p = pick(r, paths);
  const where = p.join('.');
  switch (int(r, 7)) {
    case 0:
      deleteAt(root, p);
      return `delete ${where}`;
    case 1: {
      const q = pick(r, paths);
      const a = structuredClone(getAt(root, p));
      const b = structuredClone(getAt(root, q));
      setAt(root, p, b);
      setAt(root, q, a);
      return `swap ${where} <-> ${q.join('.')}`;
    }
    case 2: {
      const q = pick(r, paths);
      setAt(root, q, structuredClone(getAt(root, p)));
      return `copy ${where} -> ${q.join('.')}`;
    }
    case 3: {
      const parent = getAt(root, p.slice(0, -1));
      if (Array.isArray(parent)) {
        parent.splice(p[p.length - 1] as number, 0, structuredClone(parent[p[p.length - 1] as number]));
        return `dup ${where}`;
      }
      const v = weird(r);
      setAt(root, p, v);
      return `set ${where}=${show(v)}`;
    }
    case 4: {
      const v = getAt(root, p);
      const nv = typeof v === 'number' ? pick(r, [String(v), -v, v * 1e9, v + 0.5, 1e12, -1, NaN, Infinity]) : typeof v === 'string' ? pick(r, [Number(v) || 1, `${v}x`, v.slice(0, v.length >> 1), v.toUpperCase(), [v]]) : weird(r);
      setAt(root, p, nv); // NaN/Infinity become null in JSON.stringify
      return `retype ${where}=${show(nv)}`;
    }
    case 5: {
      const v = getAt(root, p);
      setAt(root, p, [v]);
      return `wrap ${where}`;
    }
    default: {
      const v = weird(r);
      setAt(root, p, v);
      return `set ${where}=${show(v)}`;
    }
  }
}

/**
 * Serializes JSON, then with some probability injects non-JSON tokens (NaN, Infinity, 1e999) that a
 * Python writer can produce, or damages the text.
 */
export function jsonText(r: Rng, root: unknown): Mutated<Uint8Array> {
  const text = JSON.stringify(root);
  const bytes = (s: string): Uint8Array => Buffer.from(s, 'utf8');
  const u = r();
  if (u < 0.08) {
    // Replace one number literal with NaN / Infinity / 1e999 (Python's json.dumps writes the first two).
    const nums = [...text.matchAll(/(?<=[:,[])-?\d+(\.\d+)?(e[+-]?\d+)?(?=[,\]}])/gi)];
    if (nums.length) {
      const m = pick(r, nums);
      const tok = pick(r, ['NaN', 'Infinity', '-Infinity', '1e999', '-1e999', '1e-999', '99999999999999999999999']);
      return { value: bytes(text.slice(0, m.index) + tok + text.slice(m.index! + m[0].length)), desc: `token ${tok}@${m.index}` };
    }
  }
  if (u < 0.16) {
    const m = mutateBytesOnce(r, bytes(text));
    return { value: m.value, desc: `text ${m.desc}` };
  }
  return { value: bytes(text), desc: '' };
}
