// Reads any supported model file into a Graph, choosing the reader from the file's content.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { inputError, usageError } from '../errors.js';
import { hasFixedInputs, type FixedInputs } from './fixed-inputs.js';
import type { Graph } from '../ir/graph.js';
import { isRecord, readHead, readInputFile, readJsonFile, resolveInside } from './files.js';
import { externalDataFiles } from './onnx/proto.js';

export type ModelFormat = 'tfjs-layers' | 'tfjs-graph' | 'onnx' | 'tflite';

/** Resolves a folder to its model.json and tells the format from the bytes, not only the name. */
export function detectFormat(path: string): { file: string; format: ModelFormat } {
  let file = path;
  if (existsSync(path) && statSync(path).isDirectory()) {
    file = join(path, 'model.json');
    if (!existsSync(file)) throw inputError(path, 'is a folder without a model.json');
  }
  const head = readHead(file, 8);
  if (head.length >= 8 && head.toString('latin1', 4, 8) === 'TFL3') return { file, format: 'tflite' };
  if (file.endsWith('.onnx')) return { file, format: 'onnx' };
  if (file.endsWith('.tflite')) throw inputError(file, 'not a TFLite flatbuffer (no TFL3 identifier)');
  if (file.endsWith('.json') || head[0] === 0x7b) {
    const json = readJsonFile(file);
    if (!isRecord(json)) throw inputError(file, 'not a TF.js model.json (not a JSON object)');
    const topo = json.modelTopology;
    if (json.format === 'graph-model' || (isRecord(topo) && Array.isArray(topo.node))) return { file, format: 'tfjs-graph' };
    if (json.format === 'layers-model' || (isRecord(topo) && (typeof topo.class_name === 'string' || isRecord(topo.model_config))))
      return { file, format: 'tfjs-layers' };
    throw inputError(file, 'not a TF.js model.json (no modelTopology with layers or nodes)');
  }
  // ONNX files have no magic number; a protobuf ModelProto starts with field 1 (ir_version) as a varint.
  if (head[0] === 0x08) return { file, format: 'onnx' };
  throw inputError(file, 'unknown model format (expected a TF.js model.json, .onnx or .tflite)');
}

/**
 * Reads a model. `fixed` (`--shape`, `--input-value`) is applied while an ONNX model's inputs are
 * declared, so what needs static sizes or constants folds at import; other formats refuse it.
 */
export async function loadModel(path: string, fixed?: FixedInputs): Promise<Graph> {
  const { file, format } = detectFormat(path);
  if (hasFixedInputs(fixed) && format !== 'onnx') throw usageError(`--input-value and --shape at import apply to ONNX models; ${file} is ${format}`);
  switch (format) {
    case 'tfjs-layers':
      return (await import('./tfjs-layers/index.js')).readLayersModel(file);
    case 'tfjs-graph':
      return (await import('./tfjs-graph/index.js')).readGraphModel(file);
    case 'onnx':
      return (await import('./onnx/index.js')).readOnnxModel(file, undefined, fixed);
    default:
      return (await import('./tflite/graph.js')).readTfliteGraph(file);
  }
}

/** The files a model consists of (model.json and its shards, or the single file), with sizes. */
export function modelFiles(file: string, format: ModelFormat): { path: string; bytes: number }[] {
  const files = [file];
  if (format === 'tfjs-layers' || format === 'tfjs-graph') {
    const json = readJsonFile(file);
    const manifest = isRecord(json) && Array.isArray(json.weightsManifest) ? json.weightsManifest : [];
    for (const group of manifest)
      if (isRecord(group) && Array.isArray(group.paths))
        for (const p of group.paths) if (typeof p === 'string') files.push(resolveInside(file, p, 'weight shard'));
  }
  if (format === 'onnx') files.push(...externalDataFiles(file));
  return [...new Set(files)].map((path) => ({ path, bytes: statSync(path).size }));
}
