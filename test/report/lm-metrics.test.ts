// LM metrics in eval and pipeline gates: the KL divergence of the next-character distributions of a
// 2-bit round-to-nearest char transformer against the float one, recomputed here from onnxruntime's
// outputs of both files with the textbook formula (softmax in float64, Σ p log(p / q)); the same-top-1
// rate and perplexity likewise. A pipeline whose maxKld gate is missed exits 3 with its report written.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadDatasetFor } from '../../src/data/index.js';
import { cli, cliAsync, fixture, tempDir } from '../helpers.js';

const model = fixture('lm', 'char-transformer.onnx');
const heldOut = fixture('lm', 'moby-valid.txt');
const dir = tempDir();
const WINDOWS = 160;

/** Next-character logits of the first WINDOWS held-out windows, straight from onnxruntime. */
async function logits(file: string, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(file);
  const ids = BigInt64Array.from(x, (v) => BigInt(v)); // token ids: the export's input is int64
  const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('int64', ids, shape) });
  return out[s.outputNames[0]!]!.data as Float32Array;
}

function softmax(z: Float32Array): number[] {
  const m = Math.max(...z);
  const e = Array.from(z, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

interface Measured { perplexity: number; agreement?: number; klDivergence?: number; klDivergenceP99?: number }

describe('LM metrics', () => {
  const q2 = join(dir, 'rtn2.onnx');

  it('eval: mean KL, its 99th percentile, same-top-1 rate and perplexity as recomputed from onnxruntime outputs', async () => {
    const made = cli(['quantize', model, '-o', q2, '--bits', '2', '--granularity', 'block', '--block-size', '32']);
    expect(made.code, made.stderr).toBe(0);
    const r = await cliAsync(['eval', model, q2, '--data', heldOut, '--limit', String(WINDOWS), '--latency-runs', '0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const [float, rtn] = (JSON.parse(r.stdout) as { models: Measured[] }).models as [Measured, Measured];
    expect(float.klDivergence).toBeUndefined(); // the reference itself

    const data = await loadDatasetFor(heldOut, model);
    const T = data.shape[1]!;
    const x = data.x.subarray(0, WINDOWS * T) as Float32Array;
    const [p, q] = [await logits(model, x, [WINDOWS, T]), await logits(q2, x, [WINDOWS, T])];
    const V = p.length / (WINDOWS * T);
    expect(V).toBe(49);
    const kl: number[] = [];
    let same = 0;
    let nll = 0;
    for (let i = 0; i < WINDOWS * T; i++) {
      const [pp, qq] = [softmax(p.subarray(i * V, (i + 1) * V)), softmax(q.subarray(i * V, (i + 1) * V))];
      kl.push(pp.reduce((s, pv, j) => s + pv * Math.log(pv / qq[j]!), 0));
      const top = (a: number[]) => a.indexOf(Math.max(...a));
      if (top(pp) === top(qq)) same++;
      nll -= Math.log(qq[data.y![i]!]!);
    }
    const mean = kl.reduce((a, b) => a + b, 0) / kl.length;
    const p99 = [...kl].sort((a, b) => a - b)[Math.ceil(0.99 * kl.length) - 1]!;
    expect(mean).toBeGreaterThan(0.05); // 2-bit codes move the distributions: something to measure
    expect(rtn.klDivergence!).toBeCloseTo(mean, 4);
    expect(rtn.klDivergenceP99!).toBeCloseTo(p99, 3);
    expect(rtn.klDivergenceP99!).toBeGreaterThan(rtn.klDivergence!);
    expect(rtn.agreement!).toBeCloseTo(same / (WINDOWS * T), 3); // ties aside, the same positions
    expect(rtn.perplexity).toBeCloseTo(Math.exp(nll / (WINDOWS * T)), 3);

    const text = await cliAsync(['eval', model, q2, '--data', heldOut, '--limit', '16', '--latency-runs', '0']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/KL +│? *KL p99/);
  }, 120_000);

  function pipeline(name: string, gates: Record<string, unknown>, over: Record<string, unknown> = {}): string {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({
      model, data: { eval: heldOut },
      steps: [{ quantize: { mode: 'dynamic', bits: 2, granularity: 'block', blockSize: 32 } }],
      export: [{ format: 'onnx', path: `${name}/lm.onnx` }],
      report: { json: `${name}/report.json`, markdown: `${name}/report.md` },
      gates, ...over,
    }));
    return file;
  }

  it('pipeline gates maxKld, minTop1Agreement, maxPerplexityIncrease: a missed one exits 3 after the reports are written', async () => {
    const r = await cliAsync(['run', pipeline('lm', { maxKld: 0.01, minTop1Agreement: 0.5, maxPerplexityIncrease: 100 }), '--json']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain('quality gate missed: maxKld measured');
    const report = JSON.parse(readFileSync(join(dir, 'lm', 'report.json'), 'utf8')) as { variants: ({ kind: string } & Measured)[]; gates: { gate: string; value: number; passed: boolean }[] };
    const [original, exported] = [report.variants.find((v) => v.kind === 'original')!, report.variants.find((v) => v.kind === 'export')!];
    const gate = (g: string) => report.gates.find((x) => x.gate === g)!;
    expect(gate('maxKld')).toMatchObject({ value: exported.klDivergence, passed: false });
    expect(gate('minTop1Agreement')).toMatchObject({ value: exported.agreement, passed: true });
    expect(gate('maxPerplexityIncrease').value).toBeCloseTo(exported.perplexity - original.perplexity, 4);
    expect(gate('maxPerplexityIncrease').passed).toBe(true);
    expect(readFileSync(join(dir, 'lm', 'report.md'), 'utf8')).toContain('| KL | KL p99 |');
  }, 180_000);

  it.each([
    [{ maxKld: -1 }, 'gates.maxKld'],
    [{ minTop1Agreement: 2 }, 'gates.minTop1Agreement'],
    [{ maxPerplexityIncrease: 'x' }, 'gates.maxPerplexityIncrease'],
  ])('refuses gates %j: exit 2, one line', (gates, message) => {
    const r = cli(['run', pipeline('bad', gates)]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(message);
  });

  it('refuses LM gates on data without a label per position, before any step runs', () => {
    const r = cli(['run', pipeline('mnist', { maxKld: 0.1 }, { model: fixture('models', 'mlp', 'model.json'), data: { eval: fixture('data', 'mnist-test.npz') }, steps: [], export: [] }), '--json']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('no label per position');
  });
});
