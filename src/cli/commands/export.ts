import type { Command } from 'commander';

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a model in another format (float): TFLite or ONNX')
    .argument('<model>', 'model.json (TF.js), .onnx, or a folder with a model.json')
    .requiredOption('-o, --output <file>', 'output file (.tflite or .onnx)')
    .option('--format <format>', 'tflite or onnx (default: from the output extension)')
    .option('--batch <n>', 'batch size for formats with static shapes (TFLite)', '1')
    .option('--json', 'print a JSON summary on stdout')
    .action(async (model: string, flags: { output: string; format?: string; batch: string; json?: boolean }) => {
      const { loadModel, detectFormat, modelFiles } = await import('../../import/index.js');
      const { exportGraph, parseFormat, formatOfPath } = await import('../../export/index.js');
      const { checkNotInput, writeAtomic } = await import('../../export/write.js');
      const { usageError } = await import('../../errors.js');
      const format = flags.format ? parseFormat(flags.format) : formatOfPath(flags.output);
      if (!format) throw usageError(`cannot tell the format from '${flags.output}': add --format tflite|onnx`);
      const batch = Number(flags.batch);
      if (!Number.isInteger(batch) || batch < 1) throw usageError(`--batch: expected a positive integer, got '${flags.batch}'`);
      const src = detectFormat(model);
      checkNotInput(flags.output, modelFiles(src.file, src.format).map((f) => f.path));
      const graph = await loadModel(model);
      const bytes = await exportGraph(graph, format, flags.output, { batchSize: batch });
      writeAtomic(flags.output, bytes);
      const summary = { input: src.file, output: flags.output, format, bytes: bytes.length };
      process.stdout.write(flags.json ? `${JSON.stringify(summary, null, 2)}\n` : `wrote ${flags.output} (${format}, ${bytes.length} bytes)\n`);
    });
}
