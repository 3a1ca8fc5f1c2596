import type { Command } from 'commander';
import type { InspectReport } from '../../report/inspect.js';
import { colours, formatBytes, formatCount, jsonDocument, table } from '../output.js';

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
      const report = format === 'tflite' ? inspectTflite(file) : inspectGraph(await loadModel(model), file);
      process.stdout.write(opts.json ? jsonDocument(report) : `${renderInspect(report)}\n`);
    });
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
    ], c),
    '',
    `ops: ${Object.entries(r.ops).map(([op, n]) => `${op} ${n}`).join(', ')}`,
    '',
    table(r.tensors, [
      { header: 'tensor', value: (t) => t.name },
      { header: 'shape', value: (t) => dims(t.shape) },
      { header: 'dtype', value: (t) => t.dtype },
      { header: 'bytes', value: (t) => formatCount(t.bytes), align: 'right' },
      { header: 'sparsity', value: (t) => `${(t.sparsity * 100).toFixed(1)}%`, align: 'right' },
      { header: 'quantization', value: (t) => (t.quantization ? `${t.quantization.bits}-bit, ${t.quantization.scale.length} scale(s)` : '') },
    ], c),
  ];
  return lines.join('\n');
}
