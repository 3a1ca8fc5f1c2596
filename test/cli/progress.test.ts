// What a person watching the terminal (or a CI log) sees during long work: progress bars on a TTY,
// one line per training epoch everywhere, and an interrupt message on a line of its own.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonDocument, roundForJson } from '../../src/cli/output.js';
import { cliAsync, fixture, ROOT, tempDir } from '../helpers.js';

const MLP = fixture('models', 'mlp');
const TRAIN = fixture('data', 'mnist-train.npz');
const EPOCH_LINE = /^epoch (\d+)\/(\d+): loss \d+\.\d{4}, training accuracy \d+\.\d{2}% \(\d+\.\d s\)$/;

/** util-linux `script` gives the command a real pseudo-terminal (as a person's shell would). */
const hasScript = spawnSync('script', ['--version']).status === 0;

/**
 * Runs the CLI on a pseudo-terminal; `interruptWhen` decides, from the output so far, when to type
 * Ctrl-C (the terminal turns it into SIGINT). Returns everything the terminal received.
 */
function onTty(args: string[], interruptWhen?: (out: string) => boolean): Promise<{ code: number | null; out: string }> {
  const command = [process.execPath, join(ROOT, 'bin', 'edgelm.js'), ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, NO_COLOR: '1', COLUMNS: '120', LINES: '40' } });
  let out = '';
  let typed = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (interruptWhen && !typed && interruptWhen(out)) {
      typed = true;
      child.stdin.write('\x03');
    }
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out })));
}

/**
 * The lines a terminal shows after receiving `raw`: carriage returns, column moves (ESC[nG), line
 * erases (ESC[K, ESC[2K) and cursor save/restore (ESC 7/8), the sequences progress bars draw with.
 */
function screen(raw: string): string[] {
  const rows: string[][] = [[]];
  let [row, col] = [0, 0];
  let saved: [number, number] = [0, 0];
  const line = (): string[] => (rows[row] ??= []);
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i]!;
    if (ch === '\x1b') {
      const m = /^\x1b(?:\[(\??)(\d*)([A-Za-z])|([78]))/.exec(raw.slice(i));
      if (!m) continue;
      i += m[0].length - 1;
      if (m[4] === '7') saved = [row, col];
      else if (m[4] === '8') [row, col] = saved;
      else if (m[1] === '' && m[3] === 'G') col = Math.max(0, Number(m[2] || 1) - 1);
      else if (m[1] === '' && m[3] === 'K') rows[row] = m[2] === '2' ? [] : line().slice(0, col);
    } else if (ch === '\r') col = 0;
    else if (ch === '\n') [row, col] = [row + 1, 0];
    else line()[col++] = ch;
  }
  return rows.map((r) => Array.from(r, (c) => c ?? ' ').join('').trimEnd());
}

describe.skipIf(!hasScript)('on a terminal', () => {
  it('Ctrl-C during a training progress bar: the message is a line of its own, exit 130', async () => {
    const dir = tempDir();
    const r = await onTty(['distill', '--teacher', MLP, '--student-width', '0.5', '--data', TRAIN, '-o', join(dir, 's.onnx'), '--epochs', '50'], (out) => /epoch 1\/50 +\[.*\] +\d+% [1-9]\d*\/\d+/.test(out));
    expect(r.code).toBe(130);
    const lines = screen(r.out);
    const message = lines.filter((l) => l.includes('interrupted'));
    expect(message, lines.join('\n')).toEqual(['edgelm: interrupted (SIGINT); no partial output was left']);
  }, 120_000);

  it('run: a distillation step shows its progress bar and a line per epoch', async () => {
    const dir = tempDir();
    const pipeline = join(dir, 'pipeline.json');
    writeFileSync(pipeline, JSON.stringify({ model: MLP, data: { train: TRAIN }, steps: [{ distill: { studentWidth: 0.2, epochs: 2 } }], export: [{ format: 'onnx', path: 'student.onnx' }] }));
    const r = await onTty(['run', pipeline]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/epoch 1\/2 +\[/); // the bar
    expect(screen(r.out).filter((l) => EPOCH_LINE.test(l)).map((l) => EPOCH_LINE.exec(l)!.slice(1, 3))).toEqual([['1', '2'], ['2', '2']]);
  }, 120_000);
});

describe('without a terminal (CI logs)', () => {
  it('prune fine-tuning prints one line per epoch on stderr, accuracy labelled as training accuracy', async () => {
    const r = await cliAsync(['prune', MLP, '-o', join(tempDir(), 'p.onnx'), '--sparsity', '0.5', '--data', TRAIN, '--epochs', '2']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines.map((l) => EPOCH_LINE.exec(l)?.slice(1, 3))).toEqual([['1', '2'], ['2', '2']]);
  }, 120_000);

  it('--json keeps stderr quiet (the document is the output)', async () => {
    const r = await cliAsync(['prune', MLP, '-o', join(tempDir(), 'p.onnx'), '--sparsity', '0.5', '--data', TRAIN, '--epochs', '1', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  }, 120_000);
});

describe('--json numbers', () => {
  it('timings to 4 significant digits, binary noise dropped, stored quantization parameters exact', () => {
    expect(roundForJson('latencyMs', 0.30764899999985573)).toBe(0.3076);
    expect(roundForJson('seconds', 12.3456789)).toBe(12.35);
    expect(roundForJson('tokensPerSecond', 123456.789)).toBe(123500);
    expect(roundForJson('accuracyDrop', 0.9712 - 0.9702)).toBe(0.001);
    expect(roundForJson('accuracy', 197 / 300)).toBeCloseTo(197 / 300, 11);
    expect(roundForJson('bytes', 271644)).toBe(271644);
    const scale = Math.fround(0.0039215686);
    const doc = JSON.parse(jsonDocument({ tensors: [{ quantization: { scale: [scale], zeroPoint: [-128] } }], latencyMs: 1.23456 })) as { tensors: { quantization: { scale: number[] } }[]; latencyMs: number };
    expect(doc.tensors[0]!.quantization.scale[0]).toBe(scale);
    expect(doc.latencyMs).toBe(1.235);
  });

  it('eval --json: latencies as measured to 4 significant digits', async () => {
    const r = await cliAsync(['eval', fixture('models', 'lenet-300-100.onnx'), '--data', fixture('data', 'mnist-test.npz'), '--limit', '50', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const latency = (JSON.parse(r.stdout) as { models: { latencyMs: number }[] }).models[0]!.latencyMs;
    expect(latency).toBeGreaterThan(0);
    expect(Number(latency.toPrecision(4))).toBe(latency);
  }, 60_000);
});
