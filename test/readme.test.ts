// The README's example outputs are what the commands print: scripts/readme-examples.ts runs every
// `$ npx edgelm …` block in order and compares, masking only latencies, durations and the
// machine-dependent slowdown warning. Regenerate with `npx vite-node scripts/readme-examples.ts --write`.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { README, comparable, describeMismatch, normalize, parseExamples, runReadme } from '../scripts/readme-examples.js';

describe('README examples', () => {
  it('masks only latencies, durations and the padding they shift', () => {
    expect(normalize('out/cnn.onnx   onnxruntime  400.5 KiB   97.50%          —   0.046 ms')).toBe('out/cnn.onnx  onnxruntime  400.5 KiB  97.50%  —  <ms>');
    expect(normalize('wrote out/cnn.onnx (onnx, 410086 bytes)')).toBe('wrote out/cnn.onnx (onnx, 410086 bytes)');
    expect(normalize('  → 93.90% in litert, agreement 95.70%, 128848 bytes, 0.040 ms (float 0.069 ms)')).toBe('  → 93.90% in litert, agreement 95.70%, 128848 bytes, <ms> (float <ms>)');
    expect(comparable(['a', '', 'warning: q.onnx runs 1.7× slower than the float source in onnxruntime (0.072 ms vs 0.043 ms): quantization saves size here, not time', ''])).toEqual(['a']);
    expect(comparable(['95.40%'])).not.toEqual(comparable(['95.50%']));
  });

  it('the quick start and every other example block run, in order', () => {
    const commands = parseExamples(readFileSync(README, 'utf8')).flatMap((b) => b.examples.map((e) => e.command));
    expect(commands[0]).toBe('$ npx edgelm demo');
    expect(commands.length).toBeGreaterThanOrEqual(9);
  });

  it('each example prints what the README shows', async () => {
    const { mismatches } = await runReadme(readFileSync(README, 'utf8'));
    expect(mismatches.map(describeMismatch).join('\n\n'), 'run npx vite-node scripts/readme-examples.ts --write').toBe('');
  }, 600_000);
});
