import type { Command } from 'commander';
import { EdgelmError } from '../../errors.js';
import type { Graph } from '../../ir/graph.js';
import type { InspectReport, Quantization } from '../../report/inspect.js';
import { colours, formatBytes, formatCount, jsonDocument, oneLine, table } from '../output.js';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .addHelpText('after', '\nExamples:\n  edgelm inspect fixtures/models/mlp\n  edgelm inspect model.tflite --json | jq .params\n')
    .description('show a model: format, inputs/outputs, ops, parameters and every weight tensor')
    .argument('<model>', 'model.json (TF.js), .onnx or .tflite file, or a folder with a model.json')
    .option('--json', 'print one JSON document on stdout')
    .action(async (model: string, opts: { json?: boolean }) => {
      const { loadModel, detectFormat } = await import('../../import/index.js');
      const { inspectGraph, inspectTflite } = await import('../../report/inspect.js');
      const { file, format } = detectFormat(model);
      const report = format === 'tflite' ? inspectTflite(file) : format === 'onnx' ? await inspectOnnx(file, loadModel, inspectGraph) : inspectGraph(await loadModel(model), file);
      process.stdout.write(opts.json ? jsonDocument(report) : `${renderInspect(report)}\n`);
    });
}

/** An ONNX file through the IR, or from the file itself when the IR cannot read it (see inspect-onnx.ts). */
async function inspectOnnx(file: string, load: (f: string) => Promise<Graph>, fromGraph: (g: Graph, f: string) => InspectReport): Promise<InspectReport> {
  try {
    return fromGraph(await load(file), file);
  } catch (e) {
    if (!(e instanceof EdgelmError) || e.code !== 'unsupported') throw e;
    const { inspectOnnxFile } = await import('../../report/inspect-onnx.js');
    return inspectOnnxFile(file, e.message.startsWith(`${file}: `) ? e.message.slice(file.length + 2) : e.message);
  }
}

export function renderInspect(r: InspectReport): string {
  const c = colours();
  const dims = (s: readonly (number | string)[]): string => `[${s.join(', ')}]`;
  const lines = [
    `${c.bold(r.file)}  ${r.format}, ${formatBytes(r.fileBytes)}`,
    `params ${c.bold(formatCount(r.params))}, weights ${formatBytes(r.weightBytes)}, ${r.nodes} nodes`,
    '',
    table([...r.inputs.map((v) => ({ ...v, kind: 'input' })), ...r.outputs.map((v) => ({ ...v, kind: 'output' }))], [
      { header: 'io', value: (v) => v.kind },
      { header: 'name', value: (v) => v.name },
      { header: 'shape', value: (v) => dims(v.shape) },
      { header: 'dtype', value: (v) => v.dtype },
      ...([...r.inputs, ...r.outputs].some((v) => v.quantization) ? [{ header: 'quantization', value: (v: { quantization?: Quantization }) => describeQuantization(v.quantization) }] : []),
    ], c),
    '',
    `ops: ${Object.entries(r.ops).map(([op, n]) => `${op} ${n}`).join(', ')}`,
    ...(r.unreadable ? unreadableLines(r.unreadable, c) : []),
    '',
    table(r.tensors, [
      { header: 'tensor', value: (t) => t.name },
      { header: 'shape', value: (t) => dims(t.shape) },
      { header: 'dtype', value: (t) => t.dtype },
      { header: 'bytes', value: (t) => formatCount(t.bytes), align: 'right' },
      { header: 'sparsity', value: (t) => `${(t.sparsity * 100).toFixed(1)}%`, align: 'right' },
      { header: 'quantization', value: (t) => describeQuantization(t.quantization, t.dtype) },
    ], c),
  ];
  return lines.join('\n');
}

/** Why the IR cannot read the file and which nodes, grouped by op (a few names each). */
function unreadableLines(u: NonNullable<InspectReport['unreadable']>, c: ReturnType<typeof colours>): string[] {
  const byOp = new Map<string, string[]>();
  for (const { op, node } of u.nodes) byOp.set(oneLine(op), [...(byOp.get(oneLine(op)) ?? []), oneLine(node)]);
  const listed = [...byOp].map(([op, nodes]) => `${op} ×${nodes.length} (${nodes.slice(0, 3).join(', ')}${nodes.length > 3 ? ', …' : ''})`);
  return [
    '',
    c.bold(`edgelm's IR cannot read this model: ${oneLine(u.reason)}`),
    ...(listed.length ? [`nodes it cannot read: ${listed.join('; ')}`] : []),
    'quantize to ONNX keeps these nodes as they are; TFLite and TF.js exports refuse them',
  ];
}

const num = (v: number): string => String(Number(v.toPrecision(4)));
const span = (values: readonly number[]): string => {
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  return lo === hi ? num(lo) : `${num(lo)}…${num(hi)}`;
};

/**
 * Scale and zero point in one cell: the values themselves per tensor, their range per channel or
 * block (`per-channel axis 3 ×16: scale 0.0011…0.0042, zero point 0`); the bits where codes are
 * narrower than their container (4-bit codes in int8).
 */
export function describeQuantization(q: Quantization | undefined, dtype?: string): string {
  if (!q) return '';
  const width = dtype && /(\d+)$/.exec(dtype)?.[1];
  const bits = width && Number(width) !== q.bits ? `${q.bits}-bit, ` : '';
  const how = q.blockSize ? `blocks of ${q.blockSize} on axis ${q.axis ?? 0} ×${q.scale.length}: ` : q.scale.length > 1 ? `per-channel axis ${q.axis ?? 0} ×${q.scale.length}: ` : '';
  return `${bits}${how}scale ${span(q.scale)}, zero point ${span(q.zeroPoint.length ? q.zeroPoint : [0])}`;
}
