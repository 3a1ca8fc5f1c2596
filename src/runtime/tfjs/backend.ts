// Loads TF.js on demand (the CLI must start without it) and picks its backend: wasm (XNNPACK, the
// default), the pure-JS cpu backend, or tfjs-node's native one when that package can load.
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
  tfModule ??= (await import('@tensorflow/tfjs')) as unknown as Tf;
  const tf = tfModule;
  let name: string = backend;
  if (backend === 'auto') name = nodeBackendLoads() ? 'tensorflow' : 'wasm';
  else if (backend === 'node') {
    if (!nodeBackendLoads())
      throw new EdgelmError('usage', "backend 'node' needs @tensorflow/tfjs-node with its native library, which is not installed here", 'use --backend wasm');
    name = 'tensorflow';
  }
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
