// TF.js as the @tensorflow/tfjs union package exposes it, for tests that build reference models with
// TF.js's own layers and loaders. edgelm depends only on the parts it uses (src/runtime/tfjs/backend.ts).
import type * as core from '@tensorflow/tfjs-core';
import type * as converter from '@tensorflow/tfjs-converter';
import type * as layers from '@tensorflow/tfjs-layers';
import { loadTf, type Backend } from '../src/runtime/tfjs/backend.js';

export type * from '@tensorflow/tfjs-core';
export type * from '@tensorflow/tfjs-layers';
export type * from '@tensorflow/tfjs-converter';
export type TfAll = typeof core & typeof layers & typeof converter;

/** TF.js core (on `backend`) with tfjs-layers and tfjs-converter, on one engine. */
export async function loadTfAll(backend: Backend = 'wasm'): Promise<TfAll> {
  const tf = await loadTf(backend);
  const [l, c] = await Promise.all([import('@tensorflow/tfjs-layers'), import('@tensorflow/tfjs-converter')]);
  return { ...tf, ...l, ...c } as TfAll;
}
