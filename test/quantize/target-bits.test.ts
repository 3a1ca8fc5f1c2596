// `quantize --target-bits`: mixed 4/8-bit block weights chosen by each weight's measured KL divergence.
// On the trained char transformer, measured in onnxruntime on held-out text: 4-bit blocks of 64 with
// the most sensitive weights (and the head) at 8 bits, at a target of 4.9 stored bits per weight, give a
// lower KL divergence to float than uniform 4-bit blocks of 32 (5.125 bits per weight with their float32
// scales and 4-bit zero points) in a smaller file. The bits the report counts are the bytes the file
// stores. Options are refused before any work.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { storedBits } from '../../src/quantize/mixed.js';
import { cli, cliAsync, fixture, tempDir } from '../helpers.js';

const model = fixture('lm', 'char-transformer.onnx');
const train = fixture('lm', 'moby-train.txt');
const heldOut = fixture('lm', 'moby-valid.txt');
const dir = tempDir();

interface Mixed { targetBits: number; averageBits: number; lowestBits: number; samples: number; layers: { weight: string; shape: [number, number]; params: number; bits: number; kld?: number; reason?: string }[] }
interface Measured { bytes: number; perplexity: number; klDivergence: number; klDivergenceP99: number; agreement: number }

describe('quantize --target-bits', () => {
  it.each([
    [['--target-bits', '4.9', '--calibration', train], '--granularity block'],
    [['--granularity', 'block', '--target-bits', '4.9'], '--target-bits needs --calibration'],
    [['--granularity', 'block', '--bits', '8', '--target-bits', '8.5', '--calibration', train], 'give --bits below 8'],
    [['--granularity', 'block', '--target-bits', '3', '--calibration', train], 'must be above --bits 4'],
    [['--granularity', 'block', '--target-bits', 'x', '--calibration', train], '--target-bits'],
    [['--granularity', 'block', '--low-bit-head'], '--low-bit-head has no effect without --target-bits'],
  ])('refuses %j before any work: exit 2, one line', (flags, message) => {
    const r = cli(['quantize', model, '-o', join(dir, 'never.onnx'), '--bits', '4', ...flags]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(message);
  });

  it('refuses a target below what every weight at --bits stores, naming that average', () => {
    const r = cli(['quantize', model, '-o', join(dir, 'never.onnx'), '--bits', '4', '--granularity', 'block', '--target-bits', '4.5', '--calibration', train, '--calibration-limit', '8']);
    expect(r.code, r.stderr).toBe(2);
    // Blocks of 32, the 49×128 head at 8: (393216 · 5.125 + 6272 · 9.25) / 399488 bits.
    expect(r.stderr).toContain(`below the smallest average this model can store: ${((393216 * 5.125 + 6272 * 9.25) / 399488).toFixed(4)} bits per weight`);
  });

  it('4-bit blocks of 64 at 4.9 bits per weight: lower KL than uniform 4-bit blocks of 32 in a smaller file (onnxruntime, held-out text)', async () => {
    const [mixed, uniform, uniform64] = ['mixed.onnx', 'uniform32.onnx', 'uniform64.onnx'].map((f) => join(dir, f)) as [string, string, string];
    const block = (size: number) => ['--bits', '4', '--granularity', 'block', '--block-size', String(size)];
    const m = await cliAsync(['quantize', model, '-o', mixed, ...block(64), '--target-bits', '4.9', '--calibration', train, '--calibration-limit', '64', '--json']);
    expect(m.code, m.stderr).toBe(0);
    const report = (JSON.parse(m.stdout) as { mixed: Mixed }).mixed;
    for (const [out, size] of [[uniform, 32], [uniform64, 64]] as const) expect(cli(['quantize', model, '-o', out, ...block(size)]).code).toBe(0);

    expect(report.samples).toBe(64);
    expect(report.averageBits).toBeLessThanOrEqual(4.9);
    expect(report.layers).toHaveLength(9);
    const head = report.layers.find((l) => l.reason === 'head')!;
    expect(head.bits).toBe(8);
    const high = report.layers.filter((l) => l.reason === 'sensitive');
    expect(high.length).toBeGreaterThan(0);
    // Kept weights are the most sensitive that fit: every low one that is more sensitive would not have fitted.
    const measured = report.layers.filter((l) => l.kld !== undefined);
    expect(measured).toHaveLength(8);
    for (const l of measured.filter((x) => x.bits === 4)) for (const h of high) if (l.kld! > h.kld!) expect(l.params).toBeGreaterThan(h.params);

    // The bits counted are the bytes stored: the mixed file is the uniform blocks-of-64 file plus each 8-bit weight's extra bytes.
    const size = (f: string) => statSync(f).size;
    const extra = report.layers.filter((l) => l.bits === 8).reduce((s, { shape: [n, k] }) => s + (storedBits(n, k, 8, 64) - storedBits(n, k, 4, 64)) / 8, 0);
    expect(Math.abs(size(mixed) - size(uniform64) - extra)).toBeLessThan(0.01 * extra + 512);

    const r = await cliAsync(['eval', model, mixed, uniform, '--data', heldOut, '--latency-runs', '0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [, mix, uni] = (JSON.parse(r.stdout) as { models: Measured[] }).models as [Measured, Measured, Measured];
    expect(mix.bytes).toBeLessThanOrEqual(uni.bytes);
    expect(mix.klDivergence).toBeLessThan(uni.klDivergence);
  }, 240_000);
});
