// Mutation fuzzing of every reader with fixed seeds: ONNX protobuf, TF.js model.json + manifests +
// shards (Layers and Graph models), TFLite flatbuffers and data files (.npy, .npz, .jsonl).
//
// Each case mutates a real fixture (truncation, byte flips, interesting integers, JSON key deletes,
// swaps, duplicates, wrong types, absurd dims, NaN/Infinity, wrong dtypes, shard length mismatches,
// structured protobuf/flatbuffer edits) and reads it the way the CLI does. A case passes when the
// reader succeeds or throws an EdgelmError with a one-line message (exit 0 or 2), within 5 s and
// without allocating far more than the file justifies. Anything else is what the CLI would report
// as an internal error (exit 1) or a crash.
//
// Most cases run in-process (a CLI spawn costs ~200 ms); a sample, plus one directed case per bug
// found (directed.ts), also runs through the real CLI (dist/: npm run build first) under
// --max-old-space-size=256 to check exit codes, signals and one-line stderr end to end.
//
// Same seeds → same cases: a failure names its reader, case index and mutation, keeps its files,
// and replays alone with FUZZ_ONLY=<reader>:<index>. FUZZ_SCALE=<k> runs k times the cases (a
// longer hunt; every bug in directed.ts was found that way or at the default scale), FUZZ_LOG=<file>
// logs each case and its outcome before/after it runs (the way to find a case that hangs).
// The TFLite seeds are the cnn fixture lowered in-process: the same code as `edgelm export -o x.tflite`.
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitToModel, loadDataset } from '../../src/data/index.js';
import { encodeNpy, parseNpy, type NdArray } from '../../src/data/npy.js';
import { encodeNpz, parseNpz } from '../../src/data/npz.js';
import { EdgelmError } from '../../src/errors.js';
import { serializeTflite, type TflModel } from '../../src/export/tflite/flatbuffer.js';
import { readTfliteGraph } from '../../src/import/tflite/graph.js';
import { lowerToTflite } from '../../src/export/tflite/lower.js';
import { detectFormat, loadModel } from '../../src/import/index.js';
import { ONNX_OPS } from '../../src/import/onnx/ops.js';
import { verifyGraph } from '../../src/ir/verify.js';
import { sizeOf } from '../../src/ir/tensor.js';
import { defaultPlan } from '../../src/quantize/plan.js';
import { inspectGraph, inspectTflite, type InspectReport } from '../../src/report/inspect.js';
import { ROOT, fixture, tempDir } from '../helpers.js';
import { directedCases } from './directed.js';
import { writeLayersZoo } from './seeds.js';
import { caseRng, chance, int, jsonPaths, jsonText, mutateBytes, mutateJsonOnce, pick, weird, type JsonPath, type Rng } from './mutate.js';

const { onnx } = onnxProto;

/** Cases per seed file; the total is asserted to stay ≥ 1,000. */
const N = {
  onnx: { 'lenet-300-100.onnx': 120, 'cnn-nchw.onnx': 120, 'ops-zoo.onnx': 140 },
  layers: { mlp: 100, cnn: 100 },
  layersZoo: 150,
  graph: { 'graph-cnn': 120, 'graph-cnn-u8': 60 },
  tflite: { float: 130, dynamic: 80 },
  data: { npy: 90, npz: 90, jsonl: 90, labels: 30 },
};
const CLI_CASES = 40;
const CASE_LIMIT_MS = 5_000;
const CLI_TIMEOUT_MS = 10_000;
/** "No allocation larger than the file justifies": ArrayBuffer growth per case above this factor of the input is a failure. */
const ALLOC_FACTOR = 16;
const ALLOC_SLACK = 64 << 20;

const ONLY = process.env.FUZZ_ONLY; // "reader:index" replays one case
/** FUZZ_SCALE=10 runs ten times the cases (new indices, same seeds) for a longer local hunt. */
const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1);

// ---------------------------------------------------------------------------------------------
// Harness

interface Case {
  /** What to read: a file or a model folder. */
  path: string;
  desc: string;
  /** Bytes of all input files: the budget for allocations. */
  bytes: number;
}

interface Reader {
  name: string;
  count: number;
  /** Writes case i into `dir` (emptied first) and says what to read. */
  make(dir: string, i: number): Case;
  /** Reads it the way the CLI does, in-process. */
  run(path: string): Promise<void>;
  /** The CLI arguments that read it. */
  cli(path: string): string[];
}

interface Failure {
  reader: string;
  index: number;
  desc: string;
  problem: string;
  kept?: string;
}

const failures: Failure[] = [];
const notes: Failure[] = [];
const stats = new Map<string, { cases: number; ok: number; refused: number; ms: number }>();
let keepDir = '';

/**
 * Names taken from a damaged file may hold newlines; the CLI prints messages with control characters
 * escaped (src/cli/main.ts), so a message is checked as the user will see it: the same escaping here.
 */
const asPrinted = (s: string): string => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);

function oneLineProblem(e: EdgelmError): string | undefined {
  const printed = asPrinted(`${e.message}${e.hint ? ` (${e.hint})` : ''}`);
  if (!printed.trim()) return 'empty error message';
  if (/\bat .*\.(ts|js):\d+/.test(printed) || /^\s+at /m.test(e.message)) return `stack frames in the message: ${JSON.stringify(e.message.slice(0, 300))}`;
  return undefined;
}

/**
 * Crashes the fuzzer finds in code this suite may not change (src/report is another owner's): each
 * is listed with its fix, reported in the summary and not failed. Remove an entry once fixed.
 */
const KNOWN: { problem: RegExp; where: string; fix: string }[] = [];
const known: Failure[] = [];

function describeThrown(e: unknown): string {
  if (!(e instanceof Error)) return `threw a non-Error: ${String(e).slice(0, 200)}`;
  const frame = (e.stack ?? '').split('\n').find((l) => /^\s+at /.test(l) && l.includes('/src/'));
  return `${e.constructor.name}: ${e.message.split('\n')[0]!.slice(0, 300)}${frame ? ` [${frame.trim()}]` : ''}`;
}

