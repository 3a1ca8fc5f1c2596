import type { Command } from 'commander';
import type { LayerSparsity } from '../../prune/index.js';
import { colours, table } from '../output.js';
import { comparison, renderEval, runEval } from './eval.js';
import { intOption, summary, type Summary } from '../args.js';
import { addTrainingOptions, trainingOptions, type TrainingFlags } from './training.js';
import { dataFlags, VOCAB_OPTION, type DataFlags } from '../data.js';

interface PruneFlags extends TrainingFlags, DataFlags {
  output: string;
  format?: string;
  sparsity: string;
  scope: string;
  pattern: string;
  exclude: string[];
  schedule: string;
  val?: string;
  batch: string;
  json?: boolean;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function registerPrune(program: Command): void {
  const cmd = program
    .command('prune')
    .addHelpText('after', '\nExamples:\n  edgelm prune fixtures/models/mlp -o mlp-90.onnx --sparsity 0.9 --scope global --data fixtures/data/mnist-train.npz --epochs 3\n  edgelm prune fixtures/models/mlp -o mlp-24.tflite --pattern 2:4 --sparsity 0.5\n  edgelm prune fixtures/models/cnn -o small.tflite --pattern channel --sparsity 0.5 --data train.npz --epochs 2\n')
    .description('magnitude pruning (per layer or global, as torch.nn.utils.prune chooses), N:M or channels, with optional fine-tuning')
    .argument('<model>', 'model.json (TF.js), .onnx, or a folder with a model.json')
    .requiredOption('-o, --output <file>', 'output file (.tflite, .onnx, or model.json / a folder for TF.js)')
    .option('--format <format>', 'tflite, onnx or tfjs (default: from the output extension)')
    .requiredOption('--sparsity <s>', 'fraction of weights to remove, 0 to 1')
    .option('--scope <scope>', 'layer: each layer to the sparsity; global: one magnitude threshold across layers', 'layer')
    .option('--pattern <p>', 'unstructured, N:M (e.g. 2:4, along the input axis) or channel (removes whole output channels)', 'unstructured')
    .option('--exclude <pattern>', 'leave layers whose name matches dense (glob or substring); repeatable', collect, [])
    .option('--data <file>', 'training data for fine-tuning (.npz with x and y)')
    .option('--labels <file>', 'labels .npy for .npy data')
    .option(...VOCAB_OPTION)
    .option('--schedule <s>', 'constant (prune once, then fine-tune) or polynomial (Zhu & Gupta: sparsity grows during fine-tuning)', 'constant')
    .option('--val <file>', 'held-out data: evaluate the source and the pruned artifact in their runtimes')
    .option('--batch <n>', 'batch size for formats with static shapes (TFLite)', '1')
    .option('--json', 'print one JSON document on stdout');
  addTrainingOptions(cmd, { epochs: '0', lr: '0.0005' }).action(async (model: string, flags: PruneFlags) => {
    const result = await runPrune(model, flags);
    process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${result.text}\n`);
  });
}

async function runPrune(model: string, flags: PruneFlags): Promise<Summary> {
  const { loadModel, detectFormat, modelFiles } = await import('../../import/index.js');
  const { writeExport, outputFormat } = await import('../../export/index.js');
  const { checkNotInput } = await import('../../export/write.js');
  const { usageError } = await import('../../errors.js');
  const { excludeFilter } = await import('../../quantize/plan.js');
  const { parsePattern } = await import('../../prune/index.js');

  const format = outputFormat(flags.output, flags.format);
  const batch = intOption('--batch', flags.batch);
  const sparsity = Number(flags.sparsity);
  if (!(sparsity >= 0 && sparsity < 1)) throw usageError(`--sparsity: expected a fraction in [0, 1), got '${flags.sparsity}'`);
  if (flags.scope !== 'layer' && flags.scope !== 'global') throw usageError(`--scope: expected layer or global, got '${flags.scope}'`);
  if (flags.schedule !== 'constant' && flags.schedule !== 'polynomial') throw usageError(`--schedule: expected constant or polynomial, got '${flags.schedule}'`);
  const spec = { sparsity, scope: flags.scope, pattern: parsePattern(flags.pattern), exclude: excludeFilter(flags.exclude) } as const;
  const training = await trainingOptions(flags, { model, data: flags.data, spec: { ...spec, exclude: flags.exclude }, schedule: flags.schedule }, flags.json === true);
  if (training.epochs > 0 && !flags.data) throw usageError('--epochs needs --data: fine-tuning trains on labelled samples');
  if (flags.schedule === 'polynomial' && training.epochs === 0) throw usageError('--schedule polynomial prunes during fine-tuning: give --data and --epochs');
  const src = detectFormat(model);
  const inputs = modelFiles(src.file, src.format).map((f) => f.path);
  checkNotInput(flags.output, inputs);

  const { pruneModel } = await import('../../prune/run.js');
  const { loadDatasetFor } = await import('../../data/index.js');
  const source = await loadModel(model);
  const data = flags.data ? await loadDatasetFor(flags.data, model, { ...dataFlags(flags), graph: source }) : undefined;
  const pruned = await pruneModel(source, { ...spec, schedule: flags.schedule, ...(data ? { data } : {}), training, backend: training.backend as never });
  const graph = pruned.graph;
  const [paramsBefore, paramsAfter, structured] = [pruned.weightsBefore, pruned.weightsAfter, spec.pattern.kind === 'channel'];
  const history = pruned.history;
  const written = await writeExport(graph, format, flags.output, inputs, { batchSize: batch });
  const report = { layers: pruned.layers, total: pruned.sparsity };
  const evaluation = flags.val ? await runEval([model, written.files[0]!], { data: flags.val, ...dataFlags(flags), json: true }) : undefined;
  const headline = structured
    ? `removed ${(100 * sparsity).toFixed(0)}% of the hidden channels: layer weights ${paramsBefore} → ${paramsAfter} (${((100 * paramsAfter) / paramsBefore).toFixed(1)}%)`
    : `${(100 * report.total).toFixed(1)}% of the pruned layers' weights are zero`;
  const lines = [`wrote ${written.files[0]} (${format}): ${headline}`, '', renderSparsity(report.layers)];
  if (evaluation) lines.push('', renderEval(evaluation));
  return summary({
    input: src.file,
    output: written.files[0],
    files: written.files,
    format,
    bytes: written.bytes,
    pattern: flags.pattern,
    scope: flags.scope,
    sparsity: report.total,
    weightsBefore: paramsBefore,
    weightsAfter: paramsAfter,
    layers: report.layers,
    training: history,
    ...(evaluation ? { eval: comparison(evaluation) } : {}),
  }, lines.join('\n'));
}

function renderSparsity(rows: LayerSparsity[]): string {
  return table(rows, [
    { header: 'layer', value: (r) => r.layer },
    { header: 'weights', value: (r) => String(r.params), align: 'right' },
    { header: 'zeros', value: (r) => String(r.zeros), align: 'right' },
    { header: 'sparsity', value: (r) => `${(100 * r.sparsity).toFixed(1)}%`, align: 'right' },
  ], colours());
}
