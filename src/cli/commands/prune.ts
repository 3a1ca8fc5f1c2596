import type { Command } from 'commander';
import type { LayerSparsity } from '../../prune/index.js';
import { EXPORT_DEFAULTS, PRUNE_DEFAULTS } from '../../defaults.js';
import { colours, jsonDocument, table } from '../output.js';
import { comparison, relabel, renderEval, runEval } from './eval.js';
import { collect, defined, numberFlag, refuseGiven, requireFlags, summary, withDefault, type Summary } from '../args.js';
import { addTrainingOptions, TRAINING_ONLY_FLAGS, trainingFlags, withCheckpointAndProgress, type TrainingFlags } from './training.js';
import { checkDataFlags, dataFlags, requireFiles, VOCAB_OPTION, type DataFlags } from '../data.js';

interface PruneFlags extends TrainingFlags, DataFlags {
  output?: string;
  format?: string;
  sparsity?: string;
  scope?: string;
  pattern?: string;
  exclude: string[];
  schedule?: string;
  val?: string;
  batch?: string;
  json?: boolean;
}

const D = PRUNE_DEFAULTS;

export function registerPrune(program: Command): void {
  const cmd = program
    .command('prune')
    .addHelpText('after', '\nExamples:\n  edgelm prune fixtures/models/mlp -o mlp-90.onnx --sparsity 0.9 --scope global --data fixtures/data/mnist-train.npz --epochs 3\n  edgelm prune fixtures/models/mlp -o mlp-24.tflite --pattern 2:4 --sparsity 0.5\n  edgelm prune fixtures/models/cnn -o small.tflite --pattern channel --sparsity 0.5 --data fixtures/data/mnist-train.npz --epochs 2\n')
    .description('magnitude pruning (per layer or global, as torch.nn.utils.prune chooses), N:M or channels, with optional fine-tuning')
    .argument('<model>', 'model.json (TF.js), .onnx, or a folder with a model.json')
    .option('-o, --output <file>', 'output file (.tflite, .onnx, or model.json / a folder for TF.js); required')
    .option('--format <format>', 'tflite, onnx or tfjs (default: from the output extension)')
    .option('--sparsity <s>', 'fraction of weights to remove, 0 to 1; required')
    .option('--scope <scope>', withDefault('layer: each layer to the sparsity; global: one magnitude threshold across layers (unstructured)', D.scope))
    .option('--pattern <p>', withDefault('unstructured, N:M (e.g. 2:4, along the input axis) or channel (removes whole output channels)', D.pattern))
    .option('--exclude <pattern>', 'leave layers whose name matches dense (glob or substring); repeatable; each must match a node', collect, [])
    .option('--data <file>', 'training data for fine-tuning (.npz with x and y); with --epochs')
    .option('--labels <file>', 'labels .npy for .npy data')
    .option(...VOCAB_OPTION)
    .option('--schedule <s>', withDefault('constant (prune once, then fine-tune) or polynomial (Zhu & Gupta: sparsity grows during fine-tuning)', D.schedule))
    .option('--val <file>', 'held-out data: evaluate the source and the pruned artifact in their runtimes')
    .option('--batch <n>', withDefault("batch size baked into TFLite's static shapes", EXPORT_DEFAULTS.batchSize))
    .option('--json', 'print one JSON document on stdout');
  addTrainingOptions(cmd, D).action(async (model: string, flags: PruneFlags) => {
    const result = await runPrune(model, flags);
    process.stdout.write(flags.json ? jsonDocument(result) : `${result.text}\n`);
  });
}