function reset(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

async function runInProcess(reader: Reader, dir: string, i: number): Promise<void> {
  reset(dir);
  let c: Case;
  try {
    c = reader.make(dir, i);
  } catch (e) {
    // A bug in this suite's own mutators: reported as such, with its stack.
    failures.push({ reader: reader.name, index: i, desc: 'mutator', problem: `the mutator threw: ${(e as Error).stack?.split('\n').slice(0, 4).join(' | ')}` });
    return;
  }
  current = `${reader.name}#${i} [${c.desc.slice(0, 120)}]`;
  if (process.env.FUZZ_LOG) appendFileSync(process.env.FUZZ_LOG, `${reader.name}#${i} ${c.desc}\n`);
  const st = stats.get(reader.name)!;
  st.cases++;
  const ab0 = process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  let problem: string | undefined;
  let outcome = 'read';
  try {
    await reader.run(c.path);
    st.ok++;
  } catch (e) {
    outcome = String((e as Error)?.message).slice(0, 200);
    if (e instanceof EdgelmError) {
      st.refused++;
      problem = oneLineProblem(e);
    } else problem = describeThrown(e);
  }
  const ms = performance.now() - t0;
  st.ms += ms;
  if (process.env.FUZZ_LOG) appendFileSync(process.env.FUZZ_LOG, `  -> ${outcome}\n`);
  if (!problem && ms > CASE_LIMIT_MS) problem = `took ${ms.toFixed(0)} ms (limit ${CASE_LIMIT_MS})`;
  const grew = process.memoryUsage().arrayBuffers - ab0;
  if (!problem && grew > ALLOC_FACTOR * c.bytes + ALLOC_SLACK) problem = `ArrayBuffers grew by ${grew} bytes reading ${c.bytes} bytes of input`;
  if (problem && KNOWN.some((k) => k.problem.test(problem!))) {
    known.push({ reader: reader.name, index: i, desc: c.desc, problem });
    return;
  }
  if (problem) {
    const kept = join(keepDir, `${reader.name}-${i}`);
    cpSync(dir, kept, { recursive: true });
    failures.push({ reader: reader.name, index: i, desc: c.desc, problem, kept });
  }
}

let current = '';

/** Soft finding: a reader accepted something a later stage refuses (reported, not failed). */
function note(what: string): void {
  notes.push({ reader: current, index: -1, desc: '', problem: what });
}

// ---------------------------------------------------------------------------------------------
// How the CLI reads: `inspect` for models, `eval --data` for data files.

async function inspectLikeCli(path: string): Promise<InspectReport> {
  const { file, format } = detectFormat(path);
  let report: InspectReport;
  if (format === 'tflite') {
    report = inspectTflite(file);
    // A file inspect reads is also a source (quantize, export): the graph reader must end the same way.
    try {
      readTfliteGraph(file, () => {});
    } catch (e) {
      if (!(e instanceof EdgelmError)) throw e;
    }
  } else {
    const graph = await loadModel(path);
    // What every later command relies on; a failure here is an EdgelmError for the user, but
    // one the reader should arguably have raised itself: recorded as a note.
    try {
      verifyGraph(graph, file);
    } catch (e) {
      if (!(e instanceof EdgelmError)) throw e;
      note(e.message.slice(0, 200));
    }
    report = inspectGraph(graph, file);
  }
  JSON.stringify(report); // `inspect --json`
  const { renderInspect } = await import('../../src/cli/commands/inspect.js');
  renderInspect(report);
  return report;
}

/** loadDataset + `--limit 5` + fitting to the MNIST models' input, as `eval` does. */
async function evalDataLikeCli(path: string, labels?: string): Promise<void> {
  let data = await loadDataset(path, labels ? { labels } : {});
  const n = data.shape[0]!;
  if (sizeOf(data.shape) !== data.x.length) throw new Error(`dataset shape [${data.shape}] but ${data.x.length} values`);
  if (data.y && (n === 0 ? data.y.length !== 0 : data.y.length % n !== 0)) throw new Error(`${data.y.length} labels for ${n} samples`);
  const per = data.x.length / n;
  const keep = Math.min(5, n);
  data = { ...data, x: data.x.subarray(0, keep * per), shape: [keep, ...data.shape.slice(1)], ...(data.y ? { y: data.y.subarray(0, keep) } : {}) };
  const fitted = fitToModel(data, ['batch', 28, 28, 1]);
  if (!Number.isInteger(per) || per < 1) throw new Error(`${per} values per sample`);
  if (sizeOf(fitted.shape) !== fitted.x.length) throw new Error(`fitted shape [${fitted.shape}] but ${fitted.x.length} values`);
}

// ---------------------------------------------------------------------------------------------
// ONNX

const ONNX_OP_NAMES = Object.keys(ONNX_OPS);
const ONNX_ATTR_NAMES = ['axis', 'axes', 'perm', 'pads', 'strides', 'kernel_shape', 'group', 'dilations', 'to', 'keepdims', 'epsilon', 'alpha', 'beta', 'transA', 'transB', 'value', 'split', 'mode', 'auto_pad', 'output_padding', 'output_shape', 'starts', 'ends', 'min', 'max', 'approximate', 'num_outputs', 'allowzero', 'ceil_mode', 'count_include_pad', 'stash_type'];
const AT = onnx.AttributeProto.AttributeType;

function weirdInt(r: Rng): number {
  return pick(r, [0, 1, -1, 2, 3, -2, 7, 1e12, -1e12, 2 ** 31, -(2 ** 31), 2 ** 53, 9e18, 64, 1000]);
}

function weirdTensorProto(r: Rng): any {
  const dims = Array.from({ length: int(r, 4) }, () => (chance(r, 0.3) ? weirdInt(r) : 1 + int(r, 4)));
  const t: any = { name: pick(r, ['', 'w', 'x']), dataType: pick(r, [1, 1, 7, 6, 10, 11, 9, 2, 3, 8, 0, 99]), dims };
  const u = r();
  if (u < 0.4) t.rawData = new Uint8Array(int(r, 64));
  else if (u < 0.6) t.floatData = Array.from({ length: int(r, 8) }, () => r());
  else if (u < 0.8) t.int64Data = Array.from({ length: int(r, 8) }, () => weirdInt(r));
  else t.int32Data = Array.from({ length: int(r, 8) }, () => weirdInt(r));
  return t;
}

/** One structured edit of a decoded ModelProto. */
function mutateOnnxModel(r: Rng, m: any): string {
  const g = m.graph;
  const nodes: any[] = g.node ?? [];
  const inits: any[] = g.initializer ?? [];
  const tensors: { t: any; where: string }[] = [
    ...inits.map((t, k) => ({ t, where: `initializer ${k}` })),
    ...nodes.flatMap((n) => (n.attribute ?? []).filter((a: any) => a.t).map((a: any) => ({ t: a.t, where: `${n.opType}.${a.name}` }))),
  ];
  const node = nodes.length ? pick(r, nodes) : undefined;
  switch (int(r, 20)) {
    case 0: {
      if (!tensors.length) return 'noop';
      const { t, where } = pick(r, tensors);
      const dims = (t.dims ?? []).map(Number);
      const u = r();
      if (u < 0.6 && dims.length) dims[int(r, dims.length)] = weirdInt(r);
      else if (u < 0.8) dims.push(weirdInt(r));
      else dims.pop();
      t.dims = dims;
      return `${where} dims=[${dims}]`;
    }
    case 1: {
      if (!tensors.length) return 'noop';
      const { t, where } = pick(r, tensors);
      t.dataType = int(r, 24);
      return `${where} dataType=${t.dataType}`;
    }
    case 2: {
      if (!tensors.length) return 'noop';
      const { t, where } = pick(r, tensors);
      const raw: Uint8Array = t.rawData ?? new Uint8Array();
      const u = r();
      if (u < 0.4) t.rawData = raw.slice(0, int(r, raw.length + 1));
      else if (u < 0.6) t.rawData = Buffer.concat([raw, new Uint8Array(1 + int(r, 16))]);
      else if (u < 0.8) {
        t.rawData = new Uint8Array();
        t.floatData = Array.from({ length: int(r, 10) }, () => r());
      } else {
        t.rawData = new Uint8Array();
        t.int64Data = Array.from({ length: int(r, 10) }, () => weirdInt(r));
      }
      return `${where} data changed`;
    }
    case 3: {
      if (!tensors.length) return 'noop';
      const { t, where } = pick(r, tensors);
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      const entries: any[] = [];
      if (chance(r, 0.9)) entries.push({ key: 'location', value: pick(r, ['weights.bin', 'weights.bin', '../outside.bin', '/etc/passwd', 'missing.bin', 'model.onnx', '', 'sub/../weights.bin', 'a\0b', '.', 'link.bin']) });
      if (chance(r, 0.6)) entries.push({ key: 'offset', value: pick(r, ['0', '4', '-1', '1e12', 'abc', '18446744073709551615', '4096', '1.5', '']) });
      if (chance(r, 0.6)) entries.push({ key: 'length', value: pick(r, ['0', '16', '-1', '1e12', 'abc', '4096', '9007199254740993', String((t.rawData?.length ?? 0) || 4)]) });
      if (chance(r, 0.5)) t.rawData = new Uint8Array();
      t.externalData = entries;
      return `${where} external ${JSON.stringify(entries.map((e) => e.value))}`;
    }
    case 4: {
      if (!node) return 'noop';
      const op = pick(r, [...ONNX_OP_NAMES, 'Bogus', '', 'LSTM']);
      const was = node.opType;
      node.opType = op;
      return `node ${node.name} ${was}->${op}`;
    }
    case 5: {
      if (!node) return 'noop';
      const ins: string[] = node.input ?? [];
      const u = r();
      if (u < 0.25 && ins.length) ins.splice(int(r, ins.length), 1);
      else if (u < 0.45) ins.push(pick(r, ['', 'nope', ...ins, ...inits.map((t) => t.name)]));
      else if (u < 0.65 && ins.length) ins[int(r, ins.length)] = pick(r, ['', 'nope', ...inits.map((t) => t.name), ...nodes.flatMap((n) => n.output ?? [])]);
      else if (ins.length > 1) ins.reverse();
      else ins.length = 0;
      node.input = ins;
      return `node ${node.name} inputs=${JSON.stringify(ins).slice(0, 80)}`;
    }
    case 6: {
      if (!node) return 'noop';
      const outs: string[] = node.output ?? [];
      const u = r();
      if (u < 0.3) node.output = [];
      else if (u < 0.6) node.output = [pick(r, [...nodes.flatMap((n) => n.output ?? []), ...(g.input ?? []).map((i: any) => i.name)])];
      else node.output = [...outs, ...outs, 'extra'];
      return `node ${node.name} outputs=${JSON.stringify(node.output).slice(0, 80)}`;
    }
    case 7: {
      if (!node) return 'noop';
      const attrs: any[] = node.attribute ?? [];
      if (attrs.length && chance(r, 0.6)) {
        const a = pick(r, attrs);
        const u = r();
        if (u < 0.2) a.type = int(r, 15);
        else if (u < 0.4) a.i = weirdInt(r);
        else if (u < 0.55) a.ints = chance(r, 0.5) ? [] : Array.from({ length: 1 + int(r, 6) }, () => weirdInt(r));
        else if (u < 0.65) a.f = pick(r, [NaN, Infinity, -1, 0, 1e30]);
        else if (u < 0.75) a.floats = [NaN, -1];
        else if (u < 0.85) a.s = Buffer.from(pick(r, ['', 'SAME_UPPER', 'bogus', 'tanh', '\n\x1b[31m']));
        else a.t = weirdTensorProto(r);
        return `node ${node.name} attr ${a.name} edited`;
      }
      const a: any = { name: pick(r, ONNX_ATTR_NAMES), type: pick(r, [AT.INT, AT.INTS, AT.FLOAT, AT.FLOATS, AT.STRING, AT.TENSOR, AT.GRAPH]) };
      if (a.type === AT.INT) a.i = weirdInt(r);
      if (a.type === AT.INTS) a.ints = Array.from({ length: int(r, 6) }, () => weirdInt(r));
      if (a.type === AT.FLOAT) a.f = pick(r, [NaN, 0, -1, 1e30]);
      if (a.type === AT.FLOATS) a.floats = [NaN, 2];
      if (a.type === AT.STRING) a.s = Buffer.from(pick(r, ['', 'SAME_LOWER', 'bogus', 'NOTSET', 'VALID']));
      if (a.type === AT.TENSOR) a.t = weirdTensorProto(r);
      node.attribute = [...attrs.filter((x) => x.name !== a.name), a];
      return `node ${node.name} attr ${a.name}:${a.type} added`;
    }
    case 8: {
      const ins: any[] = g.input ?? [];
      if (!ins.length) return 'noop';
      const vi = pick(r, ins);
      const u = r();
      const tt = vi.type?.tensorType;
      if (u < 0.25 && tt) tt.elemType = int(r, 24);
      else if (u < 0.55 && tt?.shape?.dim?.length) {
        const d = pick(r, tt.shape.dim as any[]);
        d.dimParam = '';
        d.dimValue = weirdInt(r);
      } else if (u < 0.7 && tt) tt.shape = chance(r, 0.5) ? null : { dim: [] };
      else if (u < 0.8) vi.type = null;
      else if (u < 0.9) g.input = ins.filter((x) => x !== vi);
      else ins.push({ ...vi });
      return `graph input ${vi.name} edited`;
    }
    case 9: {
      const outs: any[] = g.output ?? [];
      const u = r();
      if (u < 0.4 && outs.length) pick(r, outs).name = pick(r, ['', 'nope', ...(g.input ?? []).map((i: any) => i.name), ...inits.map((t) => t.name)]);
      else if (u < 0.6) g.output = [];
      else if (outs.length) outs.push({ ...pick(r, outs) });
      return 'graph outputs edited';
    }
    case 10: {
      const v = pick(r, [0, 1, 6, 7, 9, 11, 13, 21, 22, 1e9, -1]);
      if (!m.opsetImport?.length) m.opsetImport = [{ domain: '', version: v }];
      else if (chance(r, 0.8)) m.opsetImport[0].version = v;
      else m.opsetImport[0].domain = pick(r, ['com.microsoft', 'ai.onnx.ml', 'ai.onnx']);
      return `opset ${JSON.stringify(m.opsetImport)}`;
    }
    case 11: {
      if (!inits.length) return 'noop';
      const k = int(r, inits.length);
      const u = r();
      if (u < 0.35) inits.splice(k, 1);
      else if (u < 0.6) inits.push(structuredClone(inits[k]));
      else if (u < 0.8) inits[k].name = pick(r, ['', ...(g.input ?? []).map((i: any) => i.name), ...nodes.flatMap((n) => n.output ?? [])]);
      else inits.push(weirdTensorProto(r));
      return `initializer ${k} edited`;
    }
    case 12: {
      if (!nodes.length) return 'noop';
      const k = int(r, nodes.length);
      const u = r();
      if (u < 0.4) nodes.splice(k, 1);
      else if (u < 0.7) nodes.splice(k, 0, structuredClone(nodes[k]));
      else {
        const j = int(r, nodes.length);
        [nodes[k], nodes[j]] = [nodes[j], nodes[k]];
      }
      return `node list edited at ${k}`;
    }
    case 13: {
      if (!node) return 'noop';
      node.domain = pick(r, ['com.microsoft', 'ai.onnx', 'ai.onnx.ml', '']);
      return `node ${node.name} domain=${node.domain}`;
    }
    case 14: {
      if (!node) return 'noop';
      node.name = pick(r, ['', '\n\u001b[2J', 'x'.repeat(300), node.input?.[0] ?? 'a']);
      return `node renamed`;
    }
    case 15: {
      m.irVersion = pick(r, [0, 3, 7, 10, 1e9, -1]);
      return `irVersion ${m.irVersion}`;
    }
    default: {
      // The values of a small integer constant (a Reshape target, Slice bounds, Pad widths, Gather
      // indices, a ConstantOfShape/Range argument): shape arithmetic is folded while reading.
      const small = tensors.filter(({ t }) => [6, 7].includes(t.dataType) && (t.dims ?? []).reduce((p: number, d: any) => p * Number(d), 1) <= 16);
      if (!small.length) return 'noop';
      const { t, where } = pick(r, small);
      const n = (t.dims ?? []).reduce((p: number, d: any) => p * Number(d), 1);
      const vals = Array.from({ length: n }, () => (chance(r, 0.5) ? weirdInt(r) : pick(r, [0, -1, 1, 2, -2, 2 ** 31 - 1, 1 << 24, 1 << 30])));
      if (t.dataType === 7) {
        const raw = new Uint8Array(8 * n);
        vals.forEach((v, k) => new DataView(raw.buffer).setBigInt64(8 * k, BigInt(Math.trunc(Math.max(-(2 ** 63), Math.min(2 ** 63 - 1, v)))), true));
        t.rawData = raw;
        t.int64Data = [];
      } else {
        t.rawData = new Uint8Array(new Int32Array(vals.map((v) => v | 0)).buffer);
        t.int32Data = [];
      }
      return `${where} values=[${vals}]`;
    }
  }
}

function onnxReader(seed: string, count: number, baseSeed: number): Reader {
  const original = readFileSync(fixture('models', seed));
  return {
    name: `onnx:${seed}`,
    count,
    make(dir, i) {
      const r = caseRng(baseSeed, i);
      const path = join(dir, 'model.onnx');
      // An external-data target in the folder, for mutations that move a tensor there.
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(4096).fill(0x3f));
      let bytes: Uint8Array;
      let desc: string;
      if (chance(r, 0.4)) ({ value: bytes, desc } = mutateBytes(r, original));
      else {
        const m: any = onnx.ModelProto.decode(original);
        const descs: string[] = [];
        for (let k = 1 + int(r, 3); k > 0; k--) descs.push(mutateOnnxModel(r, m));
        try {
          bytes = onnx.ModelProto.encode(m).finish();
        } catch (e) {
          // The edit is not even encodable (e.g. a value of the wrong JS type): fall back to bytes.
          descs.push(`unencodable (${(e as Error).message.slice(0, 40)})`);
          ({ value: bytes } = mutateBytes(r, original));
        }
        desc = descs.join('; ');
      }
      writeFileSync(path, bytes);
      return { path, desc, bytes: bytes.length + 4096 };
    },
    run: async (path) => void (await inspectLikeCli(path)),
    cli: (path) => ['inspect', path],
  };
}

