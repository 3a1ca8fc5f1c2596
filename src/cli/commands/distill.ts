import type { Command } from 'commander';
import { DISTILL_DEFAULTS, EXPORT_DEFAULTS } from '../../defaults.js';
import { publicResult, relabel, renderEval, runEval } from './eval.js';
import { defined, numberFlag, summary, withDefault, type Summary } from '../args.js';
import { checkDataFlags, dataFlags, requireFiles, VOCAB_OPTION, type DataFlags } from '../data.js';
import { jsonDocument } from '../output.js';
import { addTrainingOptions, trainingFlags, withCheckpointAndProgress, type TrainingFlags } from './training.js';

interface DistillFlags extends TrainingFlags, DataFlags {
  teacher: string;
  student?: string;
  studentWidth?: string;
  reinit?: boolean;
  output: string;
  format?: string;
  temperature?: string;
  alpha?: string;
  val?: string;
  earlyStop?: string;
  batch?: string;
  json?: boolean;
}

const D = DISTILL_DEFAULTS;

export function registerDistill(program: Command): void {
  const cmd = program
    .command('distill')
    .addHelpText('after', '\nExamples:\n  edgelm distill --teacher fixtures/models/mlp --student-width 0.1 --data fixtures/data/mnist-train.npz -o student.onnx --epochs 20\n  edgelm distill --teacher big.onnx --student small/model.json --data train.npz --val test.npz --early-stop 3 -o s.tflite\n')
    .description('train a smaller student on a teacher\'s softened logits (Hinton et al. 2015) and write it in any format')
    .requiredOption('--teacher <model>', 'the teacher model (inference only)')
    .option('--student <model>', 'the student model (its weights are the starting point unless --reinit)')
    .option('--student-width <f>', 'derive the student from the teacher, hidden widths scaled by f (0 < f ≤ 1), freshly initialized')
    .option('--reinit', 're-initialize the --student model before training')
    .requiredOption('--data <file>', 'training samples (.npz, .npy, .jsonl); labels are optional')
    .option('--labels <file>', 'labels .npy for .npy data')
    .option(...VOCAB_OPTION)
    .requiredOption('-o, --output <file>', 'output file (.tflite, .onnx, or model.json / a folder for TF.js)')
    .option('--format <format>', 'tflite, onnx or tfjs (default: from the output extension)')
    .option('--temperature <T>', withDefault('softmax temperature of the soft targets', D.temperature))
    .option('--alpha <a>', withDefault('weight of the soft (teacher) term; 1 − a weighs the labels (a = 1 without labels)', D.alpha))
    .option('--val <file>', 'held-out labelled data: accuracy per epoch, and teacher vs student in their runtimes')
    .option('--early-stop <n>', 'with --val: stop after n epochs without improvement and keep the best student')
    .option('--batch <n>', withDefault("batch size baked into TFLite's static shapes", EXPORT_DEFAULTS.batchSize))
    .option('--json', 'print one JSON document on stdout');
  addTrainingOptions(cmd, D).action(async (flags: DistillFlags) => {
    const result = await runDistill(flags);
    process.stdout.write(flags.json ? jsonDocument(result) : `${result.text}\n`);
  });
}

