// The default of every option, in one place: the library fills them in, the CLI shows them in
// --help, pipeline files use them for fields left out. No imports: the CLI reads this at start-up.

/** Training settings every trainer shares; epochs and the learning rate are per command below. */
export const TRAINING_DEFAULTS = { batchSize: 64, optimizer: 'adam', seed: 1 } as const;

export const QUANTIZE_DEFAULTS = {
  mode: 'dynamic',
  bits: 8,
  granularity: 'auto',
  blockSize: 32,
  io: 'float',
  calibrationMethod: 'minmax',
  calibrationLimit: 1000,
  backend: 'wasm',
  method: 'rtn',
  damp: 0.01,
  actOrder: false,
  int8Only: false,
} as const;

/** epochs 0: prune without fine-tuning. */
export const PRUNE_DEFAULTS = { scope: 'layer', pattern: 'unstructured', schedule: 'constant', backend: 'wasm', epochs: 0, lr: 5e-4 } as const;

export const DISTILL_DEFAULTS = { temperature: 2, alpha: 0.5, backend: 'wasm', epochs: 10, lr: 1e-3 } as const;

/** Batch size baked into TFLite's static shapes. */
export const EXPORT_DEFAULTS = { batchSize: 1 } as const;
