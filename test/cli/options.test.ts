// Option checking through the real CLI: a combination where a flag would have no effect, or that
// would fail after writing, is refused with exit 2 and one line before any work; a run that fails
// after writing leaves nothing behind (nor damages an earlier artifact at the same path).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliAsync as cli, fixture, tempDir, type CliResult } from '../helpers.js';

const MLP = fixture('models', 'mlp');
const CNN = fixture('models', 'cnn');
const ONNX = fixture('models', 'lenet-300-100.onnx');
const TRAIN = fixture('data', 'mnist-train.npz');
const TEST = fixture('data', 'mnist-test.npz');

/** Exit 2, one `edgelm: …` line on stderr containing every `parts`, no stack trace. */
function refused(r: CliResult, ...parts: string[]): string {
  const ctx = `exit ${r.code}, stderr:\n${r.stderr}`;
  expect(r.code, ctx).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, ctx).toHaveLength(1);
  expect(lines[0], ctx).toMatch(/^edgelm: /);
  expect(lines[0], ctx).not.toMatch(/internal error/);
  for (const p of parts) expect(lines[0], ctx).toContain(p);
  return lines[0]!;
}

/** Everything in `dir`, hidden staging folders and temporary files included. */
const contents = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);

describe('a run that fails after writing leaves nothing behind', () => {
  // The data file exists but is not data: it fails only when the artifact is measured, after writing.
  const dir = tempDir();
  const garbage = join(dir, 'garbage.npz');
  writeFileSync(garbage, 'this is not an npz file');

  it.each([
    ['TFLite', 'q.tflite'],
    ['ONNX', 'q.onnx'],
    ['TF.js (a folder the run creates)', 'q-tfjs'],
  ])('quantize --data that cannot be read, %s: exit 2, no artifact, no staging folder', async (_, name) => {
    const out = join(dir, 'quantize', name);
    refused(await cli(['quantize', MLP, '-o', out, '--data', garbage]), garbage);
    expect(contents(join(dir, 'quantize'))).toEqual([]);
  });

  it('an earlier artifact at the output path is left as it was', async () => {
    const out = join(dir, 'keep', 'model.tflite');
    mkdirSync(join(dir, 'keep'));
    writeFileSync(out, 'the previous artifact');
    refused(await cli(['quantize', MLP, '-o', out, '--data', garbage]), garbage);
    expect(readFileSync(out, 'utf8')).toBe('the previous artifact');
    expect(contents(join(dir, 'keep'))).toEqual(['model.tflite']);
  });

  it('quantize --stream (ONNX written tensor by tensor) with --data that cannot be read: no model, no external data', async () => {
    const out = join(dir, 'stream', 's.onnx');
    refused(await cli(['quantize', ONNX, '-o', out, '--stream', '--data', garbage]), garbage);
    expect(contents(join(dir, 'stream'))).toEqual([]);
  });

  it('prune --val that cannot be read: no artifact', async () => {
    const out = join(dir, 'prune', 'p.onnx');
    refused(await cli(['prune', MLP, '-o', out, '--sparsity', '0.5', '--val', garbage]), garbage);
    expect(contents(join(dir, 'prune'))).toEqual([]);
  });
});

