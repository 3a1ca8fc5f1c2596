// Hostile inputs through the real CLI: every one must end in exit 2 and ONE line on stderr that names
// the file (and the tensor or field at fault), never an internal error (exit 1) or a stack trace.
import { copyFileSync, cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { cli, fixture, tempDir, type CliResult } from '../helpers.js';
import { prng } from '../../src/train/loop.js';

const { onnx } = onnxProto;

/** Exit 2, exactly one non-empty stderr line, no stack frames, mentioning every `names`. */
function expectOneLineError(r: CliResult, ...names: string[]): string {
  const ctx = `exit ${r.code}, stderr:\n${r.stderr}`;
  expect(r.code, ctx).toBe(2);
  expect(r.stderr, ctx).not.toMatch(/^\s+at /m);
  const lines = r.stderr.split('\n').filter((l, i, all) => !(i === all.length - 1 && l === ''));
  expect(lines, ctx).toHaveLength(1);
  expect(lines[0]!.trim().length, ctx).toBeGreaterThan(0);
  expect(lines[0], ctx).not.toMatch(/internal error/);
  for (const n of names) expect(lines[0], ctx).toContain(n);
  return lines[0]!;
}

const inspect = (path: string): CliResult => cli(['inspect', path]);
const toTflite = (path: string): CliResult => cli(['export', path, '-o', join(tempDir(), 'out.tflite')]);

/** inspect of a file the IR cannot read: exit 0, the unreadable node on one line with its name escaped. */
function expectOneLineOps(r: CliResult, escaped: string): void {
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout).not.toContain('\u001b');
  expect(r.stdout.split('\n').filter((l) => l.startsWith('nodes it cannot read:'))[0]).toContain(escaped);
}

/** A copy of a fixture folder in a fresh temp dir; returns the copy's path. */
function copyFixture(name: string): string {
  const dir = join(tempDir(), name);
  cpSync(fixture('models', name), dir, { recursive: true });
  return dir;
}

function editJson(file: string, edit: (j: any) => void): void {
  const j = JSON.parse(readFileSync(file, 'utf8'));
  edit(j);
  writeFileSync(file, JSON.stringify(j));
}

function editOnnx(src: string, dst: string, edit: (m: any) => void): void {
  const m = onnx.ModelProto.decode(readFileSync(src));
  edit(m);
  writeFileSync(dst, onnx.ModelProto.encode(m).finish());
}


describe('inspect: unreadable or unrecognized files', () => {
  it('missing file', () => {
    const path = join(tempDir(), 'nope.onnx');
    expectOneLineError(inspect(path), path);
  });

  it('unknown extension / format (.txt)', () => {
    const path = join(tempDir(), 'notes.txt');
    writeFileSync(path, 'hello, this is not a model\n');
    expectOneLineError(inspect(path), path);
  });

  it('model.json that is truncated JSON', () => {
    const dir = copyFixture('mlp');
    const path = join(dir, 'model.json');
    const text = readFileSync(path, 'utf8');
    writeFileSync(path, text.slice(0, Math.floor(text.length / 2)));
    expectOneLineError(inspect(path), path);
  });

  it('model.json that is valid JSON but not a model', () => {
    const path = join(tempDir(), 'model.json');
    writeFileSync(path, JSON.stringify({ hello: 'world', layers: [1, 2, 3] }));
    expectOneLineError(inspect(path), path);
  });

  it('model.json that is a JSON array', () => {
    const path = join(tempDir(), 'model.json');
    writeFileSync(path, '[1, 2, 3]');
    expectOneLineError(inspect(path), path);
  });

  it('ONNX file truncated in half', () => {
    const path = join(tempDir(), 'half.onnx');
    const bytes = readFileSync(fixture('models', 'lenet-300-100.onnx'));
    writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expectOneLineError(inspect(path), path);
  });

  it('--debug on a missing file prints a stack', () => {
    const path = join(tempDir(), 'nope.onnx');
    const r = cli(['--debug', 'inspect', path]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines[0]).toContain(path);
    expect(r.stderr).toMatch(/^\s+at /m);
  });
});

