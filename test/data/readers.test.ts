// Dataset readers (src/data): .npy and .npz written byte by byte here, the bundled MNIST files in all
// three formats, .jsonl errors, and reshaping samples to a model's input.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { fitToModel, loadDataset, type Dataset } from '../../src/data/index.js';
import { parseNpy } from '../../src/data/npy.js';
import { parseNpz } from '../../src/data/npz.js';
import { EdgelmError } from '../../src/errors.js';
import { fixture, tempDir } from '../helpers.js';
import type { Dim } from '../../src/ir/dim.js';

// ---------------------------------------------------------------- writing .npy and .zip by hand

/** A .npy version 1.0 file: magic, version, header length, header dict padded to 64 bytes, data. */
function npy(descr: string, shape: number[], data: Uint8Array, fortran = false): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const pad = (64 - ((10 + header.length + 1) % 64)) % 64;
  header += ' '.repeat(pad) + '\n';
  expect((10 + header.length) % 64).toBe(0);
  const out = new Uint8Array(10 + header.length + data.length);
  out.set([0x93, ...Buffer.from('NUMPY', 'latin1'), 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(data, 10 + header.length);
  return out;
}

/** Little-endian bytes of numbers written with a DataView setter. */
function le(values: (number | bigint)[], bytes: number, set: (v: DataView, off: number, x: any) => void): Uint8Array {
  const out = new Uint8Array(values.length * bytes);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => set(v, i * bytes, x));
  return out;
}
const f32le = (xs: number[]): Uint8Array => le(xs, 4, (v, o, x) => v.setFloat32(o, x, true));
const f64le = (xs: number[]): Uint8Array => le(xs, 8, (v, o, x) => v.setFloat64(o, x, true));
const i64le = (xs: bigint[]): Uint8Array => le(xs, 8, (v, o, x) => v.setBigInt64(o, x, true));
const i32le = (xs: number[]): Uint8Array => le(xs, 4, (v, o, x) => v.setInt32(o, x, true));

/** A zip archive of the given entries, each STORED (method 0) or DEFLATED (method 8). */
function zip(entries: { name: string; data: Uint8Array }[], method: 0 | 8): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const { name, data } of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const body = method === 8 ? new Uint8Array(deflateRawSync(data)) : data;
    const crc = crc32(data);
    const local = new Uint8Array(30 + nameBytes.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true); // local file header signature
    lv.setUint16(4, 20, true); // version needed
    lv.setUint16(6, 0, true); // flags
    lv.setUint16(8, method, true);
    lv.setUint16(10, 0, true); // time
    lv.setUint16(12, 0x21, true); // date 1980-01-01
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, nameBytes.length, true);
    lv.setUint16(28, 0, true); // extra length
    local.set(nameBytes, 30);
    const cd = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true); // central directory signature
    cv.setUint16(4, 20, true); // version made by
    cv.setUint16(6, 20, true); // version needed
    cv.setUint16(8, 0, true);
    cv.setUint16(10, method, true);
    cv.setUint16(12, 0, true);
    cv.setUint16(14, 0x21, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, data.length, true);
    cv.setUint16(28, nameBytes.length, true);
    // extra, comment, disk number, internal/external attributes: 0
    cv.setUint32(42, offset, true);
    cd.set(nameBytes, 46);
    parts.push(local, body);
    central.push(cd);
    offset += local.length + body.length;
  }
  const cdSize = central.reduce((s, c) => s + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true); // end of central directory signature
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return Buffer.concat([...parts, ...central, end]);
}

function write(name: string, bytes: Uint8Array | string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, bytes);
  return path;
}

/** Runs fn, expecting an EdgelmError whose message matches every pattern; returns the message. */
async function expectInputError(fn: () => unknown, ...patterns: (string | RegExp)[]): Promise<string> {
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeDefined();
  expect(err, `not an EdgelmError: ${String(err)}`).toBeInstanceOf(EdgelmError);
  const msg = (err as Error).message;
  expect(msg.includes('\n'), msg).toBe(false);
  for (const p of patterns) expect(msg).toMatch(p);
  return msg;
}

// ---------------------------------------------------------------- .npy