describe('combinations refused before any work (exit 2, one line naming the flag, nothing written)', () => {
  const dir = tempDir();
  const o = (name: string): string => join(dir, name);
  const cases: [string, string[], string[]][] = [
    // The two runs that used to write an artifact and then exit 2.
    ['--per-layer-report without samples', ['quantize', MLP, '-o', o('a.tflite'), '--per-layer-report'], ['--per-layer-report', '--calibration']],
    ["--io int8 with --data (LiteRT's JS API has no int8 tensors)", ['quantize', CNN, '-o', o('b.tflite'), '--mode', 'int8', '--io', 'int8', '--calibration', TRAIN, '--data', TEST], ['--io int8', 'LiteRT']],
    // Flags that used to be ignored.
    ['--bits 4 with a TF.js output', ['quantize', MLP, '-o', o('c-tfjs'), '--bits', '4'], ['--bits 4', 'TF.js']],
    ['--mode float16 --bits 4', ['quantize', MLP, '-o', o('d.onnx'), '--mode', 'float16', '--bits', '4'], ['--bits 4', 'float16']],
    ['--mode float16 --granularity channel', ['quantize', MLP, '-o', o('d2.onnx'), '--mode', 'float16', '--granularity', 'channel'], ['--granularity channel', 'float16']],
    ['--exclude matching no node', ['quantize', MLP, '-o', o('e.onnx'), '--exclude', 'fc9*'], ["--exclude 'fc9*'", 'fc1/dense', 'fc2/dense', 'logits']],
    ['--block-size without --granularity block', ['quantize', ONNX, '-o', o('f.onnx'), '--block-size', '64'], ['--block-size 64', '--granularity block']],
    ['--calibration-method without --mode int8', ['quantize', MLP, '-o', o('g.onnx'), '--calibration-method', 'percentile'], ['--calibration-method', '--mode int8']],
    ['--calibration-limit without --mode int8', ['quantize', MLP, '-o', o('g2.onnx'), '--calibration-limit', '10'], ['--calibration-limit', '--mode int8']],
    ['--calibration with --mode dynamic and nothing that uses it', ['quantize', MLP, '-o', o('h.onnx'), '--calibration', TRAIN], ['--calibration', 'dynamic']],
    ['--stream with a TFLite output', ['quantize', ONNX, '-o', o('i.tflite'), '--stream'], ['--stream', 'ONNX']],
    ['--external-data with a TFLite output', ['quantize', MLP, '-o', o('j.tflite'), '--external-data'], ['--external-data', 'tflite']],
    ['--batch with an ONNX output', ['quantize', MLP, '-o', o('k.onnx'), '--batch', '4'], ['--batch 4', 'onnx']],
    ['--labels without data', ['quantize', MLP, '-o', o('l.onnx'), '--labels', TEST], ['--labels']],
    ['--io uint8 with ONNX', ['quantize', CNN, '-o', o('m.onnx'), '--mode', 'int8', '--io', 'uint8', '--calibration', TRAIN], ['--io uint8', 'TFLite']],
    ['eval --vocab with .npz data', ['eval', MLP, '--data', TEST, '--vocab', TEST], ['--vocab has no effect', '.txt']],
    ['distill --alpha with data that has no labels', ['distill', '--teacher', MLP, '--student-width', '0.5', '--data', fixture('data', 'mnist-test-x.npy'), '-o', o('z.onnx'), '--alpha', '0.3'], ['--alpha 0.3', 'no labels']],
    ['--data that does not exist', ['quantize', MLP, '-o', o('n.onnx'), '--data', o('nope.npz')], ['nope.npz', '--data']],
    ['export --batch with an ONNX output', ['export', MLP, '-o', o('p.onnx'), '--batch', '2'], ['--batch 2', 'onnx']],
    ['export --external-data with a TF.js output', ['export', ONNX, '-o', o('p-tfjs'), '--external-data'], ['--external-data', 'tfjs']],
    ['prune --backend gpu lists the backends', ['prune', MLP, '-o', o('q.onnx'), '--sparsity', '0.5', '--backend', 'gpu'], ["--backend: expected one of wasm, cpu, node, auto, got 'gpu'"]],
    ['prune --lr without --epochs', ['prune', MLP, '-o', o('r.onnx'), '--sparsity', '0.5', '--lr', '0.01'], ['--lr has no effect', '--epochs']],
    ['prune --data without --epochs', ['prune', MLP, '-o', o('s.onnx'), '--sparsity', '0.5', '--data', TRAIN], ['--data has no effect', '--epochs']],
    ['prune --scope global with N:M', ['prune', MLP, '-o', o('t.onnx'), '--sparsity', '0.5', '--pattern', '2:4', '--scope', 'global'], ['--scope global', '2:4']],
    ['prune --exclude matching no node', ['prune', MLP, '-o', o('u.onnx'), '--sparsity', '0.5', '--exclude', 'conv'], ["--exclude 'conv'", 'fc1/dense']],
    ['distill --epochs 0, as the pipeline validator refuses it', ['distill', '--teacher', MLP, '--student-width', '0.5', '--data', TRAIN, '-o', o('v.onnx'), '--epochs', '0'], ['--epochs', 'positive integer']],
    ['distill --reinit with --student-width', ['distill', '--teacher', MLP, '--student-width', '0.5', '--reinit', '--data', TRAIN, '-o', o('w.onnx')], ['--reinit', '--student-width']],
    ['distill --backend gpu', ['distill', '--teacher', MLP, '--student-width', '0.5', '--data', TRAIN, '-o', o('x.onnx'), '--backend', 'gpu'], ['--backend', 'wasm, cpu, node, auto']],
    ['eval --backend gpu lists the backends', ['eval', MLP, '--data', TEST, '--backend', 'gpu'], ["--backend: expected one of wasm, cpu, node, auto, got 'gpu'"]],
    ['eval --backend with no TF.js model', ['eval', ONNX, '--data', TEST, '--backend', 'cpu'], ['--backend cpu has no effect']],
  ];
  it.each(cases)('%s', async (_, args, parts) => {
    const started = performance.now();
    refused(await cli(args), ...parts);
    // Nothing was loaded or trained: a refusal costs a start-up, not a run.
    expect(performance.now() - started).toBeLessThan(5000);
    expect(contents(dir).filter((f) => !f.startsWith('nope'))).toEqual([]);
  });

  it('--exclude matching no layer with --stream (the graph is never loaded whole): refused, nothing left', async () => {
    refused(await cli(['quantize', ONNX, '-o', o('y.onnx'), '--stream', '--exclude', 'fc9']), "--exclude 'fc9'");
    expect(contents(dir)).toEqual([]);
  });
});