async function runPrune(model: string, flags: PruneFlags): Promise<Summary> {
  const { loadModel, detectFormat, modelFiles } = await import('../../import/index.js');
  const { stageExport, outputFormat, checkExportOptions } = await import('../../export/index.js');
  const { checkNotInput } = await import('../../export/write.js');
  const { pruneModel, resolvePruneOptions } = await import('../../prune/run.js');

  // Every flag and combination, checked before anything is loaded or written.
  requireFlags(flags, [['output', '-o, --output <file>'], ['sparsity', '--sparsity <s>']]);
  const output = flags.output!;
  const format = outputFormat(output, flags.format);
  const exportOptions = defined({ batchSize: flags.batch === undefined ? undefined : numberFlag('--batch', flags.batch) });
  checkExportOptions(format, exportOptions);
  const options = {
    sparsity: numberFlag('--sparsity', flags.sparsity!),
    ...defined({ scope: flags.scope as 'layer' | undefined, pattern: flags.pattern, schedule: flags.schedule as 'constant' | undefined, backend: flags.backend as 'wasm' | undefined }),
    exclude: flags.exclude,
    training: trainingFlags(flags),
  };
  const resolved = resolvePruneOptions({ ...options, ...(flags.data ? { data: flags.data } : {}) });
  if (resolved.training.epochs === 0) refuseGiven(flags, [['data', '--data'], ...TRAINING_ONLY_FLAGS], 'without --epochs N (fine-tuning)');
  checkDataFlags(flags, [flags.data, flags.val]);
  requireFiles({ '--data': flags.data, '--val': flags.val, '--labels': flags.labels, '--vocab': flags.vocab });
  const training = await withCheckpointAndProgress(flags, resolved.training, { model, data: flags.data, spec: { ...options, training: undefined }, schedule: resolved.schedule }, flags.json === true);
  const src = detectFormat(model);
  const inputs = modelFiles(src.file, src.format).map((f) => f.path);
  checkNotInput(output, inputs);

  const { loadDatasetFor } = await import('../../data/index.js');
  const source = await loadModel(model);
  const data = flags.data ? await loadDatasetFor(flags.data, model, { ...dataFlags(flags), graph: source }) : undefined;
  const pruned = await pruneModel(source, { ...options, ...(data ? { data } : {}), training });
  const graph = pruned.graph;
  const [paramsBefore, paramsAfter, structured] = [pruned.weightsBefore, pruned.weightsAfter, resolved.pattern.kind === 'channel'];
  const history = pruned.history;
  // Written to a staging folder, measured there, and moved into place only when everything succeeded.
  const written = await stageExport(graph, format, output, inputs, exportOptions);
  try {
    const evaluation = flags.val ? relabel(await runEval([model, written.staged[0]!], { data: flags.val, ...dataFlags(flags), json: true }), written.files[0]!) : undefined;
    written.commit();
    const report = { layers: pruned.layers, total: pruned.sparsity };
    const headline = structured
      ? `removed ${(100 * resolved.sparsity).toFixed(0)}% of the hidden channels: layer weights ${paramsBefore} → ${paramsAfter} (${((100 * paramsAfter) / paramsBefore).toFixed(1)}%)`
      : `${(100 * report.total).toFixed(1)}% of the pruned layers' weights are zero`;
    const lines = [`wrote ${written.files[0]} (${format}): ${headline}`, '', renderSparsity(report.layers)];
    if (evaluation) lines.push('', renderEval(evaluation));
    return summary({
      input: src.file,
      output: written.files[0],
      files: written.files,
      format,
      bytes: written.bytes,
      pattern: flags.pattern ?? D.pattern,
      scope: resolved.scope,
      sparsity: report.total,
      weightsBefore: paramsBefore,
      weightsAfter: paramsAfter,
      layers: report.layers,
      training: history,
      ...(evaluation ? { eval: comparison(evaluation) } : {}),
    }, lines.join('\n'));
  } catch (e) {
    written.discard();
    throw e;
  }
}

function renderSparsity(rows: LayerSparsity[]): string {
  return table(rows, [
    { header: 'layer', value: (r) => r.layer },
    { header: 'weights', value: (r) => String(r.params), align: 'right' },
    { header: 'zeros', value: (r) => String(r.zeros), align: 'right' },
    { header: 'sparsity', value: (r) => `${(100 * r.sparsity).toFixed(1)}%`, align: 'right' },
  ], colours());
}