describe('.npy written by hand', () => {
  it("'<f4' (2, 3) loads with its shape and values", async () => {
    const values = [1.5, -2, 0.25, 3e10, -0, 7];
    const path = write('a.npy', npy('<f4', [2, 3], f32le(values)));
    const ds = await loadDataset(path);
    expect(ds.shape).toEqual([2, 3]);
    expect(ds.x).toBeInstanceOf(Float32Array);
    expect(Array.from(ds.x)).toEqual(Array.from(Float32Array.from(values)));
    expect(ds.y).toBeUndefined();
  });

  it('parseNpy returns an owned array even from a Buffer slice at an odd offset', () => {
    const file = npy('<f4', [3], f32le([1, 2, 3]));
    const padded = Buffer.alloc(file.length + 1);
    padded.set(file, 1);
    const a = parseNpy('x.npy', padded.subarray(1));
    expect(a.dtype).toBe('float32');
    expect(Array.from(a.data as Float32Array)).toEqual([1, 2, 3]);
  });

  it("'<f8' is read and converted to float32", async () => {
    const path = write('d.npy', npy('<f8', [3], f64le([0.5, -1.25, 1e300])));
    const ds = await loadDataset(path);
    expect(ds.shape).toEqual([3]);
    expect(ds.x).toBeInstanceOf(Float32Array);
    expect(Array.from(ds.x)).toEqual([0.5, -1.25, Infinity]);
  });

  it("'<i8' is read (as int32 samples)", async () => {
    const path = write('i.npy', npy('<i8', [2, 2], i64le([1n, -2n, 30000n, 4n])));
    const arr = parseNpy(path, npy('<i8', [2, 2], i64le([1n, -2n, 30000n, 4n])));
    expect(arr.dtype).toBe('int64');
    const ds = await loadDataset(path);
    expect(ds.shape).toEqual([2, 2]);
    expect(ds.x).toBeInstanceOf(Int32Array);
    expect(Array.from(ds.x)).toEqual([1, -2, 30000, 4]);
  });

  it("'|u1' (numpy's spelling of uint8) is read", async () => {
    const path = write('u.npy', npy('|u1', [4], Uint8Array.from([0, 1, 128, 255])));
    const ds = await loadDataset(path);
    expect(ds.shape).toEqual([4]);
    expect(Array.from(ds.x)).toEqual([0, 1, 128, 255]);
  });

  it("'<u1' (the same dtype with an explicit byte order, accepted by numpy) is read", () => {
    const a = parseNpy('u.npy', npy('<u1', [2], Uint8Array.from([7, 250])));
    expect(a.dtype).toBe('uint8');
    expect(Array.from(a.data as Uint8Array)).toEqual([7, 250]);
  });

  it('fortran_order True is refused clearly', async () => {
    const path = write('f.npy', npy('<f4', [2, 3], f32le([1, 2, 3, 4, 5, 6]), true));
    await expectInputError(() => loadDataset(path), path, /fortran/i);
  });

  it("big-endian '>f4' is refused clearly", async () => {
    const path = write('b.npy', npy('>f4', [2], new Uint8Array(8)));
    await expectInputError(() => loadDataset(path), path, />f4/, /endian/i);
  });

  it('data shorter than the shape needs is refused', async () => {
    const path = write('short.npy', npy('<f4', [2, 3], f32le([1, 2, 3])));
    await expectInputError(() => loadDataset(path), path, /needs 24 bytes/);
  });

  it('bad magic and an absurd shape are refused', async () => {
    await expectInputError(() => loadDataset(write('m.npy', 'not numpy at all')), /bad magic/);
    await expectInputError(() => loadDataset(write('s.npy', npy('<f4', [2 ** 40, 2 ** 40], new Uint8Array(8)))), /s\.npy/);
    await expectInputError(() => loadDataset(write('n.npy', npy('<f4', [-2, 3], new Uint8Array(8)))), /invalid shape/);
  });

  it('labels from a separate .npy', async () => {
    const x = write('x.npy', npy('<f4', [3, 2], f32le([1, 2, 3, 4, 5, 6])));
    const y = write('y.npy', npy('<i8', [3], i64le([2n, 0n, 1n])));
    const ds = await loadDataset(x, { labels: y });
    expect(Array.from(ds.y!)).toEqual([2, 0, 1]);
    const bad = write('y4.npy', npy('<i4', [4], i32le([0, 1, 2, 3])));
    await expectInputError(() => loadDataset(x, { labels: bad }), bad, /4 labels for 3 samples/);
    const floats = write('yf.npy', npy('<f4', [3], f32le([0, 1, 2])));
    await expectInputError(() => loadDataset(x, { labels: floats }), floats, /integers/);
  });
});