// ---------------------------------------------------------------------------------------------
// TF.js model.json + weights manifest + shards

const LAYER_KEYS = ['units', 'filters', 'kernel_size', 'strides', 'padding', 'activation', 'batch_input_shape', 'target_shape', 'pool_size', 'use_bias', 'data_format', 'dilation_rate', 'axis', 'epsilon', 'rate', 'dtype', 'groups'];
const TF_ATTR_KEYS = ['strides', 'padding', 'dtype', 'T', 'data_format', 'dilations', 'ksize', 'fused_ops', 'shape', 'value', 'transpose_a', 'transpose_b', 'epsilon', 'explicit_paddings', 'DstT', 'keep_dims', 'squeeze_dims', 'begin_mask', 'end_mask', 'shrink_axis_mask', 'ellipsis_mask', 'new_axis_mask', 'axis', 'num_args'];
const DTYPE_STRINGS = ['float32', 'int32', 'bool', 'uint8', 'int8', 'int16', 'uint16', 'int64', 'float16', 'float64', 'string', 'complex64', 'FLOAT32', '', 'float'];

function tfjsManifestMutation(r: Rng, json: any, shardNames: string[]): string {
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest) || !manifest.length) return 'noop';
  const group = pick(r, manifest);
  if (!group || typeof group !== 'object') return 'noop';
  const ws: any[] = Array.isArray(group.weights) ? group.weights : [];
  const w = ws.length ? pick(r, ws) : undefined;
  switch (int(r, 10)) {
    case 0:
      if (!w) return 'noop';
      w.dtype = pick(r, DTYPE_STRINGS);
      return `${w.name}.dtype=${w.dtype}`;
    case 1: {
      if (!w || !Array.isArray(w.shape)) return 'noop';
      const v = pick(r, [1e12, -1, 0, 2 ** 31, 2 ** 26, 1.5, '3', null, 2 ** 53, 'NaN', 'Infinity', 1e308]);
      if (w.shape.length && chance(r, 0.7)) w.shape[int(r, w.shape.length)] = v;
      else w.shape.push(v);
      return `${w.name}.shape=${JSON.stringify(w.shape)}`;
    }
    case 2:
      if (!w) return 'noop';
      w.shape = pick(r, [[], [1e12, 1e12], [2 ** 20, 2 ** 20], 'abc', null, [[1]], { 0: 1 }]);
      return `${w.name}.shape=${JSON.stringify(w.shape)}`;
    case 3:
      if (!w) return 'noop';
      w.quantization = pick(r, [
        { dtype: 'uint8', min: 0, scale: 1 },
        { dtype: 'uint16', min: -1, scale: 0.01 },
        { dtype: 'float16' },
        { dtype: 'int4', min: 0, scale: 1 },
        { dtype: 'uint8', min: 'NaN', scale: 1 },
        { dtype: 'uint8' },
        { dtype: 'uint8', min: 0, scale: 1e308 },
        'uint8',
        null,
      ]);
      return `${w.name}.quantization=${JSON.stringify(w.quantization)}`;
    case 4:
      group.paths = pick(r, [[], ['../outside.bin'], ['/etc/passwd'], ['missing.bin'], [...shardNames, ...shardNames], [1], 'weights.bin', ['.'], ['sub/../' + shardNames[0]], ['model.json'], ['a\0b'], [shardNames[0] + '/']]);
      return `paths=${JSON.stringify(group.paths)}`;
    case 5:
      if (!w) return 'noop';
      ws.splice(int(r, ws.length + 1), 0, structuredClone(w));
      return `duplicate weight ${w.name}`;
    case 6:
      if (!w) return 'noop';
      ws.splice(ws.indexOf(w), 1);
      return `drop weight ${w.name}`;
    case 7:
      if (!w) return 'noop';
      w.name = pick(r, ['', 'nope', ws[0]?.name ?? 'x', 1, null, '\u2028']);
      return `rename weight ${String(w.name)}`;
    case 8: {
      if (ws.length < 2) return 'noop';
      const a = int(r, ws.length);
      const b = int(r, ws.length);
      [ws[a], ws[b]] = [ws[b], ws[a]];
      return `reorder weights ${a}<->${b}`;
    }
    default:
      manifest.push(pick(r, [{ paths: [], weights: [] }, { paths: shardNames, weights: ws.slice(0, 1) }, {}, [], null]));
      return 'extra manifest group';
  }
}