async function runDistill(flags: DistillFlags): Promise<Summary> {
  const { loadModel, detectFormat, modelFiles } = await import('../../import/index.js');
  const { stageExport, outputFormat, checkExportOptions } = await import('../../export/index.js');
  const { checkNotInput } = await import('../../export/write.js');
  const { loadDatasetFor } = await import('../../data/index.js');
  const { distillModel, resolveDistillOptions } = await import('../../distill/index.js');
  const { usageError } = await import('../../errors.js');

  // Every flag and combination, checked before anything is loaded or written.
  const format = outputFormat(flags.output, flags.format);
  const num = (flag: string, v: string | undefined): number | undefined => (v === undefined ? undefined : numberFlag(flag, v));
  const exportOptions = defined({ batchSize: num('--batch', flags.batch) });
  checkExportOptions(format, exportOptions);
  const options = defined({
    studentWidth: num('--student-width', flags.studentWidth),
    reinit: flags.reinit,
    temperature: num('--temperature', flags.temperature),
    alpha: num('--alpha', flags.alpha),
    earlyStop: num('--early-stop', flags.earlyStop),
    backend: flags.backend as 'wasm' | undefined,
  });
  const resolved = resolveDistillOptions({ ...options, training: trainingFlags(flags), data: flags.data, ...defined({ student: flags.student, val: flags.val }) });
  checkDataFlags(flags, [flags.data, flags.val]);
  requireFiles({ '--data': flags.data, '--val': flags.val, '--labels': flags.labels, '--vocab': flags.vocab });
  const training = await withCheckpointAndProgress(flags, resolved.training, { teacher: flags.teacher, student: flags.student, width: flags.studentWidth, reinit: flags.reinit, data: flags.data, temperature: resolved.temperature, alpha: resolved.alpha }, flags.json === true);

  const inputs: string[] = [];
  for (const m of [flags.teacher, flags.student]) if (m) { const s = detectFormat(m); inputs.push(...modelFiles(s.file, s.format).map((f) => f.path)); }
  checkNotInput(flags.output, inputs);
  const teacher = await loadModel(flags.teacher);
  const data = await loadDatasetFor(flags.data!, flags.teacher, { ...dataFlags(flags), graph: teacher });
  if (options.alpha !== undefined && options.alpha !== 1 && !data.y) throw usageError(`--alpha ${options.alpha} has no effect: ${flags.data} has no labels, so the teacher is the only signal (alpha 1)`);
  const r = await distillModel(teacher, {
    ...options,
    ...(flags.student ? { student: await loadModel(flags.student) } : {}),
    data,
    ...(flags.val ? { val: await loadDatasetFor(flags.val, flags.teacher, { ...dataFlags({ vocab: flags.vocab }), graph: teacher }) } : {}),
    training,
  });
  const trained = r.student;
  const history = r.history;
  const best = r.best ?? { accuracy: -1, epoch: 0 };
  const val = flags.val;
  // Written to a staging folder, measured there, and moved into place only when everything succeeded.
  const written = await stageExport(trained, format, flags.output, inputs, exportOptions);
  try {
    const evaluation = flags.val ? relabel(await runEval([flags.teacher, written.staged[0]!], { data: flags.val, ...dataFlags({ vocab: flags.vocab }), json: true }), written.files[0]!) : undefined;
    const { inspectGraph } = await import('../../report/inspect.js');
    const tParams = inspectGraph(teacher, detectFormat(flags.teacher).file).params;
    const sParams = inspectGraph(trained, written.staged[0]!).params;
    written.commit();
    const last = history[history.length - 1];
    const lines = [
      `wrote ${written.files[0]} (${format}): student ${sParams} parameters (${((100 * sParams) / tParams).toFixed(1)}% of the teacher's ${tParams}), ${history.length} epoch${history.length === 1 ? '' : 's'}${last ? `, final loss ${last.loss.toFixed(4)}` : ''}${val ? `, best val accuracy ${(100 * best.accuracy).toFixed(2)}% at epoch ${best.epoch}` : ''}`,
    ];
    if (evaluation) lines.push('', renderEval(evaluation));
    return summary({
      teacher: flags.teacher,
      output: written.files[0],
      files: written.files,
      format,
      bytes: written.bytes,
      teacherParams: tParams,
      studentParams: sParams,
      temperature: resolved.temperature,
      alpha: r.alpha,
      epochs: history,
      ...(val ? { bestEpoch: best.epoch, bestValAccuracy: best.accuracy } : {}),
      ...(evaluation ? { eval: { teacher: publicResult(evaluation[0]!), student: publicResult(evaluation[1]!) } } : {}),
    }, lines.join('\n'));
  } catch (e) {
    written.discard();
    throw e;
  }
}