// ---------------------------------------------------------------- .npz

describe('.npz written by hand', () => {
  const xValues = [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5];
  const entries = [
    { name: 'x.npy', data: npy('<f4', [3, 2, 2], f32le(xValues)) },
    { name: 'y.npy', data: npy('<i8', [3], i64le([9n, 0n, 4n])) },
  ];

  it.each([
    ['STORED', 0 as const],
    ['DEFLATED', 8 as const],
  ])('%s entries load', async (_, method) => {
    const path = write(`d${method}.npz`, zip(entries, method));
    const ds = await loadDataset(path);
    expect(ds.shape).toEqual([3, 2, 2]);
    expect(Array.from(ds.x)).toEqual(xValues);
    expect(Array.from(ds.y!)).toEqual([9, 0, 4]);
  });

  it('DEFLATED entries really are compressed in the archive', () => {
    const big = [{ name: 'x.npy', data: npy('<f4', [1000], new Uint8Array(4000)) }];
    expect(zip(big, 8).length).toBeLessThan(zip(big, 0).length / 4);
    const arrays = parseNpz('z.npz', zip(big, 8));
    expect(arrays.get('x')!.shape).toEqual([1000]);
  });

  it('an archive without x is refused, naming what it holds', async () => {
    const path = write('nox.npz', zip([{ name: 'images.npy', data: entries[0]!.data }], 0));
    await expectInputError(() => loadDataset(path), path, /'x'/, /images/);
  });

  it('a truncated archive is refused', async () => {
    const bytes = zip(entries, 8);
    const path = write('cut.npz', bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expectInputError(() => loadDataset(path), path);
  });

  it('an unsupported compression method is refused', async () => {
    const bytes = zip(entries, 0);
    // Patch the method of the first central-directory entry to 12 (bzip2).
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const cdOffset = v.getUint32(bytes.length - 22 + 16, true);
    v.setUint16(cdOffset + 10, 12, true);
    const path = write('bz.npz', bytes);
    await expectInputError(() => loadDataset(path), path, /method 12/);
  });
});

// ---------------------------------------------------------------- the bundled MNIST files

describe('bundled MNIST data: .npz, .npy pair and .jsonl agree', () => {
  const inputShape: Dim[] = ['batch', 28, 28, 1];

  it('first 5 samples and labels are the same in every format', async () => {
    const npz = await loadDataset(fixture('data', 'mnist-test.npz'), { inputShape });
    const npyPair = await loadDataset(fixture('data', 'mnist-test-x.npy'), { labels: fixture('data', 'mnist-test-y.npy'), inputShape });
    const jsonl = await loadDataset(fixture('data', 'mnist-test.jsonl'), { inputShape });
    const all: Dataset[] = [npz, npyPair, jsonl];
    for (const ds of all) {
      expect(ds.shape.slice(1)).toEqual([28, 28, 1]);
      expect(ds.shape[0]).toBeGreaterThanOrEqual(5);
      expect(ds.y).toBeDefined();
      expect(ds.y!.length).toBe(ds.shape[0]);
    }
    const first = (ds: Dataset) => Array.from(ds.x.subarray(0, 5 * 784));
    const labels = (ds: Dataset) => Array.from(ds.y!.subarray(0, 5));
    expect(first(npyPair)).toEqual(first(npz));
    expect(first(jsonl)).toEqual(first(npz));
    expect(labels(npyPair)).toEqual(labels(npz));
    expect(labels(jsonl)).toEqual(labels(npz));
    // Real digits: values in [0, 1], some ink in every sample, labels 0..9.
    for (let i = 0; i < 5; i++) {
      const s = npz.x.subarray(i * 784, (i + 1) * 784);
      expect(Math.max(...s)).toBeGreaterThan(0.5);
      expect(Math.min(...s)).toBeGreaterThanOrEqual(0);
    }
    expect(labels(npz).every((l) => l >= 0 && l <= 9)).toBe(true);
  });
});

// ---------------------------------------------------------------- .jsonl

describe('.jsonl', () => {
  it('reads nested inputs and labels', async () => {
    const path = write('ok.jsonl', '{"input": [[1, 2], [3, 4]], "label": 1}\n\n{"input": [[5, 6], [7, 8]], "label": 0}\n');
    const ds = await loadDataset(path);
    expect(ds.shape).toEqual([2, 2, 2]);
    expect(Array.from(ds.x)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Array.from(ds.y!)).toEqual([1, 0]);
  });

  it('unlabelled lines give a dataset without y', async () => {
    const path = write('nolabel.jsonl', '{"input": [1, 2, 3]}\n{"input": [4, 5, 6]}\n');
    const ds = await loadDataset(path);
    expect(ds.shape).toEqual([2, 3]);
    expect(ds.y).toBeUndefined();
  });

  it('a bad line is reported with its line number', async () => {
    const path = write('bad.jsonl', '{"input": [1, 2], "label": 0}\n{"input": [3, 4], "label": 1}\n{"input": [5, 6], "label": \n');
    await expectInputError(() => loadDataset(path), path, /line 3/);
  });

  it.each([
    ['a different shape', '{"input": [1, 2, 3], "label": 1}'],
    ['a non-integer label', '{"input": [1, 2], "label": 1.5}'],
    ['no input', '{"label": 1}'],
    ['a string in the input', '{"input": [1, "2"], "label": 1}'],
    ['a ragged input', '{"input": [[1, 2], [3]], "label": 1}'],
    ['a missing label', '{"input": [1, 2]}'],
    ['a scalar input', '{"input": 5, "label": 1}'],
    ['a null row', 'null'],
  ])('line 2 with %s is refused with its line number', async (_, line) => {
    const path = write('bad2.jsonl', `{"input": [1, 2], "label": 0}\n${line}\n`);
    await expectInputError(() => loadDataset(path), path, /line 2/);
  });

  it('a scalar input on the first line is refused with its line number', async () => {
    const path = write('scalar.jsonl', '{"input": 5, "label": 1}\n');
    await expectInputError(() => loadDataset(path), path, /line 1/);
  });

  it('an empty file is refused', async () => {
    await expectInputError(() => loadDataset(write('empty.jsonl', '\n\n')), /no samples/);
  });

  it('a large sample (3×224×224 values on one line) loads', async () => {
    const n = 3 * 224 * 224;
    const path = write('big.jsonl', `{"input": [${new Array(n).fill(0).join(',')}], "label": 3}\n`);
    const ds = await loadDataset(path, { inputShape: ['batch', 224, 224, 3] });
    expect(ds.shape).toEqual([1, 224, 224, 3]);
    expect(ds.x.length).toBe(n);
  });

  it('an unknown data extension is refused', async () => {
    await expectInputError(() => loadDataset(write('data.csv', '1,2,3\n')), /data\.csv/, /\.csv/);
  });
});

// ---------------------------------------------------------------- fitting samples to the model

describe('fitToModel: reshaping samples to the model input', () => {
  const ds: Dataset = { x: new Float32Array(2 * 784), shape: [2, 784], source: 'flat.npy' };

  it('reshapes when the element counts match', () => {
    const fit = fitToModel(ds, ['batch', 28, 28, 1]);
    expect(fit.shape).toEqual([2, 28, 28, 1]);
    expect(fit.x).toBe(ds.x);
    expect(fitToModel({ ...ds, shape: [2, 28, 28, 1] }, [1, 784]).shape).toEqual([2, 784]);
  });

  it('keeps the data shape when the model takes run-time sizes or no shape', () => {
    expect(fitToModel(ds, ['batch', 'seq']).shape).toEqual([2, 784]);
    expect(fitToModel(ds, undefined).shape).toEqual([2, 784]);
  });

  it('refuses clearly when the counts differ', async () => {
    await expectInputError(() => fitToModel(ds, ['batch', 32, 32, 3]), 'flat.npy', /784/, /3072/, /\[batch, ?32, ?32, ?3\]/);
  });

  it('loadDataset applies it (npz with [N,28,28,1] to a flat [?, 784] model, and a mismatch)', async () => {
    const flat = await loadDataset(fixture('data', 'mnist-test.npz'), { inputShape: ['batch', 784] });
    expect(flat.shape).toEqual([1000, 784]);
    const path = fixture('data', 'mnist-test.npz');
    await expectInputError(() => loadDataset(path, { inputShape: ['batch', 10] }), path, /do not fit/);
    const jsonl = fixture('data', 'mnist-test.jsonl');
    await expectInputError(() => loadDataset(jsonl, { inputShape: ['batch', 28, 28, 3] }), jsonl, /do not fit/);
  });
});
