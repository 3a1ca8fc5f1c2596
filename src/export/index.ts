// Writes a Graph in a target format. Each writer refuses (naming op and node) what it cannot express.
import { usageError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import type { QuantPlan } from '../quantize/plan.js';

export const EXPORT_FORMATS = ['tflite', 'onnx'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  /** Batch size baked into formats with static shapes (TFLite). Default 1. */
  batchSize?: number;
  /** Quantize while writing (see src/quantize/plan.ts). */
  quant?: QuantPlan;
}

export function parseFormat(s: string): ExportFormat {
  if ((EXPORT_FORMATS as readonly string[]).includes(s)) return s as ExportFormat;
  throw usageError(`--format: unknown format '${s}' (expected ${EXPORT_FORMATS.join(', ')})`);
}

/** Format implied by an output path's extension. */
export function formatOfPath(path: string): ExportFormat | undefined {
  if (path.endsWith('.tflite')) return 'tflite';
  if (path.endsWith('.onnx')) return 'onnx';
  return undefined;
}

export async function exportGraph(graph: Graph, format: ExportFormat, file: string, options: ExportOptions = {}): Promise<Uint8Array> {
  switch (format) {
    case 'tflite':
      return (await import('./tflite/index.js')).exportTflite(graph, file, { batchSize: options.batchSize ?? 1, ...(options.quant ? { quant: options.quant } : {}) });
    case 'onnx':
      return (await import('./onnx/index.js')).exportOnnx(graph, file, options.quant);
  }
}
