// onnxruntime for .onnx files, from one of two builds of the same runtime:
// - onnxruntime-node (native CPU kernels), when the user has installed it beside edgelm;
// - onnxruntime-web's WebAssembly build, run in Node, which edgelm depends on.
// onnxruntime-node is an optional peer dependency, not a dependency: when installed as a dependency its
// postinstall downloads the CUDA provider from NuGet on linux/x64, which fails on a machine that reaches
// only the npm registry (npm rolls the whole install back) and pulls GPU binaries for CPU work elsewhere.
// onnxruntime-web installs from the registry alone and runs every edgelm artifact (its wasm build has the
// CPU kernels, contrib ops included); it is slower and limited to 4 GiB of wasm memory.
import { realpathSync } from 'node:fs';
import { dirname, relative, sep } from 'node:path';
import { EdgelmError } from '../errors.js';
import { packageVersion } from './package-version.js';

export const ORT_BACKENDS = ['onnxruntime-node', 'onnxruntime-web'] as const;
export type OrtBackend = (typeof ORT_BACKENDS)[number];

/** The part of the onnxruntime JS API edgelm uses; both packages implement onnxruntime-common's. */
type OrtApi = Pick<typeof import('onnxruntime-web'), 'InferenceSession' | 'Tensor'>;
export type OrtSession = import('onnxruntime-web').InferenceSession;

/** An onnxruntime tensor of the input's type (`dtype` as the session metadata names it) from edgelm's int32/float32 arrays. */
export function ortTensor(ort: OrtApi, dtype: string, x: Float32Array | Int32Array, shape: readonly number[]): import('onnxruntime-web').Tensor {
  if (dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from(x, (v) => BigInt(v)), shape);
  if (dtype === 'int32') return new ort.Tensor('int32', x instanceof Int32Array ? x : Int32Array.from(x), shape);
  if (dtype === 'bool') return new ort.Tensor('bool', Uint8Array.from(x, (v) => (v ? 1 : 0)), shape);
  return new ort.Tensor('float32', x instanceof Float32Array ? x : Float32Array.from(x), shape);
}

export interface OnnxRuntime {
  backend: OrtBackend;
  /** The package's version, e.g. 1.30.0. */
  version: string;
  /** Where the kernels run, for doctor and reports. */
  kernels: string;
  api: OrtApi;
  /** Opens a model file; external data files are resolved beside it. */
  open(file: string): Promise<OrtSession>;
}

const loaded = new Map<OrtBackend, Promise<OnnxRuntime>>();
let chosen: Promise<OnnxRuntime> | undefined;

/**
 * The onnxruntime to run .onnx files with: `prefer` when given (refused when it cannot load),
 * else onnxruntime-node when it loads here, else onnxruntime-web.
 */
export function loadOnnxRuntime(prefer?: OrtBackend): Promise<OnnxRuntime> {
  if (prefer) return load(prefer);
  chosen ??= load('onnxruntime-node').catch(() => load('onnxruntime-web'));
  return chosen;
}

function load(backend: OrtBackend): Promise<OnnxRuntime> {
  let p = loaded.get(backend);
  if (!p) {
    p = (backend === 'onnxruntime-node' ? loadNode() : loadWeb()).catch((e: unknown) => {
      loaded.delete(backend);
      throw new EdgelmError('usage', `${backend} cannot load here: ${(e as Error).message.split('\n')[0]}`, backend === 'onnxruntime-node' ? 'install it beside edgelm (npm install onnxruntime-node), or let edgelm use onnxruntime-web' : undefined);
    });
    loaded.set(backend, p);
  }
  return p;
}

// Severity 3: errors only; onnxruntime's warnings about unused initializers are not the user's concern.
const LOG_ERRORS_ONLY = 3;

async function loadNode(): Promise<OnnxRuntime> {
  // Importing loads the native addon, so a package without its binary fails here.
  const ort = (await import('onnxruntime-node').catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ERR_MODULE_NOT_FOUND' ? new Error('not installed (an optional peer of edgelm)') : e;
  })) as OrtApi;
  return {
    backend: 'onnxruntime-node',
    version: packageVersion('onnxruntime-node') ?? '?',
    kernels: 'native CPU execution provider',
    api: ort,
    open: (file) => ort.InferenceSession.create(file, { executionProviders: ['cpu'], logSeverityLevel: LOG_ERRORS_ONLY }),
  };
}

async function loadWeb(): Promise<OnnxRuntime> {
  const ort = await import('onnxruntime-web');
  ort.env.logLevel = 'error';
  return {
    backend: 'onnxruntime-web',
    version: packageVersion('onnxruntime-web') ?? '?',
    kernels: 'CPU kernels in WebAssembly (SIMD)',
    api: ort,
    async open(file) {
      // The wasm build has no file system: the model's bytes and each external data file are handed in,
      // the latter under the location the model names it by.
      const { externalDataFiles } = await import('../import/onnx/proto.js');
      const { readInputFile } = await import('../import/files.js');
      const bytes = readInputFile(file);
      const dir = dirname(realpathSync(file));
      const externalData = externalDataFiles(file).map((path) => ({ path: relative(dir, path).split(sep).join('/'), data: path }));
      return ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], logSeverityLevel: LOG_ERRORS_ONLY, ...(externalData.length ? { externalData } : {}) });
    },
  };
}
