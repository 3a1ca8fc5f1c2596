import type { Graph } from '../../ir/graph.js';
import { serializeTflite } from './flatbuffer.js';
import { lowerToTflite, type TfliteLowerOptions } from './lower.js';

export type { TfliteLowerOptions as TfliteExportOptions } from './lower.js';

/** Writes a Graph as a TFLite flatbuffer (float). Refuses, naming op and node, what TFLite cannot express. */
export function exportTflite(graph: Graph, file: string, options: TfliteLowerOptions = {}): Uint8Array {
  return serializeTflite(lowerToTflite(graph, file, options));
}
