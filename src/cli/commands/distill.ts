import type { Command } from 'commander';
import { publicResult, renderEval, runEval } from './eval.js';
import { intOption, summary, type Summary } from '../args.js';
import { dataFlags, VOCAB_OPTION, type DataFlags } from '../data.js';
import { addTrainingOptions, trainingOptions, type TrainingFlags } from './training.js';

interface DistillFlags extends TrainingFlags, DataFlags {
  teacher: string;
  student?: string;
  studentWidth?: string;
  reinit?: boolean;
  output: string;
  format?: string;
  temperature: string;
  alpha: string;
  val?: string;
  earlyStop?: string;
  batch: string;
  json?: boolean;
}

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
    .option('--temperature <T>', 'softmax temperature of the soft targets', '2')
    .option('--alpha <a>', 'weight of the soft (teacher) term; 1 − a weighs the labels (a = 1 without labels)', '0.5')
    .option('--val <file>', 'held-out labelled data: accuracy per epoch, and teacher vs student in their runtimes')
    .option('--early-stop <n>', 'with --val: stop after n epochs without improvement and keep the best student')
    .option('--batch <n>', 'batch size for formats with static shapes (TFLite)', '1')
    .option('--json', 'print one JSON document on stdout');
  addTrainingOptions(cmd, { epochs: '10', lr: '0.001' }).action(async (flags: DistillFlags) => {
    const result = await runDistill(flags);
    process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${result.text}\n`);
  });
}

async function runDistill(flags: DistillFlags): Promise<Summary> {
  const { loadModel, detectFormat, modelFiles } = await import('../../import/index.js');
  const { writeExport, outputFormat } = await import('../../export/index.js');
  const { checkNotInput } = await import('../../export/write.js');
  const { usageError } = await import('../../errors.js');
  const { loadDatasetFor } = await import('../../data/index.js');

  const format = outputFormat(flags.output, flags.format);
  const batch = intOption('--batch', flags.batch);
  if (!flags.student === !flags.studentWidth) throw usageError('give exactly one of --student MODEL and --student-width F');
  const temperature = Number(flags.temperature);
  if (!(temperature > 0)) throw usageError(`--temperature: expected a positive number, got '${flags.temperature}'`);
  let alpha = Number(flags.alpha);
  if (!(alpha >= 0 && alpha <= 1)) throw usageError(`--alpha: expected a number in [0, 1], got '${flags.alpha}'`);
  const earlyStop = flags.earlyStop === undefined ? undefined : intOption('--early-stop', flags.earlyStop);
  if (earlyStop !== undefined && !flags.val) throw usageError('--early-stop needs --val DATA');
  const training = await trainingOptions(flags, { teacher: flags.teacher, student: flags.student, width: flags.studentWidth, reinit: flags.reinit, data: flags.data, temperature, alpha }, flags.json === true);

  const inputs: string[] = [];
  for (const m of [flags.teacher, flags.student]) if (m) { const s = detectFormat(m); inputs.push(...modelFiles(s.file, s.format).map((f) => f.path)); }
  checkNotInput(flags.output, inputs);
  const teacher = await loadModel(flags.teacher);
  const { distillModel } = await import('../../distill/index.js');
  const r = await distillModel(teacher, {
    ...(flags.student ? { student: await loadModel(flags.student) } : { studentWidth: Number(flags.studentWidth) }),
    reinit: flags.reinit === true,
    data: await loadDatasetFor(flags.data!, flags.teacher, { ...dataFlags(flags), graph: teacher }),
    ...(flags.val ? { val: await loadDatasetFor(flags.val, flags.teacher, { ...dataFlags({ vocab: flags.vocab }), graph: teacher }) } : {}),
    temperature,
    alpha,
    ...(earlyStop !== undefined ? { earlyStop } : {}),
    training,
    backend: training.backend as never,
  });
  const trained = r.student;
  const history = r.history;
  const best = r.best ?? { accuracy: -1, epoch: 0 };
  const val = flags.val;
  alpha = r.alpha;
  const written = await writeExport(trained, format, flags.output, inputs, { batchSize: batch });
  const evaluation = flags.val ? await runEval([flags.teacher, written.files[0]!], { data: flags.val, ...dataFlags({ vocab: flags.vocab }), json: true }) : undefined;
  const { inspectGraph } = await import('../../report/inspect.js');
  const tParams = inspectGraph(teacher, detectFormat(flags.teacher).file).params;
  const sParams = inspectGraph(trained, written.files[0]!).params;
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
    temperature,
    alpha,
    epochs: history,
    ...(val ? { bestEpoch: best.epoch, bestValAccuracy: best.accuracy } : {}),
    ...(evaluation ? { eval: { teacher: publicResult(evaluation[0]!), student: publicResult(evaluation[1]!) } } : {}),
  }, lines.join('\n'));
}