const TF_OP_NAMES = ['Identity', 'Conv2D', '_FusedConv2D', 'DepthwiseConv2dNative', 'Conv2DBackpropInput', 'MatMul', '_FusedMatMul', 'BiasAdd', 'AddV2', 'Mul', 'RealDiv', 'Relu', 'Prelu', 'Mean', 'Max', 'MaxPool', 'AvgPool', 'FusedBatchNorm', 'Pad', 'PadV2', 'ConcatV2', 'Reshape', 'Squeeze', 'ExpandDims', 'Transpose', 'Cast', 'GatherV2', 'Shape', 'Pack', 'StridedSlice', 'Softmax', 'Const', 'Placeholder', 'NoOp', 'Bogus'];

/** GraphDef edits: ops swapped, inputs dropped/added/renamed, nodes removed, duplicated or renamed. */
function graphNodeMutation(r: Rng, json: any): string {
  const nodes: any[] = json.modelTopology?.node;
  if (!Array.isArray(nodes) || !nodes.length) return 'noop';
  const n = pick(r, nodes);
  if (!n || typeof n !== 'object') return 'noop';
  const names = nodes.map((x) => x?.name).filter((x) => typeof x === 'string');
  switch (int(r, 7)) {
    case 0:
      n.op = pick(r, TF_OP_NAMES);
      return `node ${n.name} op=${n.op}`;
    case 1: {
      const ins: any[] = Array.isArray(n.input) ? n.input : (n.input = []);
      if (ins.length && chance(r, 0.5)) ins.splice(int(r, ins.length), 1 + int(r, ins.length));
      else ins.splice(int(r, ins.length + 1), 0, pick(r, [...names, `${pick(r, names)}:1`, `^${pick(r, names)}`, 'nope', '', n.name, `${pick(r, names)}:7`]));
      return `node ${n.name} inputs=${JSON.stringify(ins).slice(0, 80)}`;
    }
    case 2:
      nodes.splice(nodes.indexOf(n), 1);
      return `node ${n.name} removed`;
    case 3:
      nodes.push(structuredClone(n));
      return `node ${n.name} duplicated`;
    case 4:
      n.name = pick(r, [...names, '', 'x:0', '^x', 'a/b']);
      return `node renamed ${n.name}`;
    case 5: {
      // Placeholder shapes and dtypes.
      const ph = nodes.find((x) => x?.op === 'Placeholder');
      if (!ph) return 'noop';
      ph.attr ??= {};
      if (chance(r, 0.5)) ph.attr.dtype = { type: pick(r, ['DT_STRING', 'DT_INT32', 'DT_HALF', 'bogus', 7]) };
      else ph.attr.shape = { shape: { dim: pick(r, [[{ size: '-1' }, { size: 'abc' }], [{ size: '1e12' }, { size: '28' }, { size: '28' }, { size: '1' }], [], [{}], 'x', [{ size: '-1' }, { size: '0' }, { size: '28' }, { size: '1' }]]) } };
      return `placeholder ${JSON.stringify(ph.attr).slice(0, 80)}`;
    }
    default: {
      // A cycle: a node reads its own consumer.
      const reader = nodes.find((x) => Array.isArray(x?.input) && x.input.some((i: string) => i.replace(/:\d+$/, '') === n.name));
      if (!reader || !Array.isArray(n.input)) return 'noop';
      n.input.push(reader.name);
      return `cycle ${n.name} <- ${reader.name}`;
    }
  }
}

