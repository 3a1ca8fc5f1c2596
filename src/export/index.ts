// Writes a Graph in a target format. Each writer refuses (naming op and node) what it cannot express.
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { usageError } from '../errors.js';
import type { Graph } from '../ir/graph.js';
import { chooseDims, type DimChoice } from '../ir/passes/fix-dims.js';
import type { QuantPlan } from '../quantize/plan.js';
import { checkQuantTarget } from '../quantize/options.js';
import { checkInteger } from '../train/options.js';
import { partsSize } from './onnx/parts.js';
import { checkNotInput, staging } from './write.js';

export const EXPORT_FORMATS = ['tflite', 'onnx', 'tfjs'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  /** Batch size baked into formats with static shapes (TFLite only). Default 1. */
  batchSize?: number;
  /** Sizes of run-time dims for formats with static shapes (TFLite): see chooseDims. */
  dims?: DimChoice[];
  /** Input shapes that fix run-time dims (`--shape NAME=1x128`), when `dims` is not given. */
  shapes?: Record<string, number[]>;
  /** Quantize while writing (see src/quantize/plan.ts). */
  quant?: QuantPlan;
  /** ONNX only: weights in an external data file beside the model (automatic past 2 GiB). */
  externalData?: boolean;
}

/**
 * Refuses an unknown format and options the format would ignore (a batch size outside TFLite,
 * external data outside ONNX, a quantization plan the format cannot store as asked).
 */
export function checkExportOptions(format: string, options: ExportOptions): ExportFormat {
  const f = parseFormat(format);
  if (options.batchSize !== undefined) {
    checkInteger('--batch', options.batchSize, 1);
    if (options.batchSize !== 1 && f !== 'tflite') throw usageError(`--batch ${options.batchSize} has no effect on ${f}: only TFLite bakes the batch size into its shapes`);
  }
  if ((options.shapes && Object.keys(options.shapes).length) || options.dims?.length) {
    if (f !== 'tflite') throw usageError(`--shape has no effect on ${f}: only TFLite fixes run-time dims in its shapes`);
  }
  if (options.externalData && f !== 'onnx') throw usageError(`--external-data has no effect on ${f}: it keeps ONNX weights in a file beside the model`);
  if (options.quant) checkQuantTarget(options.quant, f);
  return f;
}

export interface ExportedFile {
  path: string;
  bytes: Uint8Array;
  /** The same bytes as parts, where the writer has them so (ONNX): written one after another, never joined. */
  parts?: readonly Uint8Array[];
}

/** A file's size without joining its parts. */
export const fileSize = (f: ExportedFile): number => (f.parts ? partsSize(f.parts) : f.bytes.length);

/** Writes a file's bytes, part after part when it has parts. */
export function writeExported(path: string, f: ExportedFile): void {
  if (!f.parts) return writeFileSync(path, f.bytes);
  const fd = openSync(path, 'w');
  try {
    for (const p of f.parts) for (let done = 0; done < p.length; ) done += writeSync(fd, p, done, p.length - done);
  } finally {
    closeSync(fd);
  }
}

export function parseFormat(s: string): ExportFormat {
  if ((EXPORT_FORMATS as readonly string[]).includes(s)) return s as ExportFormat;
  throw usageError(`--format: unknown format '${s}' (expected ${EXPORT_FORMATS.join(', ')})`);
}

/** Format implied by an output path's extension. */
export function formatOfPath(path: string): ExportFormat | undefined {
  if (path.endsWith('.tflite')) return 'tflite';
  if (path.endsWith('.onnx')) return 'onnx';
  // A TF.js model is a folder: model.json, or a path without an extension (the folder).
  if (path.endsWith('.json') || extname(path) === '') return 'tfjs';
  return undefined;
}

/** The format to write: --format when given, else the output path's. */
export function outputFormat(output: string, format?: string): ExportFormat {
  const f = format ? parseFormat(format) : formatOfPath(output);
  if (!f) throw usageError(`cannot tell the format from '${output}': add --format ${EXPORT_FORMATS.join('|')}`);
  return f;
}

/** Where a TF.js model goes: `out` itself when it names a .json file, else out/model.json. */
export function tfjsModelPath(out: string): string {
  return out.endsWith('.json') ? out : join(out, 'model.json');
}