describe('inspect: ONNX with random bytes flipped never crashes', () => {
  const original = readFileSync(fixture('models', 'lenet-300-100.onnx'));
  // 5, 12, 45 and 80 are seeds that once found bugs (a name with a newline; an out-of-range constant index).
  it.each([1, 2, 3, 5, 12, 42, 45, 80, 1234, 99999])('seed %i', (seed) => {
    const rand = prng(seed);
    const bytes = Buffer.from(original);
    // Most of the file is float weights; aim half of the flips at the first 4 KiB (graph structure).
    for (let k = 0; k < 16; k++) {
      const span = k % 2 ? bytes.length : Math.min(4096, bytes.length);
      const i = Math.floor(rand() * span);
      bytes[i] = bytes[i]! ^ (1 + Math.floor(rand() * 255));
    }
    const path = join(tempDir(), `flipped-${seed}.onnx`);
    writeFileSync(path, bytes);
    const r = inspect(path);
    const ctx = `exit ${r.code}, stderr:\n${r.stderr}`;
    expect([0, 2], ctx).toContain(r.code);
    expect(r.stderr, ctx).not.toMatch(/^\s+at /m);
    expect(r.stderr, ctx).not.toMatch(/internal error/);
    if (r.code === 2) expectOneLineError(r, path);
  });
});

describe('inspect: LayersModel weight shards', () => {
  it('missing weight shard', () => {
    const dir = copyFixture('mlp');
    const path = join(dir, 'model.json');
    editJson(path, (j) => (j.weightsManifest[0].paths = ['missing.bin']));
    expectOneLineError(inspect(path), path, 'missing.bin');
  });

  it('short (truncated) shard names the first weight that does not fit', () => {
    const dir = copyFixture('mlp');
    const path = join(dir, 'model.json');
    const shard = join(dir, 'weights.bin');
    const bytes = readFileSync(shard);
    // fc1/kernel is 784*300*4 bytes: cut inside fc2/kernel.
    writeFileSync(shard, bytes.subarray(0, (784 * 300 + 300 + 1000) * 4));
    expectOneLineError(inspect(path), path, 'fc2/kernel');
  });

  it('weightsManifest path "../outside.bin" is refused', () => {
    const root = tempDir();
    const dir = join(root, 'model');
    cpSync(fixture('models', 'mlp'), dir, { recursive: true });
    copyFileSync(join(dir, 'weights.bin'), join(root, 'outside.bin')); // exists, but outside
    const path = join(dir, 'model.json');
    editJson(path, (j) => (j.weightsManifest[0].paths = ['../outside.bin']));
    expectOneLineError(inspect(path), path, '../outside.bin');
  });

  it('weightsManifest absolute path is refused', () => {
    const root = tempDir();
    const dir = join(root, 'model');
    cpSync(fixture('models', 'mlp'), dir, { recursive: true });
    const abs = join(root, 'outside.bin');
    copyFileSync(join(dir, 'weights.bin'), abs);
    const path = join(dir, 'model.json');
    editJson(path, (j) => (j.weightsManifest[0].paths = [abs]));
    expectOneLineError(inspect(path), path, abs);
  });

  it('a symlinked shard that leads outside the folder is refused', () => {
    const root = tempDir();
    const dir = join(root, 'model');
    cpSync(fixture('models', 'mlp'), dir, { recursive: true });
    const outside = join(root, 'secret.bin');
    copyFileSync(join(dir, 'weights.bin'), outside);
    symlinkSync(outside, join(dir, 'link.bin'));
    const path = join(dir, 'model.json');
    editJson(path, (j) => (j.weightsManifest[0].paths = ['link.bin']));
    expectOneLineError(inspect(path), path, 'link.bin');
  });

  it('a weight whose shape product overflows names the weight', () => {
    const dir = copyFixture('mlp');
    const path = join(dir, 'model.json');
    editJson(path, (j) => (j.weightsManifest[0].weights[1].shape = [2 ** 31, 2 ** 31]));
    expectOneLineError(inspect(path), path, 'fc1/bias');
  });

  it.each([['abc'], [-5], [1.5], [0]])('batch_input_shape containing %j is refused', (bad) => {
    const dir = copyFixture('mlp');
    const path = join(dir, 'model.json');
    editJson(path, (j) => (j.modelTopology.config.layers[0].config.batch_input_shape = [null, 28, bad, 1]));
    expectOneLineError(inspect(path), path, 'batch_input_shape');
  });
});