function topologyMutation(r: Rng, json: any, graph: boolean): string {
  if (graph && chance(r, 0.5)) return graphNodeMutation(r, json);
  if (!graph && chance(r, 0.3)) return layerGraphMutation(r, json);
  if (!graph && chance(r, 0.5)) {
    // Any key of one layer's config (padding, axis, groups, max_value, target_shape, ...).
    const topo = json.modelTopology?.model_config ?? json.modelTopology;
    const layers: any[] = Array.isArray(topo?.config) ? topo.config : topo?.config?.layers;
    const l = Array.isArray(layers) && layers.length ? pick(r, layers) : undefined;
    if (!l?.config || typeof l.config !== 'object') return 'noop';
    const keys = [...Object.keys(l.config), 'padding', 'axis', 'scale', 'center', 'max_value', 'groups'];
    const k = pick(r, keys);
    const v = chance(r, 0.6) ? weird(r) : pick(r, [false, true, [1], [[1]], [[1, 1], [1]], -5, 0, [-1], [1e12], null, 7, 1e9, 'x']);
    l.config[k] = v;
    return `${l.config.name}.${k}=${JSON.stringify(v)?.slice(0, 60)}`;
  }
  const keys = graph ? TF_ATTR_KEYS : LAYER_KEYS;
  const paths = jsonPaths(json.modelTopology, ['modelTopology']).filter((p) => keys.includes(String(p[p.length - 1])) || (graph && p.includes('attr')));
  if (!paths.length) return 'noop';
  const p = pick(r, paths);
  const v = chance(r, 0.5) ? weird(r) : pick(r, [[1e12, 1e12], [0, 0], [-1, 3], [3], [3, 3, 3], 'SAME', 'same', 'causal', 'EXPLICIT', 'channels_first', 'gelu', 'bogus', { list: { i: ['-1', '1e12'] } }, { i: '1e12' }, { type: 'DT_STRING' }, { tensor: {} }, { shape: { dim: [{ size: '-5' }, { size: '1e12' }] } }, { s: '!!notbase64' }]);
  const o: any = getParent(json, p);
  if (o && typeof o === 'object') o[p[p.length - 1]!] = v;
  return `${p.slice(-3).join('.')}=${JSON.stringify(v)?.slice(0, 60)}`;
}
/** LayersModel edits: layers dropped, duplicated, reordered, renamed, re-wired, class swapped. */
function layerGraphMutation(r: Rng, json: any): string {
  const topo = json.modelTopology?.model_config ?? json.modelTopology;
  const layers: any[] = Array.isArray(topo?.config) ? topo.config : topo?.config?.layers;
  if (!Array.isArray(layers) || !layers.length) return 'noop';
  const k = int(r, layers.length);
  const l = layers[k];
  if (!l || typeof l !== 'object') return 'noop';
  const names = layers.map((x) => x?.config?.name).filter((x) => typeof x === 'string');
  switch (int(r, 6)) {
    case 0:
      layers.splice(k, 1);
      return `layer ${k} removed`;
    case 1:
      layers.splice(k, 0, structuredClone(l));
      return `layer ${k} duplicated`;
    case 2: {
      const j = int(r, layers.length);
      [layers[k], layers[j]] = [layers[j], layers[k]];
      return `layers ${k}<->${j}`;
    }
    case 3:
      l.class_name = pick(r, ['Dense', 'Conv2D', 'DepthwiseConv2D', 'SeparableConv2D', 'BatchNormalization', 'LayerNormalization', 'Flatten', 'Reshape', 'Add', 'Concatenate', 'Embedding', 'ZeroPadding2D', 'GlobalAveragePooling2D', 'MaxPooling2D', 'PReLU', 'ReLU', 'Softmax', 'InputLayer', 'LSTM', 'Lambda']);
      return `layer ${k} class=${l.class_name}`;
    case 4:
      if (l.config) l.config.name = pick(r, [...names, '', 'x/y', 'dense']);
      return `layer ${k} renamed ${l.config?.name}`;
    default:
      l.inbound_nodes = pick(r, [[], [[]], [[[pick(r, names), 0, 0, {}]]], [[[pick(r, names), 5, 0, {}]]], [[[pick(r, names), 0, 0, {}], [pick(r, names), 0, 0, {}]]], [[['nope', 0, 0, {}]]], 'x', [['x']], [[[1, 0, 0]]], [[[l.config?.name, 0, 0, {}]]]]);
      return `layer ${k} inbound=${JSON.stringify(l.inbound_nodes).slice(0, 60)}`;
  }
}

const getParent = (root: any, p: JsonPath): any => p.slice(0, -1).reduce((v, k) => v?.[k], root);

function tfjsReader(seed: string, count: number, baseSeed: number, graph: boolean, src = (): string => fixture('models', seed)): Reader {
  let loaded: { files: { name: string; bytes: Buffer }[]; modelJson: any; shardNames: string[]; manifestPaths: JsonPath[] } | undefined;
  const load = (): NonNullable<typeof loaded> => {
    const dir = src();
    const files = readdirSync(dir).map((f) => ({ name: f, bytes: readFileSync(join(dir, f)) }));
    const modelJson = JSON.parse(files.find((f) => f.name === 'model.json')!.bytes.toString('utf8'));
    return { files, modelJson, shardNames: files.filter((f) => f.name !== 'model.json').map((f) => f.name), manifestPaths: jsonPaths(modelJson.weightsManifest, ['weightsManifest']) };
  };
  return {
    name: `${graph ? 'tfjs-graph' : 'tfjs-layers'}:${seed}`,
    count,
    make(dir, i) {
      const { files, modelJson, shardNames, manifestPaths } = (loaded ??= load());
      const r = caseRng(baseSeed, i);
      const json = structuredClone(modelJson);
      const shards = new Map(files.filter((f) => f.name !== 'model.json').map((f) => [f.name, f.bytes as Uint8Array]));
      const descs: string[] = [];
      for (let k = 1 + (chance(r, 0.35) ? int(r, 3) : 0); k > 0; k--) {
        const u = r();
        if (u < 0.25) descs.push(mutateJsonOnce(r, json));
        else if (u < 0.4) descs.push(mutateJsonOnce(r, json, manifestPaths.filter((p) => getParent(json, p) !== undefined)));
        else if (u < 0.6) descs.push(tfjsManifestMutation(r, json, shardNames));
        else if (u < 0.8) descs.push(topologyMutation(r, json, graph));
        else {
          const name = pick(r, shardNames);
          const bytes = shards.get(name) ?? new Uint8Array(); // an earlier edit may have removed it
          const v = r();
          if (v < 0.35) {
            const cut = int(r, bytes.length);
            shards.set(name, bytes.subarray(0, cut));
            descs.push(`shard ${name} truncated to ${cut}`);
          } else if (v < 0.55) {
            const extra = 1 + int(r, 64);
            shards.set(name, Buffer.concat([bytes, new Uint8Array(extra)]));
            descs.push(`shard ${name} +${extra} bytes`);
          } else if (v < 0.7) {
            shards.delete(name);
            descs.push(`shard ${name} missing`);
          } else if (v < 0.8) {
            shards.set(name, new Uint8Array());
            descs.push(`shard ${name} empty`);
          } else {
            const m = mutateBytes(r, bytes);
            shards.set(name, m.value);
            descs.push(`shard ${name} ${m.desc}`);
          }
        }
      }
      const text = jsonText(r, json);
      if (text.desc) descs.push(text.desc);
      writeFileSync(join(dir, 'model.json'), text.value);
      let total = text.value.length;
      for (const [name, bytes] of shards) {
        writeFileSync(join(dir, name), bytes);
        total += bytes.length;
      }
      if (descs.some((d) => d.startsWith('shard') && d.endsWith('missing')) && !existsSync(join(dir, shardNames[0]!)) && chance(r, 0.3)) {
        mkdirSync(join(dir, shardNames[0]!), { recursive: true }); // a folder where a shard should be
        descs.push('shard is a folder');
      }
      return { path: dir, desc: descs.join('; '), bytes: total };
    },
    run: async (path) => void (await inspectLikeCli(path)),
    cli: (path) => ['inspect', path],
  };
}

// ---------------------------------------------------------------------------------------------
// TFLite

