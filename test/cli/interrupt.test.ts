// Interrupting long work: exit 130 (SIGINT) or 143 (SIGTERM), no artifact, no temporary files.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, ROOT, tempDir } from '../helpers.js';

function interrupt(signal: NodeJS.Signals, afterMs: number): Promise<{ code: number | null; stderr: string; dir: string }> {
  const dir = tempDir();
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'edgelm.js'), 'distill', '--teacher', fixture('models', 'mlp'), '--student-width', '0.5', '--data', fixture('data', 'mnist-train.npz'), '-o', join(dir, 'student.tflite'), '--epochs', '100', '--checkpoint', join(dir, 'ckpt')], { env: { ...process.env, NO_COLOR: '1' } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  setTimeout(() => child.kill(signal), afterMs);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr, dir })));
}

describe('interrupting a long distill', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s exits %i and leaves no artifact or temporary file', async (signal, code) => {
    const r = await interrupt(signal, 4000);
    expect(r.code).toBe(code);
    expect(r.stderr.trim().split('\n').pop()).toMatch(/interrupted/);
    expect(existsSync(join(r.dir, 'student.tflite'))).toBe(false);
    const leftovers = (d: string): string[] => (existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.tmp')) : []);
    expect([...leftovers(r.dir), ...leftovers(join(r.dir, 'ckpt'))]).toEqual([]);
  });
});
