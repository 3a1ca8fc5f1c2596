// Inputs for the PyTorch-exported fixtures of fixtures/exports (manifest.json describes each file):
// seeded token ids, attention masks with a padded position, position ids after the past, a random
// KV cache, random images. Sizes are chosen per call, so one model runs at several run-time shapes.
import { readFileSync } from 'node:fs';
import { prng } from '../../src/train/loop.js';
import { fixture } from '../helpers.js';

export interface ManifestEntry {
  kind: string;
  opset: number;
  vocab?: number;
  kv_heads?: number;
  head_dim?: number;
  layers?: number;
  kv_cache?: boolean;
  inputs: { name: string; dtype: string; shape: (number | string)[] }[];
  outputs: { name: string; dtype: string; shape: (number | string)[] }[];
}

export const MANIFEST = JSON.parse(readFileSync(fixture('exports', 'manifest.json'), 'utf8')) as Record<string, ManifestEntry>;

export interface Feed {
  name: string;
  dtype: 'int64' | 'float32';
  shape: number[];
  data: Float32Array | BigInt64Array;
}

/** One feed per input of the model at batch b, sequence s and past p (decoders); seeded. */
export function makeFeeds(m: ManifestEntry, sizes: { batch: number; seq: number; past: number }, seed = 5): Feed[] {
  const rand = prng(seed);
  const { batch: b, seq: s, past: p } = sizes;
  const dimOf = (d: number | string): number => {
    if (typeof d === 'number') return d;
    if (d === 'batch_size') return b;
    if (d === 'sequence_length') return s;
    if (d === 'past_sequence_length') return p;
    if (d === 'past_sequence_length + sequence_length') return p + s;
    throw new Error(`no size for dim ${d}`);
  };
  return m.inputs.map((i) => {
    const shape = i.shape.map(dimOf);
    const n = shape.reduce((x, y) => x * y, 1);
    if (i.dtype === 'float32') return { name: i.name, dtype: 'float32', shape, data: Float32Array.from({ length: n }, () => rand() * 2 - 1) };
    const ints = (f: (k: number) => number): BigInt64Array => BigInt64Array.from({ length: n }, (_, k) => BigInt(f(k)));
    const cols = shape[1]!;
    // The last position of the second row is padding: masks must matter.
    if (i.name === 'attention_mask') return { name: i.name, dtype: 'int64', shape, data: ints((k) => (b > 1 && k === 2 * cols - 1 ? 0 : 1)) };
    if (i.name === 'position_ids') return { name: i.name, dtype: 'int64', shape, data: ints((k) => p + (k % cols)) };
    return { name: i.name, dtype: 'int64', shape, data: ints(() => Math.floor(rand() * (m.vocab ?? 100))) };
  });
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb || 1);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** onnxruntime's outputs (every one, by name) for the feeds. */
export async function runOrt(file: string, feeds: Feed[]): Promise<Record<string, Float32Array>> {
  const ort = await import('onnxruntime-node');
  const s = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  const out = await s.run(Object.fromEntries(feeds.map((f) => [f.name, new ort.Tensor(f.dtype, f.data, f.shape)])));
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Float32Array.from(v.data as Float32Array)]));
}