function tfliteMutation(r: Rng, m: TflModel): string {
  const t = m.tensors.length ? pick(r, m.tensors) : undefined;
  const o = m.operators.length ? pick(r, m.operators) : undefined;
  const idx = (): number => pick(r, [-1, -2, m.tensors.length, m.tensors.length + 1, 2 ** 31 - 1, -(2 ** 31), int(r, m.tensors.length)]);
  switch (int(r, 11)) {
    case 0: {
      if (!t) return 'noop';
      const v = pick(r, [2 ** 31 - 1, -1, -(2 ** 31), 0, 1 << 20, 65536, 3]);
      if (t.shape.length && chance(r, 0.7)) t.shape[int(r, t.shape.length)] = v;
      else t.shape.push(v);
      return `tensor ${t.name} shape=[${t.shape}]`;
    }
    case 1:
      if (!t) return 'noop';
      t.shape = pick(r, [[], [65536, 65536], [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1], [0], [-5, 3]]);
      return `tensor ${t.name} shape=[${t.shape}]`;
    case 2:
      if (!t) return 'noop';
      t.type = int(r, 256);
      return `tensor ${t.name} type=${t.type}`;
    case 3:
      if (!t) return 'noop';
      t.buffer = pick(r, [0, m.buffers.length, m.buffers.length + 5, 2 ** 31 - 1, int(r, m.buffers.length)]);
      return `tensor ${t.name} buffer=${t.buffer}`;
    case 4:
      if (!t) return 'noop';
      t.quant = pick(r, [
        { scale: [], zeroPoint: [], axis: 0 },
        { scale: [0.1], zeroPoint: [], axis: 0 },
        { scale: [0.1, 0.2, 0.3], zeroPoint: [0], axis: 7 },
        { scale: [NaN], zeroPoint: [2 ** 40], axis: -1 },
        { scale: Array.from({ length: 300 }, () => 1), zeroPoint: [0], axis: 0 },
      ]);
      return `tensor ${t.name} quant=${JSON.stringify(t.quant).slice(0, 60)}`;
    case 5:
      if (!o) return 'noop';
      o.op = pick(r, [0, 3, 9, 22, 25, 127, 150, 204, 255]);
      o.version = pick(r, [0, 1, 99, -1]);
      return `operator op=${o.op} v${o.version}`;
    case 6:
      if (!o) return 'noop';
      if (chance(r, 0.5)) o.inputs = o.inputs.length && chance(r, 0.6) ? o.inputs.map((x) => (chance(r, 0.5) ? idx() : x)) : [];
      else o.outputs = [idx()];
      return `operator io=${JSON.stringify([o.inputs, o.outputs])}`;
    case 7:
      if (chance(r, 0.5)) m.inputs = [idx()];
      else m.outputs = chance(r, 0.3) ? [] : [idx(), idx()];
      return `subgraph io=${JSON.stringify([m.inputs, m.outputs])}`;
    case 8: {
      const k = 1 + int(r, Math.max(1, m.buffers.length - 1));
      const b = m.buffers[k];
      if (!b) return 'noop';
      m.buffers[k] = chance(r, 0.5) ? b.subarray(0, int(r, b.length)) : new Uint8Array(0);
      return `buffer ${k} shrunk to ${m.buffers[k]!.length}`;
    }
    case 9:
      if (!t) return 'noop';
      t.name = pick(r, ['', '\n\u001b[31mred', 'x'.repeat(2000), '\u2028']);
      return 'tensor renamed';
    default: {
      if (!m.operators.length) return 'noop';
      const k = int(r, m.operators.length);
      if (chance(r, 0.5)) m.operators.splice(k, 1);
      else m.operators.push(structuredClone(m.operators[k]!));
      return `operator list edited at ${k}`;
    }
  }
}

function cloneTfl(m: TflModel): TflModel {
  return { ...structuredClone({ ...m, buffers: [] }), buffers: m.buffers.map((b) => b.slice()) };
}

function tfliteReader(name: string, count: number, baseSeed: number, seedModel: () => TflModel): Reader {
  let model: TflModel | undefined;
  let original: Uint8Array | undefined;
  return {
    name: `tflite:${name}`,
    count,
    make(dir, i) {
      model ??= seedModel();
      original ??= serializeTflite(model);
      const r = caseRng(baseSeed, i);
      const path = join(dir, 'model.tflite');
      let bytes: Uint8Array | undefined;
      let desc = '';
      if (chance(r, 0.45)) {
        const m = cloneTfl(model);
        const descs: string[] = [];
        for (let k = 1 + int(r, 2); k > 0; k--) descs.push(tfliteMutation(r, m));
        try {
          bytes = serializeTflite(m);
          desc = descs.join('; ');
        } catch {
          bytes = undefined; // not serializable (e.g. a NaN zero point): mutate bytes instead
        }
      }
      if (!bytes) ({ value: bytes, desc } = mutateBytes(r, original));
      writeFileSync(path, bytes);
      return { path, desc, bytes: bytes.length };
    },
    run: async (path) => void (await inspectLikeCli(path)),
    cli: (path) => ['inspect', path],
  };
}

// ---------------------------------------------------------------------------------------------
// Data files

function npyReader(count: number, baseSeed: number): Reader {
  const original = readFileSync(fixture('data', 'mnist-test-x.npy'));
  const headerEnd = 10 + original.readUInt16LE(8);
  const header = original.subarray(10, headerEnd).toString('latin1');
  return {
    name: 'data:npy',
    count,
    make(dir, i) {
      const r = caseRng(baseSeed, i);
      const path = join(dir, 'x.npy');
      let bytes: Uint8Array;
      let desc: string;
      if (chance(r, 0.45)) {
        // Rewrite the header dict: absurd shapes, other dtypes, Fortran order, missing keys; the
        // header length field is kept right (or deliberately wrong) so the parser gets past it.
        let h = header;
        const u = r();
        if (u < 0.45) h = h.replace(/'shape': \([^)]*\)/, `'shape': ${pick(r, ['(1000000000000, 784)', '(-1, 784)', '(200, 784, 0)', '()', '(4611686018427387904,)', '(200,)', '(0, 784)', '(0,)', '(200, 28, 28)', '(1e3, 784)', '(200, 784', "('a',)", '(200, 784, 1, 1, 1, 1)', '(9007199254740993, 1)', '(50, 784)', '(2, 2)'])}`);
        else if (u < 0.75) h = h.replace(/'descr': '[^']*'/, `'descr': '${pick(r, ['<f8', '>f4', '<c8', '|O', '<U5', '<f2', '<i8', '|u1', '|b1', '<i4', '<u4', '', "'"])}'`);
        else if (u < 0.85) h = h.replace('False', pick(r, ['True', 'false', '0']));
        else h = h.replace(pick(r, ["'descr'", "'shape'", "'fortran_order'"]), "'nope'");
        const hb = Buffer.from(h.padEnd(header.length), 'latin1');
        const lenField = chance(r, 0.85) ? hb.length : pick(r, [0, 1, hb.length + 1, 0xffff, hb.length - 5]);
        const out = Buffer.alloc(10 + hb.length + (original.length - headerEnd));
        original.copy(out, 0, 0, 10);
        out.writeUInt16LE(lenField & 0xffff, 8);
        hb.copy(out, 10);
        original.copy(out, 10 + hb.length, headerEnd);
        bytes = chance(r, 0.2) ? out.subarray(0, int(r, out.length)) : out;
        desc = `header ${JSON.stringify(h.trim()).slice(0, 90)} len=${lenField}${bytes.length < out.length ? ` truncated@${bytes.length}` : ''}`;
      } else ({ value: bytes, desc } = mutateBytes(r, original, { start: 0, end: headerEnd }));
      writeFileSync(path, bytes);
      return { path, desc, bytes: bytes.length };
    },
    run: (path) => evalDataLikeCli(path),
    cli: (path) => ['eval', fixture('models', 'lenet-300-100.onnx'), '--data', path, '--limit', '5'],
  };
}

