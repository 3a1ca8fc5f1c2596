// LiteRT (Google's TFLite runtime, compiled to WebAssembly by @litertjs/core) inside Node.
// The package is written for browsers: its Emscripten loader looks for a worker-like global scope.
// We provide what it looks for, load once, and keep every such detail in this module.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { EdgelmError } from '../errors.js';

type LiteRtModule = typeof import('@litertjs/core');
let loading: Promise<LiteRtModule> | undefined;

export function loadLiteRtNode(): Promise<LiteRtModule> {
  loading ??= (async () => {
    const require = createRequire(import.meta.url);
    const wasmDir = join(dirname(require.resolve('@litertjs/core/package.json')), 'wasm');
    const g = globalThis as Record<string, unknown>;
    const saved = Object.fromEntries(['self', 'require', '__dirname', '__filename', 'importScripts'].map((k) => [k, g[k]]));
    g.self ??= globalThis;
    g.require = require;
    g.__dirname = wasmDir;
    g.__filename = join(wasmDir, 'litert_wasm_internal.js');
    g.importScripts = (file: string) => {
      const path = file.startsWith('file:') ? fileURLToPath(file) : file;
      vm.runInThisContext(readFileSync(path, 'utf8'), { filename: path });
    };
    // Emscripten binds console.log/error when the module loads; bind it to filters that drop the
    // runtime's INFO chatter (and the WebGPU probe that cannot succeed in Node) but keep real errors.
    const { log, error, warn } = console;
    const quiet = (sink: (...a: unknown[]) => void) => (...args: unknown[]) => {
      const first = String(args[0] ?? '');
      if (/^(INFO|WARNING): |^Failed to create default WebGPU device/.test(first)) return;
      sink.apply(console, args);
    };
    console.log = quiet(log);
    console.error = quiet(error);
    console.warn = quiet(warn);
    try {
      const lrt = await import('@litertjs/core');
      await lrt.loadLiteRt(`${wasmDir}/`);
      return lrt;
    } finally {
      Object.assign(console, { log, error, warn });
      // Leave the process as we found it; the loaded module keeps its own references.
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete g[k];
      else g[k] = v;
    }
  })();
  return loading;
}

export type LiteRtArray = Float32Array | Int32Array | Uint8Array;

export interface LiteRtSession {
  inputs: { name: string; shape: number[]; dtype: string }[];
  outputs: { name: string; shape: number[]; dtype: string }[];
  /** Runs one batch; inputs in the model's input order. */
  run(inputs: { data: LiteRtArray; shape: number[] }[]): Promise<{ data: LiteRtArray; shape: number[] }[]>;
  dispose(): void;
}

/** Loads a .tflite flatbuffer into LiteRT's CPU (XNNPACK) interpreter. Load failures name the file. */
export async function openLiteRt(bytes: Uint8Array, file: string): Promise<LiteRtSession> {
  const lrt = await loadLiteRtNode();
  let model: import('@litertjs/core').CompiledModel;
  try {
    model = await lrt.loadAndCompile(bytes, { accelerator: 'wasm' });
  } catch (e) {
    throw new EdgelmError('input', `${file}: LiteRT cannot load the model: ${(e as Error).message.split('\n')[0]}`);
  }
  const details = (d: readonly import('@litertjs/core').TensorDetails[]): LiteRtSession['inputs'] =>
    d.map((t) => ({ name: t.name, shape: [...t.shape], dtype: String(t.dtype) }));
  return {
    inputs: details(model.getInputDetails()),
    outputs: details(model.getOutputDetails()),
    async run(inputs) {
      const tensors = inputs.map((i) => new lrt.Tensor(i.data as import("@litertjs/core").TypedArray, i.shape));
      try {
        const outs = await model.run(tensors);
        return outs.map((t) => {
          const data = t.toTypedArray() as LiteRtArray;
          const result = { data: data.slice() as LiteRtArray, shape: [...t.type.layout.dimensions] };
          t.delete();
          return result;
        });
      } finally {
        for (const t of tensors) t.delete();
      }
    },
    dispose: () => model.delete(),
  };
}
