import type { Graph } from '../../ir/graph.js';
import { serializeTflite } from './flatbuffer.js';
import { lowerToTflite, type TfliteLowerOptions } from './lower.js';

export type { TfliteLowerOptions as TfliteExportOptions } from './lower.js';

/** Writes a Graph as a TFLite flatbuffer (float). Refuses, naming op and node, what TFLite cannot express. */
export function exportTflite(graph: Graph, file: string, options: TfliteLowerOptions = {}): Uint8Array {
  const model = lowerToTflite(graph, file, options);
  // The graph's metadata (a language model's vocabulary, ...) as named buffers of UTF-8, keys sorted
  // so that the same graph gives the same bytes.
  const entries = Object.entries({ ...graph.metadata, 'edgelm.source_format': graph.format }).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  model.metadata = entries.map(([key, value]) => {
    model.buffers.push(new TextEncoder().encode(value));
    return [key, model.buffers.length - 1];
  });
  return serializeTflite(model);
}