function npzReader(count: number, baseSeed: number): Reader {
  const original = readFileSync(fixture('data', 'mnist-test.npz'));
  const arrays = parseNpz('seed', original);
  const x = arrays.get('x')!;
  const y = arrays.get('y')!;
  const encoded = new Map<string, Uint8Array>();
  return {
    name: 'data:npz',
    count,
    make(dir, i) {
      const r = caseRng(baseSeed, i);
      const path = join(dir, 'd.npz');
      let bytes: Uint8Array;
      let desc: string;
      const u = r();
      if (u < 0.3) {
        // Well-formed zips of badly matched arrays.
        const variants: [string, () => Record<string, NdArray>][] = [
          ['no x', () => ({ y })],
          ['x only', () => ({ x })],
          ['float labels', () => ({ x, y: { dtype: 'float32', shape: y.shape, data: Float32Array.from(y.data as ArrayLike<number>) } })],
          ['labels short', () => ({ x, y: { ...y, shape: [y.shape[0]! - 1], data: (y.data as Int32Array).subarray(0, y.shape[0]! - 1) } })],
          ['x 1-d', () => ({ x: { ...x, shape: [x.data.length] }, y })],
          ['x scalar', () => ({ x: { ...x, shape: [], data: (x.data as Float32Array).subarray(0, 1) }, y })],
          ['x empty', () => ({ x: { ...x, shape: [0, 28, 28, 1], data: new Float32Array(0) }, y: { ...y, shape: [0], data: new Int32Array(0) } })],
          ['x bool', () => ({ x: { dtype: 'bool', shape: x.shape, data: new Uint8Array(x.data.length) }, y })],
          ['x int64', () => ({ x: { dtype: 'int64', shape: [2, 784], data: new BigInt64Array(1568).fill(2n ** 62n) } })],
          ['labels 2-d', () => ({ x, y: { ...y, shape: [y.shape[0]!, 1] } })],
          ['x wrong sample size', () => ({ x: { ...x, shape: [x.shape[0]! * 2, 392] }, y })],
          ['extra arrays', () => ({ x, y, z: y, 'x.npy': y })],
        ];
        const [name, build] = pick(r, variants);
        // Deflating 200 digits at level 9 takes ~100 ms: each variant is encoded once.
        bytes = encoded.get(name) ?? encoded.set(name, encodeNpz(build())).get(name)!;
        desc = `arrays: ${name}`;
        if (chance(r, 0.3)) {
          const m = mutateBytes(r, bytes);
          bytes = m.value;
          desc += ` + ${m.desc}`;
        }
      } else if (u < 0.55) {
        // Directory fields: counts, sizes, offsets, methods, name lengths.
        const out = Buffer.from(original);
        const eocd = out.length - 22;
        const cd = out.readUInt32LE(eocd + 16);
        const fields: [string, number, 2 | 4][] = [
          ['eocd.count', eocd + 10, 2], ['eocd.cdSize', eocd + 12, 4], ['eocd.cdOffset', eocd + 16, 4],
          ['cd.method', cd + 10, 2], ['cd.compSize', cd + 20, 4], ['cd.size', cd + 24, 4], ['cd.nameLen', cd + 28, 2],
          ['cd.extraLen', cd + 30, 2], ['cd.local', cd + 42, 4], ['local.nameLen', 26, 2], ['local.extraLen', 28, 2],
        ];
        const [name, at, width] = pick(r, fields);
        const v = pick(r, [0, 1, 0xffff, 0xffffffff, 0x7fffffff, out.length, out.length - 22, 12, 99, 0x10000000]);
        if (width === 2) out.writeUInt16LE(v & 0xffff, at);
        else out.writeUInt32LE(v >>> 0, at);
        bytes = out;
        desc = `${name}=${v}`;
      } else ({ value: bytes, desc } = mutateBytes(r, original));
      writeFileSync(path, bytes);
      return { path, desc, bytes: bytes.length };
    },
    run: (path) => evalDataLikeCli(path),
    cli: (path) => ['eval', fixture('models', 'lenet-300-100.onnx'), '--data', path, '--limit', '5'],
  };
}

function jsonlReader(count: number, baseSeed: number): Reader {
  const original = readFileSync(fixture('data', 'mnist-test.jsonl'), 'utf8');
  const lines = original.split('\n');
  return {
    name: 'data:jsonl',
    count,
    make(dir, i) {
      const r = caseRng(baseSeed, i);
      const path = join(dir, 'd.jsonl');
      const ls = lines.slice();
      const descs: string[] = [];
      for (let k = 1 + (chance(r, 0.3) ? int(r, 3) : 0); k > 0; k--) {
        if (!ls.length) break;
        const li = int(r, ls.length);
        const u = r();
        if (u < 0.45) {
          let row: any;
          try {
            row = JSON.parse(ls[li]!);
          } catch {
            row = null;
          }
          if (!row || typeof row !== 'object' || !Array.isArray(row.input)) continue;
          const v = r();
          if (v < 0.3) descs.push(`line ${li + 1}: ${mutateJsonOnce(r, row, [['label'], ['input'], ['input', int(r, 784)]])}`);
          else if (v < 0.5) {
            row.label = pick(r, [1.5, '3', -1, 1e12, 2 ** 31, null, [3], true, -0.0, 1e308]);
            descs.push(`line ${li + 1}: label=${JSON.stringify(row.label)}`);
          } else if (v < 0.7) {
            row.input = pick(r, [[], [[]], [row.input], row.input.slice(0, 783), 5, 'abc', null, [[1, 2], [3]], [row.input, row.input], row.input.map(String)]);
            descs.push(`line ${li + 1}: input replaced`);
          } else if (v < 0.85) {
            delete row[pick(r, ['label', 'input'])];
            descs.push(`line ${li + 1}: key deleted`);
          } else {
            row.input[int(r, row.input.length)] = pick(r, ['NaN', null, 'Infinity', 1e308, [], {}]);
            descs.push(`line ${li + 1}: input value replaced`);
          }
          ls[li] = JSON.stringify(row);
        } else if (u < 0.55) {
          const tok = pick(r, ['NaN', 'Infinity', '-Infinity', '1e999']);
          ls[li] = ls[li]!.replace(/(?<=[[,])0(?=[,\]])/, tok);
          descs.push(`line ${li + 1}: ${tok}`);
        } else if (u < 0.65) {
          ls.splice(li, 0, pick(r, ['', '   ', '{}', '[]', 'null', '{"input": []}', '\u0000', '{"input":[1],"label":1}', '#comment']));
          descs.push(`line inserted at ${li + 1}`);
        } else if (u < 0.72) {
          // Deep nesting: a reader that recurses per level must not overflow the stack.
          const depth = pick(r, [1000, 20000, 200000]);
          ls[li] = `{"input": ${'['.repeat(depth)}0${']'.repeat(depth)}, "label": 1}`;
          descs.push(`line ${li + 1}: input nested ${depth} deep`);
        } else if (u < 0.8) {
          ls.splice(li, 1 + int(r, 200));
          descs.push(`lines deleted from ${li + 1}`);
        } else {
          const m = mutateBytes(r, Buffer.from(ls.join('\n'), 'utf8'));
          writeFileSync(path, m.value);
          return { path, desc: [...descs, m.desc].join('; '), bytes: m.value.length };
        }
      }
      const text = ls.join('\n');
      writeFileSync(path, text);
      return { path, desc: descs.join('; '), bytes: Buffer.byteLength(text) };
    },
    run: (path) => evalDataLikeCli(path),
    cli: (path) => ['eval', fixture('models', 'lenet-300-100.onnx'), '--data', path, '--limit', '5'],
  };
}

/** x .npy intact, the labels .npy mutated (--labels). */
function labelsReader(count: number, baseSeed: number): Reader {
  const original = readFileSync(fixture('data', 'mnist-test-y.npy'));
  const y = parseNpy('seed', original);
  const x = fixture('data', 'mnist-test-x.npy');
  return {
    name: 'data:labels',
    count,
    make(dir, i) {
      const r = caseRng(baseSeed, i);
      const path = join(dir, 'y.npy');
      let bytes: Uint8Array;
      let desc: string;
      if (chance(r, 0.4)) {
        const variants: [string, NdArray][] = [
          ['float', { dtype: 'float32', shape: y.shape, data: Float32Array.from(y.data as ArrayLike<number>) }],
          ['short', { ...y, shape: [10], data: (y.data as Int32Array).subarray(0, 10) }],
          ['2-d', { ...y, shape: [100, 2] }],
          ['int64 huge', { dtype: 'int64', shape: y.shape, data: new BigInt64Array(y.shape[0]!).fill(2n ** 62n) }],
          ['bool', { dtype: 'bool', shape: y.shape, data: new Uint8Array(y.shape[0]!) }],
          ['empty', { ...y, shape: [0], data: new Int32Array(0) }],
        ];
        const [name, a] = pick(r, variants);
        bytes = encodeNpy(a);
        desc = `labels ${name}`;
      } else ({ value: bytes, desc } = mutateBytes(r, original));
      writeFileSync(path, bytes);
      return { path, desc, bytes: bytes.length + statSync(x).size };
    },
    run: (path) => evalDataLikeCli(x, path),
    cli: (path) => ['eval', fixture('models', 'lenet-300-100.onnx'), '--data', x, '--labels', path, '--limit', '5'],
  };
}

