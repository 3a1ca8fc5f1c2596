// Datasets for calibration, training and evaluation: .npz (arrays x, y), .npy (+ labels .npy), .jsonl.
import { extname } from 'node:path';
import { inputError, usageError } from '../errors.js';
import { readInputFile } from '../import/files.js';
import { decodeHalfs } from '../ir/float16.js';
import { sizeOf, type Dim } from '../ir/tensor.js';
import type { NdArray } from './npy.js';
import { parseNpy } from './npy.js';
import { parseNpz } from './npz.js';
import { textWindows, vocabularyOf } from './text.js';
import type { Graph } from '../ir/graph.js';

export interface Dataset {
  /** Samples, row-major [N, ...sample]. Float inputs as float32; integer inputs (token ids) as int32. */
  x: Float32Array | Int32Array;
  shape: number[];
  /** Class labels when the data has them: one per sample, or one per position ([N, T] next-token labels, flattened). */
  y?: Int32Array;
  /** Arrays for a model's other inputs, by input name, each [N, ...] (an .npz's arrays besides x and y; see feeds.ts). */
  others?: Record<string, { data: Float32Array | Int32Array; shape: number[] }>;
  source: string;
}

export interface LoadOptions {
  /** A separate .npy of labels (for .npy inputs). */
  labels?: string;
  /** The model's input shape ([batch, ...]); samples are reshaped to it when the element counts match. */
  inputShape?: readonly Dim[];
  /** A language model's vocabulary, for .txt data (one token per character). */
  vocab?: readonly string[];
  /** The model's first input, whose array an .npz may name instead of 'x'. */
  firstInput?: string;
}

export async function loadDataset(path: string, opts: LoadOptions = {}): Promise<Dataset> {
  const ext = extname(path).toLowerCase();
  let x: NdArray;
  let y: NdArray | undefined;
  const others: NonNullable<Dataset['others']> = {};
  if (ext === '.npz') {
    const arrays = parseNpz(path, readInputFile(path));
    const xName = arrays.has('x') || !opts.firstInput || !arrays.has(opts.firstInput) ? 'x' : opts.firstInput;
    const xa = arrays.get(xName);
    if (!xa) throw inputError(path, `no array named 'x' (found: ${[...arrays.keys()].join(', ') || 'none'})`);
    x = xa;
    y = arrays.get('y');
    for (const [name, a] of arrays) {
      if (name === xName || name === 'y') continue;
      others[name] = { data: asSamples(`${path} (${name})`, a), shape: a.shape };
    }
  } else if (ext === '.npy') {
    x = parseNpy(path, readInputFile(path));
  } else if (ext === '.jsonl') {
    return fitToModel(readJsonl(path), opts.inputShape);
  } else if (ext === '.txt') {
    const context = opts.inputShape?.[1];
    if (!opts.vocab) throw usageError(`${path}: text data needs a model vocabulary (--vocab FILE or the model's metadata)`);
    if (opts.inputShape?.length !== 2 || typeof context !== 'number')
      throw usageError(`${path}: text data needs a model with token-id input [batch, context] of fixed context length (model input [${opts.inputShape?.join(', ') ?? ''}])`);
    return textWindows(path, opts.vocab, context);
  } else {
    throw usageError(`${path}: unknown data format '${ext || '(none)'}' (expected .npz, .npy, .jsonl or .txt)`);
  }
  if (opts.labels) y = parseNpy(opts.labels, readInputFile(opts.labels), 'labels');
  if (x.shape.length < 1) throw inputError(path, 'x must have a leading sample dimension');
  // Zero samples would reach the runtimes as empty batches (an internal error there), as .jsonl already refuses.
  if (x.shape[0] === 0) throw inputError(path, 'no samples (x has 0 rows)');
  const ds: Dataset = { x: asSamples(path, x), shape: x.shape, source: path };
  if (Object.keys(others).length) ds.others = others;
  if (y) ds.y = asLabels(opts.labels ?? path, y, x.shape[0]!);
  return fitToModel(ds, opts.inputShape);
}

function asSamples(file: string, a: NdArray): Float32Array | Int32Array {
  switch (a.dtype) {
    case 'float32':
      return a.data as Float32Array;
    case 'float16':
      return decodeHalfs(a.data as Uint16Array);
    case 'float64':
      return Float32Array.from(a.data as Float64Array);
    case 'int64':
      return Int32Array.from(a.data as BigInt64Array, (v) => Number(v));
    case 'uint8':
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
      return Int32Array.from(a.data as ArrayLike<number>);
    default:
      throw inputError(file, `x of dtype ${a.dtype} cannot be used as model input`);
  }
}

function asLabels(file: string, a: NdArray, n: number): Int32Array {
  if (a.dtype.startsWith('float')) throw inputError(file, `labels must be integers, got ${a.dtype}`);
  const flat = a.data instanceof BigInt64Array ? Int32Array.from(a.data, (v) => Number(v)) : Int32Array.from(a.data as ArrayLike<number>);
  // One label per sample, or a fixed number per sample (sequence models: a label per position).
  if (a.shape[0] !== n || flat.length % n !== 0) throw inputError(file, `${flat.length} labels for ${n} samples (labels shape [${a.shape}])`);
  return flat;
}

