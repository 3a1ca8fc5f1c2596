// The gradient kernels edgelm registers for the wasm backend must equal TF.js's reference kernels
// on the cpu backend.
import { describe, expect, it } from 'vitest';
import type { Tensor } from '@tensorflow/tfjs-core';
import { loadTf } from '../../src/runtime/tfjs/backend.js';

type Explicit = [[number, number], [number, number], [number, number], [number, number]];
type Case = { name: string; x: number[]; f: number[]; strides: number; pad: 'same' | 'valid' | Explicit };
const CONV: Case[] = [
  { name: '3x3 same s1', x: [2, 9, 9, 3], f: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { name: '3x3 valid s2', x: [2, 10, 11, 2], f: [3, 3, 2, 5], strides: 2, pad: 'valid' },
  { name: '5x5 same s2', x: [1, 12, 12, 3], f: [5, 5, 3, 2], strides: 2, pad: 'same' },
  // Explicit pads as ONNX imports carry them. (A bare number pad is avoided: TF.js's wasm forward
  // conv disagrees with its cpu one for it, a TF.js bug unrelated to gradients.)
  { name: '2x3 explicit asymmetric', x: [3, 8, 7, 2], f: [2, 3, 2, 3], strides: 1, pad: [[0, 0], [1, 0], [2, 1], [0, 0]] },
  { name: '3x3 explicit s2', x: [2, 9, 9, 2], f: [3, 3, 2, 2], strides: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
];

function seeded(seed: number, n: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (a * 1664525 + 1013904223) >>> 0;
    return a / 2 ** 32 - 0.5;
  });
}

async function gradsOn(backend: 'wasm' | 'cpu', fn: (tf: Awaited<ReturnType<typeof loadTf>>) => Tensor[]): Promise<Float32Array[]> {
  const tf = await loadTf(backend);
  return tf.tidy(() => fn(tf)).map((t) => t.dataSync() as Float32Array);
}

function close(a: Float32Array, b: Float32Array): void {
  expect(a.length).toBe(b.length);
  const scale = Math.max(1e-6, ...Array.from(b, Math.abs));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale);
  expect(worst).toBeLessThan(1e-4);
}

describe('wasm gradient kernels agree with the cpu backend', () => {
  it.each(CONV)('conv2d filter and input gradients: $name', async (c) => {
    const run = (tf: Awaited<ReturnType<typeof loadTf>>): Tensor[] => {
      const x = tf.tensor(seeded(1, c.x.reduce((p, d) => p * d)), c.x);
      const f = tf.tensor(seeded(2, c.f.reduce((p, d) => p * d)), c.f);
      const g = tf.grads((xx: Tensor, ff: Tensor) => tf.sum(tf.square(tf.conv2d(xx as never, ff as never, c.strides, c.pad))));
      return g([x, f]);
    };
    const [w1, w2] = [await gradsOn('wasm', run), await gradsOn('cpu', run)];
    close(w1[0]!, w2[0]!);
    close(w1[1]!, w2[1]!);
  });

  it.each([
    { name: '3x3 same s1 m1', x: [2, 9, 9, 3], f: [3, 3, 3, 1], strides: 1, pad: 'same' as const },
    { name: '3x3 valid s2 m2', x: [2, 11, 10, 4], f: [3, 3, 4, 2], strides: 2, pad: 'valid' as const },
    { name: '5x5 same s1 m3', x: [1, 8, 8, 2], f: [5, 5, 2, 3], strides: 1, pad: 'same' as const },
  ])('depthwise filter and input gradients: $name', async (c) => {
    const run = (tf: Awaited<ReturnType<typeof loadTf>>): Tensor[] => {
      const x = tf.tensor(seeded(3, c.x.reduce((p, d) => p * d)), c.x);
      const f = tf.tensor(seeded(4, c.f.reduce((p, d) => p * d)), c.f);
      const g = tf.grads((xx: Tensor, ff: Tensor) => tf.sum(tf.square(tf.depthwiseConv2d(xx as never, ff as never, c.strides, c.pad))));
      return g([x, f]);
    };
    const [w1, w2] = [await gradsOn('wasm', run), await gradsOn('cpu', run)];
    close(w1[0]!, w2[0]!);
    close(w1[1]!, w2[1]!);
  });

  it('gather (embedding) gradient', async () => {
    const run = (tf: Awaited<ReturnType<typeof loadTf>>): Tensor[] => {
      const table = tf.tensor(seeded(5, 7 * 4), [7, 4]);
      const ids = tf.tensor2d([[0, 3, 3], [6, 1, 0]], [2, 3], 'int32');
      return tf.grads((tb: Tensor) => tf.sum(tf.mul(tf.gather(tb, ids), tf.range(0, 4))))([table]);
    };
    close((await gradsOn('wasm', run))[0]!, (await gradsOn('cpu', run))[0]!);
  });
});