describe('inspect: hostile ONNX', () => {
  it('external-data location "../x.bin" is refused', () => {
    const root = tempDir();
    const dir = join(root, 'lenet');
    cpSync(fixture('models', 'lenet-external'), dir, { recursive: true });
    copyFileSync(join(dir, 'weights.bin'), join(root, 'x.bin'));
    const path = join(dir, 'lenet.onnx');
    editOnnx(path, path, (m) => {
      for (const e of m.graph.initializer[0].externalData) if (e.key === 'location') e.value = '../x.bin';
    });
    expectOneLineError(inspect(path), path, 'fc1.weight', '../x.bin');
  });

  it('external-data location that is absolute is refused', () => {
    const root = tempDir();
    const dir = join(root, 'lenet');
    cpSync(fixture('models', 'lenet-external'), dir, { recursive: true });
    const abs = join(root, 'x.bin');
    copyFileSync(join(dir, 'weights.bin'), abs);
    const path = join(dir, 'lenet.onnx');
    editOnnx(path, path, (m) => {
      for (const t of m.graph.initializer) for (const e of t.externalData) if (e.key === 'location') e.value = abs;
    });
    expectOneLineError(inspect(path), path, 'fc1.weight', abs);
  });

  it('external-data file that is a symlink leading outside is refused', () => {
    const root = tempDir();
    const dir = join(root, 'lenet');
    mkdirSync(dir);
    copyFileSync(fixture('models', 'lenet-external', 'lenet.onnx'), join(dir, 'lenet.onnx'));
    copyFileSync(fixture('models', 'lenet-external', 'weights.bin'), join(root, 'weights.bin'));
    symlinkSync(join(root, 'weights.bin'), join(dir, 'weights.bin'));
    const path = join(dir, 'lenet.onnx');
    expectOneLineError(inspect(path), path, 'weights.bin');
  });

  it('negative dim in an initializer', () => {
    const path = join(tempDir(), 'neg.onnx');
    editOnnx(fixture('models', 'lenet-300-100.onnx'), path, (m) => {
      const t = m.graph.initializer.find((i: any) => i.name === 'fc2.bias');
      t.dims = [-100];
    });
    expectOneLineError(inspect(path), path, 'fc2.bias');
  });

  // The reader reads dim_value <= 0 as a run-time dim (some converters write -1 for "unknown"), so this
  // one may load; what it must never do is crash or report the negative size as a real one.
  it('negative dim in an input shape: refused, or read as a run-time dim', () => {
    const path = join(tempDir(), 'neg-input.onnx');
    editOnnx(fixture('models', 'lenet-300-100.onnx'), path, (m) => {
      const dims = m.graph.input[0].type.tensorType.shape.dim;
      dims[2] = onnx.TensorShapeProto.Dimension.create({ dimValue: -28 });
    });
    const r = cli(['inspect', '--json', path]);
    const ctx = `exit ${r.code}, stderr:\n${r.stderr}`;
    expect([0, 2], ctx).toContain(r.code);
    if (r.code === 2) expectOneLineError(r, path, 'input.1');
    else {
      const input = JSON.parse(r.stdout).inputs.find((i: { name: string }) => i.name === 'input.1');
      // A negative dim is no size: a run-time dim, named (the batch keeps its dim_param).
      expect(input.shape).toEqual(['batch_size', 1, 'input.1_dim2', 28]);
    }
  });

  it('initializer whose dims product overflows', () => {
    const path = join(tempDir(), 'huge.onnx');
    editOnnx(fixture('models', 'lenet-300-100.onnx'), path, (m) => {
      const t = m.graph.initializer.find((i: any) => i.name === 'fc1.weight');
      t.dims = [2 ** 31, 2 ** 31];
    });
    expectOneLineError(inspect(path), path, 'fc1.weight');
  });

  it('initializer with absurd dims and its real raw data', () => {
    const path = join(tempDir(), 'huge3.onnx');
    editOnnx(fixture('models', 'lenet-300-100.onnx'), path, (m) => {
      const t = m.graph.initializer.find((i: any) => i.name === 'fc1.bias');
      t.dims = [2 ** 40, 2 ** 40, 2 ** 40];
    });
    expectOneLineError(inspect(path), path, 'fc1.bias');
  });
});