// ---------------------------------------------------------------------------------------------
// Directed cases: one per bug found, so each stays covered at the default case count.

function directedReader(): Reader {
  const cases = directedCases({ floatTflite: () => floatTfl!, layersZoo: () => join(work, 'seed-layers-zoo') });
  const kindOf = new Map<string, 'model' | 'data'>();
  const sizeOfDir = (dir: string): number => readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
  return {
    name: 'directed',
    count: cases.length,
    make(dir, i) {
      const c = cases[i]!;
      const path = c.make(dir);
      kindOf.set(path, c.kind);
      return { path, desc: c.name, bytes: sizeOfDir(dir) };
    },
    run: async (path) => (kindOf.get(path) === 'data' ? evalDataLikeCli(path) : void (await inspectLikeCli(path))),
    cli: (path) => (kindOf.get(path) === 'data' ? ['eval', fixture('models', 'lenet-300-100.onnx'), '--data', path, '--limit', '5'] : ['inspect', path]),
  };
}

// ---------------------------------------------------------------------------------------------
// The readers

async function cnnGraph() {
  return loadModel(fixture('models', 'cnn'));
}
let floatTfl: TflModel | undefined;
let dynamicTfl: TflModel | undefined;

const READERS: Reader[] = [
  ...Object.entries(N.onnx).map(([seed, n], k) => onnxReader(seed, n, 1000 + k)),
  ...Object.entries(N.layers).map(([seed, n], k) => tfjsReader(seed, n, 2000 + k, false)),
  tfjsReader('zoo', N.layersZoo, 2100, false, () => join(work, 'seed-layers-zoo')),
  ...Object.entries(N.graph).map(([seed, n], k) => tfjsReader(seed, n, 3000 + k, true)),
  tfliteReader('float', N.tflite.float, 4000, () => floatTfl!),
  tfliteReader('dynamic', N.tflite.dynamic, 4001, () => dynamicTfl!),
  npyReader(N.data.npy, 5000),
  npzReader(N.data.npz, 5001),
  jsonlReader(N.data.jsonl, 5002),
  labelsReader(N.data.labels, 5003),
];
const DIRECTED = directedReader();
READERS.push(DIRECTED);

const work = tempDir();

beforeAll(async () => {
  keepDir = join(work, 'failing');
  mkdirSync(keepDir, { recursive: true });
  // The TFLite seeds: the cnn fixture exported as float and with dynamic int8 weights (scales, zero points).
  const g = await cnnGraph();
  floatTfl = lowerToTflite(g, 'cnn.tflite');
  dynamicTfl = lowerToTflite(g, 'cnn.tflite', { quant: defaultPlan('dynamic') });
  writeLayersZoo(join(work, 'seed-layers-zoo'));
  // The seeds must read cleanly, or the cases would test nothing.
  await inspectLikeCli(join(work, 'seed-layers-zoo'));
  for (const r of READERS) stats.set(r.name, { cases: 0, ok: 0, refused: 0, ms: 0 });
});

afterAll(() => {
  const rows = [...stats].filter(([, s]) => s.cases).map(([name, s]) => `  ${name.padEnd(28)} ${String(s.cases).padStart(4)} cases  ${String(s.ok).padStart(4)} read  ${String(s.refused).padStart(4)} refused  ${(s.ms / 1000).toFixed(1)} s`);
  const total = [...stats.values()].reduce((a, s) => a + s.cases, 0);
  const byNote = new Map<string, number>();
  for (const n of notes) {
    const k = n.problem.replace(/^.*?verification failed: /, '').replace(/'[^']*'/g, "'…'").replace(/\d+/g, 'N');
    byNote.set(k, (byNote.get(k) ?? 0) + 1);
  }
  const knownLines = KNOWN.map((k) => {
    const hits = known.filter((f) => k.problem.test(f.problem));
    return hits.length ? `  KNOWN BUG (${hits.length} cases, e.g. ${hits[0]!.reader}#${hits[0]!.index}) in ${k.where}: ${k.fix}` : `  known bug no longer seen, remove its entry: ${k.where}`;
  });
  process.stdout.write(
    `fuzz: ${total} in-process cases\n${rows.join('\n')}\n${notes.length ? `  ${notes.length} accepted inputs later refused by verifyGraph: ${[...byNote].map(([k, v]) => `${v}× ${k}`).slice(0, 8).join(' | ')} (first: ${notes[0]!.reader})\n` : ''}${knownLines.join('\n')}\n`,
  );
  if (!failures.length) rmSync(work, { recursive: true, force: true });
});

describe('fuzz: every reader ends in success or a one-line EdgelmError', () => {
  it('has at least 1,000 cases', () => {
    expect(READERS.reduce((s, r) => s + r.count, 0)).toBeGreaterThanOrEqual(1000);
  });

  for (const reader of READERS) {
    const count = reader === DIRECTED ? reader.count : reader.count * SCALE; // directed cases are a fixed list
    it(`${reader.name}: ${count} mutated cases`, async () => {
      const dir = join(work, 'case');
      const before = failures.length;
      for (let i = 0; i < count; i++) {
        if (ONLY && ONLY !== `${reader.name}:${i}`) continue;
        await runInProcess(reader, dir, i);
        // Most cases are synchronous: let the worker's RPC with vitest through now and then.
        if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
      }
      const mine = failures.slice(before);
      expect(mine.map((f) => `${f.reader}#${f.index} [${f.desc}] → ${f.problem} (kept: ${f.kept})`)).toEqual([]);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// End to end through the CLI

interface CliOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

function runCli(args: string[]): Promise<CliOutcome> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--max-old-space-size=256', join(ROOT, 'bin', 'edgelm.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, CLI_TIMEOUT_MS);
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, ms: performance.now() - t0, timedOut });
    });
  });
}

function cliProblem(o: CliOutcome): string | undefined {
  if (o.timedOut) return `no exit within ${CLI_TIMEOUT_MS} ms`;
  if (o.signal) return `killed by ${o.signal}`;
  if (o.code !== 0 && o.code !== 2) return `exit ${o.code}`;
  if (/^\s+at /m.test(o.stderr)) return 'stack frames on stderr';
  const lines = o.stderr.split('\n').filter((l, i, all) => !(i === all.length - 1 && l === ''));
  if (o.code === 2 && (lines.length !== 1 || !lines[0]!.trim())) return `${lines.length} stderr lines`;
  if (o.code === 0 && lines.length > 1) return `${lines.length} stderr lines on success`;
  return undefined;
}

describe('fuzz: a sample through the CLI (exit 0 or 2, one stderr line, no crash, no hang)', () => {
  it(`${CLI_CASES} random cases and every directed case under --max-old-space-size=256`, async () => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('run npm run build first: the CLI runs from dist/');
    // Spread over the readers, with case indices the in-process runs do not use.
    const jobs: { reader: Reader; i: number; dir: string }[] = [];
    const random = READERS.filter((r) => r !== DIRECTED);
    for (let k = 0; k < CLI_CASES; k++) {
      const reader = random[k % random.length]!;
      jobs.push({ reader, i: 100_000 + k, dir: join(work, `cli-${k}`) });
    }
    // And every directed case: each bug found, end to end.
    for (let i = 0; i < DIRECTED.count; i++) jobs.push({ reader: DIRECTED, i, dir: join(work, `cli-directed-${i}`) });
    const made = jobs.map((j) => {
      reset(j.dir);
      return { ...j, c: j.reader.make(j.dir, j.i) };
    });
    const bad: string[] = [];
    const codes = { 0: 0, 2: 0 } as Record<number, number>;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < made.length) {
        const j = made[next++]!;
        const o = await runCli(j.reader.cli(j.c.path));
        codes[o.code ?? -1] = (codes[o.code ?? -1] ?? 0) + 1;
        const p = cliProblem(o);
        if (p) bad.push(`${j.reader.name}#${j.i} [${j.c.desc}] → ${p} (${o.ms.toFixed(0)} ms): ${o.stderr.slice(0, 400)}`);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(4, cpus().length)) }, worker));
    process.stdout.write(`fuzz CLI: ${made.length} cases, exit codes ${JSON.stringify(codes)}\n`);
    expect(bad).toEqual([]);
  });
});
