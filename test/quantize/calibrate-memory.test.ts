// Calibration memory does not grow with the number of samples: running min/max taken as each value
// is computed, activations freed after their last reader, batches sized by activation bytes. On a
// DenseNet-121-shaped CNN (the graph that ran out of memory at 16 images), 64 images peak within
// 1.25× of 4, and the ranges equal a plain min/max over every activation of the same images.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadTf } from '../../src/runtime/tfjs/backend.js';
import { GraphExecutor } from '../../src/runtime/tfjs/executor.js';
import { prng } from '../../src/train/loop.js';
import { ROOT } from '../helpers.js';
import { densenet121 } from './densenet.js';

interface Run {
  maxRssBytes: number;
  ranges: Record<string, { min: number; max: number }>;
}

/** Runs in its own process (async: a blocked worker misses vitest's heartbeats) for its own peak RSS. */
function calibrateInChild(count: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(join(ROOT, 'node_modules', '.bin', 'vite-node'), [join(ROOT, 'test', 'quantize', 'calibrate-rss.ts'), String(count)], { cwd: ROOT });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    p.stderr.on('data', (d: Buffer) => (err += d));
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as Run) : reject(new Error(err))));
  });
}

describe('calibration memory', () => {
  it('64 images peak within 1.25× of 4; ranges equal min/max over every activation', async () => {
    const small = await calibrateInChild(4);
    const large = await calibrateInChild(64);
    expect(large.maxRssBytes / small.maxRssBytes).toBeLessThanOrEqual(1.25);

    // The reference: every float value of the graph fetched at once for the same 4 images (the
    // child's seeded inputs), min and max by a plain loop.
    const size = 32;
    const rand = prng(7);
    const x = Float32Array.from({ length: 4 * size * size * 3 }, () => rand());
    const graph = densenet121(size);
    const tf = await loadTf('wasm');
    const ex = new GraphExecutor(tf, graph);
    const names = graph.nodes.flatMap((n) => n.outputs);
    const outs = ex.run({ image: tf.tensor(x, [4, size, size, 3]) }, names);
    let checked = 0;
    outs.forEach((t, i) => {
      const d = t.dataSync() as Float32Array;
      let [lo, hi] = [Infinity, -Infinity];
      for (const v of d) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
      const got = small.ranges[names[i]!]!;
      expect(Math.abs(got.min - lo), names[i]).toBeLessThanOrEqual(1e-6);
      expect(Math.abs(got.max - hi), names[i]).toBeLessThanOrEqual(1e-6);
      checked++;
      t.dispose();
    });
    ex.dispose();
    expect(checked).toBeGreaterThan(400);
  }, 900_000);
});