/** A small opset-11 model: x [1, 6] → Shape → Gather(index) → Unsqueeze → Reshape(x, ·) → y [6]. */
function tinyOnnx(opts: { gatherIndex?: number; opType?: string; nodeName?: string } = {}): Uint8Array {
  const T = onnx.TensorProto.DataType;
  const A = onnx.AttributeProto.AttributeType;
  const vi = (name: string, dims: (number | string)[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: { tensorType: { elemType: T.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
    });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    opsetImport: [{ domain: '', version: 11 }],
    graph: {
      name: 'tiny',
      input: [vi('x', [1, 6])],
      output: [vi('y', ['n'])],
      initializer: [{ name: 'idx', dataType: T.INT64, dims: [], int64Data: [opts.gatherIndex ?? 1] }],
      node: [
        { name: 'shape', opType: 'Shape', input: ['x'], output: ['s'] },
        { name: 'pick', opType: 'Gather', input: ['s', 'idx'], output: ['g'], attribute: [{ name: 'axis', type: A.INT, i: 0 }] },
        { name: 'unsq', opType: 'Unsqueeze', input: ['g'], output: ['u'], attribute: [{ name: 'axes', type: A.INTS, ints: [0] }] },
        { name: opts.nodeName ?? 'reshape', opType: opts.opType ?? 'Reshape', input: ['x', 'u'], output: ['y'] },
      ],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

describe('inspect: hand-built ONNX graphs', () => {
  it('the tiny model itself loads (control for the cases below)', () => {
    const path = join(tempDir(), 'tiny.onnx');
    writeFileSync(path, tinyOnnx());
    const r = inspect(path);
    expect(r.code, r.stderr).toBe(0);
  });

  it('Gather of a shape with an out-of-range constant index names the node', () => {
    const path = join(tempDir(), 'gather.onnx');
    writeFileSync(path, tinyOnnx({ gatherIndex: 7 }));
    expectOneLineError(toTflite(path), path, 'pick');
  });

  it('an op type with a newline in it still gives one line', () => {
    const path = join(tempDir(), 'newline.onnx');
    writeFileSync(path, tinyOnnx({ opType: 'Resh\nape' }));
    expectOneLineError(toTflite(path), path, 'reshape');
    expectOneLineOps(inspect(path), 'Resh\\u000aape');
  });

  it('a node name with a newline and an escape sequence still gives one line', () => {
    const path = join(tempDir(), 'newline2.onnx');
    writeFileSync(path, tinyOnnx({ opType: 'Nope', nodeName: 'resh\n\u001b[31mape' }));
    const line = expectOneLineError(toTflite(path), path);
    expect(line).not.toContain('\u001b');
    expectOneLineOps(inspect(path), 'resh\\u000a\\u001b[31mape');
  });
});

describe('export refuses to overwrite its input', () => {
  it.each([
    ['lenet-300-100.onnx', 'onnx'],
    ['mlp/model.json', 'json'],
  ])('-o equal to the input (%s)', (name) => {
    const dir = tempDir();
    const input = join(dir, name.split('/').pop()!);
    if (name.includes('/')) cpSync(fixture('models', name.split('/')[0]!), dir, { recursive: true });
    else copyFileSync(fixture('models', name), input);
    const before = readFileSync(input);
    const r = cli(['export', input, '-o', input, '--format', 'onnx']);
    expectOneLineError(r, input);
    expect(readFileSync(input).equals(before)).toBe(true);
  });

  it('-o equal to a weight shard of the input is refused', () => {
    const dir = copyFixture('mlp');
    const shard = join(dir, 'weights.bin');
    const before = readFileSync(shard);
    const r = cli(['export', join(dir, 'model.json'), '-o', shard, '--format', 'onnx']);
    expectOneLineError(r, shard);
    expect(readFileSync(shard).equals(before)).toBe(true);
  });

  it('-o equal to the input spelled differently (./name) is refused', () => {
    const dir = tempDir();
    copyFileSync(fixture('models', 'lenet-300-100.onnx'), join(dir, 'm.onnx'));
    const before = readFileSync(join(dir, 'm.onnx'));
    const r = cli(['export', 'm.onnx', '-o', './m.onnx'], { cwd: dir });
    expectOneLineError(r, 'm.onnx');
    expect(readFileSync(join(dir, 'm.onnx')).equals(before)).toBe(true);
  });
});