/** The files an export to `out` consists of: one file, or model.json and its weight shards for TF.js. */
export async function exportFiles(graph: Graph, format: ExportFormat, out: string, options: ExportOptions = {}): Promise<ExportedFile[]> {
  switch (checkExportOptions(format, options)) {
    case 'tflite': {
      const dims = options.dims ?? tfliteDims(graph, options);
      return [{ path: out, bytes: (await import('./tflite/index.js')).exportTflite(graph, out, { batchSize: options.batchSize ?? 1, dims, ...(options.quant ? { quant: options.quant } : {}) }) }];
    }
    case 'onnx': {
      const r = (await import('./onnx/index.js')).exportOnnx(graph, out, options.quant, { externalData: options.externalData === true });
      // The model file first (the one to open), its external data beside it.
      return [{ path: out, parts: r.modelParts, get bytes() { return r.model; } }, ...(r.data ? [{ path: join(dirname(out), r.data.location), bytes: r.data.bytes }] : [])];
    }
    case 'tfjs': {
      const modelJson = tfjsModelPath(out);
      const { files } = (await import('./tfjs/index.js')).exportTfjs(graph, modelJson, options.quant);
      return files.map((f) => ({ path: f.name === 'model.json' ? modelJson : join(dirname(modelJson), f.name), bytes: f.bytes }));
    }
  }
}

/** The sizes a TFLite export gives the graph's run-time dims (TFLite shapes are static). */
export function tfliteDims(graph: Graph, options: Pick<ExportOptions, 'batchSize' | 'shapes'> = {}): DimChoice[] {
  return chooseDims(graph, options.shapes ?? {}, options.batchSize ?? 1);
}

/** Single-file export (TFLite, ONNX) as bytes. */
export async function exportGraph(graph: Graph, format: 'tflite' | 'onnx', file: string, options: ExportOptions = {}): Promise<Uint8Array> {
  return (await exportFiles(graph, format, file, options))[0]!.bytes;
}

/** An export written to a staging folder (see staging): `files` are the destinations, `staged` where they are now. */
export interface StagedExport {
  files: string[];
  /** TFLite: the sizes given to the graph's run-time dims. */
  fixedDims: DimChoice[];
  staged: string[];
  bytes: number;
  /** Moves the files into place: companions (shards, external data) first, the first file last. */
  commit(): void;
  discard(): void;
}

/** Exports into a staging folder beside `out`, refusing outputs that are inputs; the caller measures the staged files, then commits or discards. */
export async function stageExport(graph: Graph, format: ExportFormat, out: string, inputs: readonly string[] = [], options: ExportOptions = {}): Promise<StagedExport> {
  const fixedDims = format === 'tflite' ? options.dims ?? tfliteDims(graph, options) : [];
  const files = await exportFiles(graph, format, out, { ...options, ...(format === 'tflite' ? { dims: fixedDims } : {}) });
  for (const f of files) checkNotInput(f.path, inputs);
  const st = staging(dirname(files[0]!.path));
  try {
    for (const f of files) writeExported(st.path(f.path), f);
  } catch (e) {
    st.discard();
    throw e;
  }
  const finals = files.map((f) => f.path);
  return {
    files: finals,
    fixedDims,
    staged: finals.map(st.path),
    bytes: files.reduce((s, f) => s + fileSize(f), 0),
    commit: () => st.commit([...finals.slice(1), finals[0]!]),
    discard: () => st.discard(),
  };
}

/**
 * Exports and writes `graph` as `format` to `out`, never over one of `inputs` (the source's files),
 * each file complete or not at all, model.json last so that a reader never finds it without its
 * shards. Returns the files and their total size; the first file is the one to open.
 */
export async function writeExport(graph: Graph, format: ExportFormat, out: string, inputs: readonly string[] = [], options: ExportOptions = {}): Promise<{ files: string[]; bytes: number; fixedDims: DimChoice[] }> {
  const s = await stageExport(graph, format, out, inputs, options);
  try {
    s.commit();
  } catch (e) {
    s.discard();
    throw e;
  }
  return { files: s.files, bytes: s.bytes, fixedDims: s.fixedDims };
}
