// Loads TF.js on demand (the CLI must start without it) and picks its backend: wasm (XNNPACK, the
// default), the pure-JS cpu backend, or tfjs-node's native one when the user has installed it (an
// optional peer: its install script downloads libtensorflow, and it pulls in the whole @tensorflow/tfjs).
// Only the TF.js packages edgelm uses are dependencies: core, the cpu and wasm backends, and the
// layers and converter packages for running TF.js models themselves (loadTfModels).
import { createRequire } from 'node:module';
import { EdgelmError } from '../../errors.js';
import type { Tf } from '../../ir/op.js';

export type Backend = 'wasm' | 'cpu' | 'node' | 'auto';
export const BACKENDS: readonly Backend[] = ['wasm', 'cpu', 'node', 'auto'];

let tfModule: Tf | undefined;

function nodeBackendLoads(): boolean {
  try {
    createRequire(import.meta.url)('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
}

/** TF.js with the requested backend ready. Safe to call repeatedly; switching backends works. */
export async function loadTf(backend: Backend = 'wasm'): Promise<Tf> {
  if (!tfModule) {
    tfModule = await import('@tensorflow/tfjs-core');
    // tfjs-core registers no gradients (its register_all_gradients module does not load in Node); the
    // Node build of tfjs-layers registers all of them, as the @tensorflow/tfjs union package does.
    // Training (prune, distill) needs them.
    await import('@tensorflow/tfjs-layers');
  }
  const tf = tfModule;
  let name: string = backend;
  if (backend === 'auto') name = nodeBackendLoads() ? 'tensorflow' : 'wasm';
  else if (backend === 'node') {
    if (!nodeBackendLoads())
      throw new EdgelmError('usage', "backend 'node' needs @tensorflow/tfjs-node with its native library, which is not installed here", 'use --backend wasm, or npm install @tensorflow/tfjs-node@4.22.0 beside edgelm (its install downloads libtensorflow)');
    name = 'tensorflow';
  }
  if (name === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
  if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    const { registerWasmGradients } = await import('./wasm-gradients.js');
    registerWasmGradients(tf);
  }
  if (tf.getBackend() !== name) {
    if (!(await tf.setBackend(name))) throw new EdgelmError('usage', `TF.js backend '${name}' failed to initialize`);
    await tf.ready();
  }
  // The cpu backend greets Node users with a banner suggesting tfjs-node on its first write.
  if (name === 'cpu') (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
  return tf;
}

/** TF.js's own model loaders (LayersModel, GraphModel), on the engine loadTf set up. */
export async function loadTfModels(): Promise<{ loadLayersModel: typeof import('@tensorflow/tfjs-layers').loadLayersModel; loadGraphModel: typeof import('@tensorflow/tfjs-converter').loadGraphModel }> {
  const [layers, converter] = await Promise.all([import('@tensorflow/tfjs-layers'), import('@tensorflow/tfjs-converter')]);
  return { loadLayersModel: layers.loadLayersModel, loadGraphModel: converter.loadGraphModel };
}
