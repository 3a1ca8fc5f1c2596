// Shared test helpers: fixture paths, real MNIST inputs, comparisons, running the CLI.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset, type Dataset } from '../src/data/index.js';
import { EdgelmError } from '../src/errors.js';
import { readOnnxModel } from '../src/import/onnx/index.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const fixture = (...p: string[]): string => join(ROOT, 'fixtures', ...p);
export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'edgelm-test-'));

/** The first n held-out MNIST digits, [n, 28, 28, 1], with labels. */
export async function mnistTest(n = 200): Promise<{ x: Float32Array; y: Int32Array; n: number }> {
  const ds: Dataset = await loadDataset(fixture('data', 'mnist-test.npz'));
  return { x: (ds.x as Float32Array).slice(0, n * 784), y: ds.y!.slice(0, n), n };
}

/**
 * Largest absolute difference relative to the reference's largest magnitude: the "relative error"
 * that matters for logits and probabilities (elementwise relative error explodes near zero).
 */
export function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length ${got.length} ≠ ${want.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}

export function argmax(data: ArrayLike<number>, classes: number): Int32Array {
  const n = data.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (data[i * classes + k]! > data[i * classes + best]!) best = k;
    out[i] = best;
  }
  return out;
}

/** Share of rows whose argmax over `classes` agrees between two runs (classes or next tokens). */
export function argmaxAgreement(a: ArrayLike<number>, b: ArrayLike<number>, classes: number): number {
  const [pa, pb] = [argmax(a, classes), argmax(b, classes)];
  return pa.reduce((s, p, i) => s + (p === pb[i] ? 1 : 0), 0) / pa.length;
}

/** onnxruntime's first output for a token-id model fed `ids` of `shape` (int64 ids, as PyTorch exports them). */
export async function ortTokenLogits(file: string, ids: Int32Array, shape: number[], dtype: 'int64' | 'int32' = 'int64'): Promise<Float32Array> {
  const ort = await import('onnxruntime-node');
  const s = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
  const data = dtype === 'int64' ? BigInt64Array.from(ids, (v) => BigInt(v)) : ids;
  const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor(dtype, data, shape) });
  return out[s.outputNames[0]!]!.data as Float32Array;
}

export function accuracy(pred: Int32Array, labels: Int32Array): number {
  let right = 0;
  pred.forEach((p, i) => (right += p === labels[i] ? 1 : 0));
  return right / pred.length;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (dist/) as a user would. */
export function cli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'edgelm.js'), ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    encoding: 'utf8',
    timeout: 300_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Runs the built CLI without blocking the test worker: long commands (training) must not starve
 * vitest's worker RPC, which times out after a minute of a blocked event loop.
 */
export function cliAsync(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'edgelm.js'), ...args], { cwd: opts.cwd ?? ROOT, env: { ...process.env, NO_COLOR: '1', ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Deterministic values in [−1, 1) from a linear congruential generator. */
export function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** The ONNX reader on model bytes, written to `dir`/`name`.onnx first (external data and errors name the file). */
export function readOnnxBytes(bytes: Uint8Array, dir: string, name: string): ReturnType<typeof readOnnxModel> {
  const file = join(dir, `${name}.onnx`);
  writeFileSync(file, bytes);
  return readOnnxModel(file, bytes);
}

/** The EdgelmError the ONNX reader raises on `bytes` (written to `dir`/m.onnx); fails when the model is accepted. */
export function onnxRefusal(bytes: Uint8Array, dir: string): EdgelmError {
  try {
    readOnnxBytes(bytes, dir, 'm');
  } catch (e) {
    if (e instanceof EdgelmError) return e;
    throw e;
  }
  throw new Error('the model was accepted');
}

/** Largest |got − want| / (1 + |want|): absolute near zero, relative for large values. */
export function maxRelError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`${got.length} values, expected ${want.length}`);
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
  return e;
}