describe("commander's own errors look like edgelm's", () => {
  it('quantize with no arguments names the missing model first', async () => {
    refused(await cli(['quantize']), "missing required argument 'model'", 'edgelm quantize --help');
  });
  it.each([
    [['quantize', MLP], "required option '-o, --output <file>'"],
    [['quantize', MLP, '-o', 'x.onnx', '--bogus'], "unknown option '--bogus'"],
    [['bogus'], "unknown command 'bogus'"],
    [['prune', MLP, '-o', 'x.onnx'], "required option '--sparsity <s>'"],
    [['eval', MLP], "required option '--data <file>'"],
  ])('%j', async (args, part) => {
    refused(await cli(args), part);
  });
});

describe('messages that point somewhere', () => {
  it("every repository path in a command's --help examples exists", async () => {
    const commands = ['inspect', 'quantize', 'prune', 'distill', 'export', 'eval', 'run', 'demo', 'doctor'];
    const helps = await Promise.all(commands.map((c) => cli([c, '--help'])));
    const paths = helps.flatMap((h) => [...h.stdout.matchAll(/\b((?:fixtures|examples)\/[\w./-]+)/g)].map((m) => m[1]!));
    expect(paths.length).toBeGreaterThan(5);
    for (const p of paths) expect(existsSync(fixture('..', p)), p).toBe(true);
  });

  it('quantize of a .tflite reads it as a source (test/import/tflite-source.test.ts checks the numbers)', async () => {
    const dir = tempDir();
    const tfl = join(dir, 'm.tflite');
    expect((await cli(['export', MLP, '-o', tfl])).code).toBe(0);
    const r = await cli(['quantize', tfl, '-o', join(dir, 'm.onnx')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
