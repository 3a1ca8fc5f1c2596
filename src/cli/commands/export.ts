import type { Command } from 'commander';
import { EXPORT_DEFAULTS } from '../../defaults.js';
import { collect, defined, describeDims, inputFixes, numberFlag, requireFlags, withDefault } from '../args.js';
import { jsonDocument } from '../output.js';

interface ExportFlags {
  output?: string;
  format?: string;
  batch?: string;
  shape: string[];
  inputValue: string[];
  json?: boolean;
  externalData?: boolean;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .addHelpText('after', '\nExamples:\n  edgelm export fixtures/models/cnn -o cnn.tflite\n  edgelm export model.onnx -o web/model.json      # TF.js GraphModel\n  edgelm export model.json -o model.onnx --external-data\n')
    .description('write a model in another format (float): TFLite, ONNX or a TF.js GraphModel')
    .argument('<model>', 'model.json (TF.js), .onnx, or a folder with a model.json')
    .option('-o, --output <file>', 'output file (.tflite, .onnx, or model.json / a folder for TF.js); required')
    .option('--format <format>', 'tflite, onnx or tfjs (default: from the output extension)')
    .option('--batch <n>', withDefault("batch size baked into TFLite's static shapes", EXPORT_DEFAULTS.batchSize))
    .option('--shape <name=dims>', 'fix an input\'s run-time dims, e.g. input_ids=1x128 (repeatable; ONNX sources at import, others for TFLite)', collect, [])
    .option('--input-value <name=values>', 'ONNX sources: replace an input by a constant, e.g. sr=16000 (repeatable); what depends on it folds', collect, [])
    .option('--external-data', 'ONNX: keep the weights in <output>.data beside the model (automatic past 2 GiB)')
    .option('--json', 'print a JSON summary on stdout')
    .action(async (model: string, flags: ExportFlags) => {
      const { loadModel, detectFormat, modelFiles } = await import('../../import/index.js');
      const { writeExport, outputFormat, checkExportOptions } = await import('../../export/index.js');
      const { checkNotInput } = await import('../../export/write.js');
      requireFlags(flags, [['output', '-o, --output <file>']]);
      const output = flags.output!;
      const format = outputFormat(output, flags.format);
      const src = detectFormat(model);
      const { fixed: fixedInputs, exportShapes } = inputFixes(src.format, flags.shape, flags.inputValue);
      const options = defined({ batchSize: flags.batch === undefined ? undefined : numberFlag('--batch', flags.batch), shapes: exportShapes, externalData: flags.externalData });
      checkExportOptions(format, options);
      const inputs = modelFiles(src.file, src.format).map((f) => f.path);
      checkNotInput(output, inputs);
      const graph = await loadModel(model, fixedInputs);
      const written = await writeExport(graph, format, output, inputs, options);
      const fixed = written.fixedDims.length ? { fixedDims: written.fixedDims } : {};
      const summary = { input: src.file, output: written.files[0], files: written.files, format, bytes: written.bytes, ...fixed };
      const dimsLine = written.fixedDims.length ? `run-time dims fixed: ${describeDims(written.fixedDims)}\n` : '';
      process.stdout.write(flags.json ? jsonDocument(summary) : `${dimsLine}wrote ${written.files[0]} (${format}, ${written.bytes} bytes${written.files.length > 1 ? ` in ${written.files.length} files` : ''})\n`);
    });
}