function readJsonl(file: string): Dataset {
  const lines = readInputFile(file).toString('utf8').split('\n');
  const xs: number[] = [];
  const ys: number[] = [];
  let sampleShape: number[] | undefined;
  let labelled: boolean | undefined;
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (e) {
      throw inputError(file, `line ${i + 1}: invalid JSON (${(e as Error).message})`);
    }
    if (typeof row !== 'object' || row === null || !('input' in row)) throw inputError(file, `line ${i + 1}: expected {"input": [...], "label": n}`);
    const input = (row as { input: unknown }).input;
    const shape = nestedShape(input);
    if (!shape || shape.length === 0) throw inputError(file, `line ${i + 1}: "input" must be a (nested) array of numbers, at most ${MAX_SAMPLE_RANK} levels deep`);
    if (sampleShape && shape.join() !== sampleShape.join()) throw inputError(file, `line ${i + 1}: input shape [${shape}] differs from the first line's [${sampleShape}]`);
    sampleShape = shape;
    for (const v of (input as unknown[]).flat(Infinity as 1) as number[]) xs.push(v);
    const label = (row as { label?: unknown }).label;
    const has = label !== undefined;
    if (labelled !== undefined && has !== labelled) throw inputError(file, `line ${i + 1}: some lines have a "label" and some do not`);
    labelled = has;
    if (has) {
      if (!Number.isInteger(label)) throw inputError(file, `line ${i + 1}: "label" must be an integer`);
      ys.push(label as number);
    }
  });
  if (!sampleShape) throw inputError(file, 'no samples');
  const ds: Dataset = { x: Float32Array.from(xs), shape: [ys.length || xs.length / sizeOf(sampleShape), ...sampleShape], source: file };
  if (labelled) ds.y = Int32Array.from(ys);
  return ds;
}

/** Deeper nesting is no sample shape; the bound also keeps the recursion off the stack limit. */
const MAX_SAMPLE_RANK = 32;

function nestedShape(v: unknown, depth = 0): number[] | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? [] : undefined;
  if (!Array.isArray(v) || v.length === 0 || depth >= MAX_SAMPLE_RANK) return undefined;
  const inner = nestedShape(v[0], depth + 1);
  if (!inner) return undefined;
  // From the second element on: checking v[0] again made every level walk its first subtree twice,
  // 2^depth steps for [[[[...]]]] (a hang on one line of 1,000 brackets).
  for (let i = 1; i < v.length; i++) {
    const s = nestedShape(v[i], depth + 1);
    if (!s || s.join() !== inner.join()) return undefined;
  }
  return [v.length, ...inner];
}

/** Reshapes samples to the model's input shape when the per-sample element counts agree. */
export function fitToModel(ds: Dataset, inputShape: readonly Dim[] | undefined): Dataset {
  if (!inputShape) return ds;
  const sample = inputShape.slice(1);
  if (sample.some((d) => typeof d !== 'number')) return ds; // the model accepts run-time sizes: keep the data's shape
  const want = sizeOf(sample as number[]);
  const have = sizeOf(ds.shape.slice(1));
  if (want !== have)
    throw inputError(ds.source, `samples of shape [${ds.shape.slice(1)}] (${have} values) do not fit the model input [${inputShape.join(', ')}] (${want} values)`);
  return { ...ds, shape: [ds.shape[0]!, ...(sample as number[])] };
}

/** Consecutive batches [start, end) over the dataset. */
export function* batches(ds: Dataset, size: number): Generator<{ x: Float32Array | Int32Array; shape: number[]; y?: Int32Array; start: number }> {
  const n = ds.shape[0]!;
  const per = sizeOf(ds.shape.slice(1));
  for (let s = 0; s < n; s += size) {
    const e = Math.min(n, s + size);
    const batch: { x: Float32Array | Int32Array; shape: number[]; y?: Int32Array; start: number } = {
      x: ds.x.subarray(s * per, e * per),
      shape: [e - s, ...ds.shape.slice(1)],
      start: s,
    };
    if (ds.y) {
      const k = ds.y.length / n;
      batch.y = ds.y.subarray(s * k, e * k);
    }
    yield batch;
  }
}

/**
 * Loads `path` for `model` (a file; its loaded `graph` when the command has it). With `fit`, samples
 * are reshaped to the model's input; `labels` is a separate .npy of labels, `vocab` a vocabulary file overriding the model's.
 */
export async function loadDatasetFor(path: string, model: string, opts: { graph?: Graph; fit?: boolean; labels?: string; vocab?: string } = {}): Promise<Dataset> {
  if (extname(path).toLowerCase() !== '.txt') {
    return loadDataset(path, {
      ...(opts.labels ? { labels: opts.labels } : {}),
      ...(opts.fit && opts.graph ? { inputShape: opts.graph.inputs[0]!.shape } : {}),
      ...(opts.graph?.inputs[0] ? { firstInput: opts.graph.inputs[0].name } : {}),
    });
  }
  const m = opts.graph ? { metadata: opts.graph.metadata, inputShape: opts.graph.inputs[0]?.shape } : await describe(model);
  return loadDataset(path, { ...(m.inputShape ? { inputShape: m.inputShape } : {}), vocab: vocabularyOf(m.metadata, model, opts.vocab) });
}

/** Metadata and first input shape of a model file, without building a graph for TFLite (edgelm reads TFLite's structure only). */
async function describe(model: string): Promise<{ metadata: Record<string, string>; inputShape?: readonly Dim[] }> {
  const { detectFormat, loadModel } = await import('../import/index.js');
  const { file, format } = detectFormat(model);
  if (format === 'tflite') {
    const info = (await import('../import/tflite/index.js')).readTfliteInfo(file);
    return { metadata: info.metadata, inputShape: info.tensors[info.inputs[0]!]?.shape };
  }
  const g = await loadModel(file);
  return { metadata: g.metadata, inputShape: g.inputs[0]?.shape };
}
