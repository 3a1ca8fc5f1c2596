import type { Command } from 'commander';
import { collect, describeDims, intOption, shapeOption } from '../args.js';

export function registerExport(program: Command): void {
  program
    .command('export')
    .addHelpText('after', '\nExamples:\n  edgelm export fixtures/models/cnn -o cnn.tflite\n  edgelm export model.onnx -o web/model.json      # TF.js GraphModel\n  edgelm export model.json -o model.onnx --external-data\n')
    .description('write a model in another format (float): TFLite, ONNX or a TF.js GraphModel')
    .argument('<model>', 'model.json (TF.js), .onnx, or a folder with a model.json')
    .requiredOption('-o, --output <file>', 'output file (.tflite, .onnx, or model.json / a folder for TF.js)')
    .option('--format <format>', 'tflite, onnx or tfjs (default: from the output extension)')
    .option('--batch <n>', 'batch size for formats with static shapes (TFLite)', '1')
    .option('--shape <name=dims>', 'TFLite: fix an input\'s run-time dims, e.g. input_ids=1x128 (repeatable)', collect, [])
    .option('--external-data', 'ONNX: keep the weights in <output>.data beside the model (automatic past 2 GiB)')
    .option('--json', 'print a JSON summary on stdout')
    .action(async (model: string, flags: { output: string; format?: string; batch: string; shape: string[]; json?: boolean; externalData?: boolean }) => {
      const { loadModel, detectFormat, modelFiles } = await import('../../import/index.js');
      const { writeExport, outputFormat } = await import('../../export/index.js');
      const { checkNotInput } = await import('../../export/write.js');
      const format = outputFormat(flags.output, flags.format);
      const batch = intOption('--batch', flags.batch);
      const shapes = shapeOption(flags.shape);
      const src = detectFormat(model);
      const inputs = modelFiles(src.file, src.format).map((f) => f.path);
      checkNotInput(flags.output, inputs);
      const graph = await loadModel(model);
      const written = await writeExport(graph, format, flags.output, inputs, { batchSize: batch, shapes, externalData: flags.externalData === true });
      const fixed = written.fixedDims.length ? { fixedDims: written.fixedDims } : {};
      const summary = { input: src.file, output: written.files[0], files: written.files, format, bytes: written.bytes, ...fixed };
      const dimsLine = written.fixedDims.length ? `run-time dims fixed: ${describeDims(written.fixedDims)}\n` : '';
      process.stdout.write(flags.json ? `${JSON.stringify(summary, null, 2)}\n` : `${dimsLine}wrote ${written.files[0]} (${format}, ${written.bytes} bytes${written.files.length > 1 ? ` in ${written.files.length} files` : ''})\n`);
    });
}
