import type { Command } from 'commander';
import type { LayerError } from '../../quantize/layer-error.js';
import { significant } from '../../report/format.js';
import { colours, formatBytes, table } from '../output.js';
import { intOption, summary, type Summary } from '../args.js';
import { progress } from '../progress.js';
import { dataFlags, VOCAB_OPTION, type DataFlags } from '../data.js';
import { comparison, renderEval, runEval } from './eval.js';

interface QuantizeFlags extends DataFlags {
  output: string;
  format?: string;
  mode: string;
  calibration?: string;
  calibrationMethod: string;
  calibrationLimit: string;
  bits: string;
  granularity: string;
  blockSize: string;
  exclude: string[];
  io: string;
  perLayerReport?: boolean;
  externalData?: boolean;
  maxAccuracyDrop?: string;
  stream?: boolean;
  data?: string;
  batch: string;
  json?: boolean;
}

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .addHelpText('after', '\nExamples:\n  edgelm quantize fixtures/models/mlp -o mlp.tflite                       # int8 weights, float activations\n  edgelm quantize lm.onnx -o lm-q4.onnx --bits 4 --granularity block      # 4-bit blocks of 32 for onnxruntime\n  edgelm quantize fixtures/models/cnn -o cnn.tflite --mode int8 --calibration fixtures/data/mnist-train.npz\n  edgelm quantize model.onnx -o model-int8.onnx --mode int8 --calibration train.npz \\\n      --data test.npz --max-accuracy-drop 0.01 --per-layer-report\n')
    .description('quantize a model with min-max Q(x) and write TFLite, ONNX or TF.js: int8 weights (dynamic), full int8 with calibration, or float16')
    .argument('<model>', 'model.json (TF.js), .onnx, or a folder with a model.json')
    .requiredOption('-o, --output <file>', 'output file (.tflite, .onnx, or model.json / a folder for TF.js)')
    .option('--format <format>', 'tflite, onnx or tfjs (default: from the output extension)')
    .option('--mode <mode>', 'dynamic (int8 weights, float activations), int8 (full integer; needs --calibration) or float16', 'dynamic')
    .option('--calibration <data>', 'samples whose activation ranges set the int8 parameters (.npz, .npy, .jsonl)')
    .option('--calibration-method <method>', 'minmax, or percentile (99.99th, ignores outliers)', 'minmax')
    .option('--calibration-limit <n>', 'calibration samples used at most', '1000')
    .option('--bits <n>', 'bits of weight codes, 2 to 8', '8')
    .option('--granularity <g>', 'weight scales per tensor, channel or block; auto: per channel, TFLite fully connected per tensor as its converter does; block (ONNX, --mode dynamic): MatMul/Gemm weights as onnxruntime MatMulNBits, a scale and zero point per block (embedding tables get int8 rows)', 'auto')
    .option('--block-size <n>', 'elements per block along the reduction axis with --granularity block: a power of two ≥ 16 (32, 64, 128)', '32')
    .option('--exclude <pattern>', 'keep nodes whose name matches in float (glob with * and ?, or a substring); repeatable', collect, [])
    .option('--io <type>', 'int8 TFLite: type of the model inputs and outputs, float, int8 or uint8', 'float')
    .option('--stream', 'ONNX → ONNX dynamic: quantize one tensor at a time in bounded memory (automatic past 1 GiB)')
    .option('--external-data', 'ONNX: keep the weights in <output>.data beside the model (automatic past 2 GiB)')
    .option('--per-layer-report', 'print the error each quantized layer alone introduces (cosine, SQNR) on calibration data')
    .option('--data <file>', 'evaluation data: measure the artifact against the source in its runtime')
    .option('--max-accuracy-drop <p>', 'with --data: keep the most sensitive layers in float until the artifact is at most p (e.g. 0.01) below the source')
    .option('--labels <file>', 'labels .npy for .npy data')
    .option(...VOCAB_OPTION)
    .option('--batch <n>', 'batch size for formats with static shapes (TFLite)', '1')
    .option('--json', 'print one JSON document on stdout')
    .action(async (model: string, flags: QuantizeFlags) => {
      const summary = await runQuantize(model, flags);
      process.stdout.write(flags.json ? `${JSON.stringify(summary, null, 2)}\n` : `${summary.text}\n`);
    });
}

/** ONNX sources past this size are quantized tensor by tensor (bounded memory). */
const STREAM_BYTES = 1024 ** 3;

const formatOf = (f: string): string => (f === 'tfjs-layers' || f === 'tfjs-graph' ? 'tfjs' : f);

async function runQuantize(model: string, flags: QuantizeFlags): Promise<Summary> {
  const { loadModel, detectFormat, modelFiles } = await import('../../import/index.js');
  const { exportFiles, writeExport, outputFormat } = await import('../../export/index.js');
  const { checkNotInput } = await import('../../export/write.js');
  const { usageError } = await import('../../errors.js');
  const { QUANT_MODES } = await import('../../quantize/plan.js');

  const format = outputFormat(flags.output, flags.format);
  const mode = flags.mode as (typeof QUANT_MODES)[number];
  if (!QUANT_MODES.includes(mode)) throw usageError(`--mode: expected ${QUANT_MODES.join(', ')}, got '${flags.mode}'`);
  const bits = Number(flags.bits);
  if (!Number.isInteger(bits) || bits < 2 || bits > 8) throw usageError(`--bits: expected an integer from 2 to 8, got '${flags.bits}'`);
  if (!['auto', 'tensor', 'channel', 'block'].includes(flags.granularity)) throw usageError(`--granularity: expected auto, tensor, channel or block, got '${flags.granularity}'`);
  if (!['minmax', 'percentile'].includes(flags.calibrationMethod)) throw usageError(`--calibration-method: expected minmax or percentile, got '${flags.calibrationMethod}'`);
  if (!['float', 'int8', 'uint8'].includes(flags.io)) throw usageError(`--io: expected float, int8 or uint8, got '${flags.io}'`);
  if (flags.io !== 'float' && (mode !== 'int8' || format !== 'tflite')) throw usageError('--io int8|uint8 applies to --mode int8 TFLite files');
  if (mode === 'int8' && !flags.calibration) throw usageError('--mode int8 needs --calibration DATA: activation ranges come from running the model on real samples');
  const batch = intOption('--batch', flags.batch);
  const blockSize = intOption('--block-size', flags.blockSize);
  const calibrationLimit = intOption('--calibration-limit', flags.calibrationLimit);

  const src = detectFormat(model);
  checkNotInput(flags.output, [src.file]); // before the (possibly long) load; shards and external data after it
  const show = !flags.json && process.stderr.isTTY === true;
  // Large ONNX models (or --stream): weight-only int8, one tensor in memory at a time.
  const sourceBytes = (): number => modelFiles(src.file, src.format).reduce((s, f) => s + f.bytes, 0);
  if (src.format === 'onnx' && format === 'onnx' && mode === 'dynamic' && (flags.stream || sourceBytes() > STREAM_BYTES)) {
    if (flags.perLayerReport || flags.maxAccuracyDrop !== undefined) throw usageError('--per-layer-report and --max-accuracy-drop load the whole model; they are not available with streaming quantization');
    if (flags.granularity === 'block') throw usageError('--granularity block is not available with streaming quantization (--stream, or sources past 1 GiB); use channel or tensor');
    const { streamQuantizeOnnx } = await import('../../quantize/stream-onnx.js');
    const { defaultPlan, excludeFilter } = await import('../../quantize/plan.js');
    const r = streamQuantizeOnnx(src.file, flags.output, defaultPlan('dynamic', { bits, granularity: flags.granularity as 'auto', exclude: excludeFilter(flags.exclude) }));
    const floatBytes = sourceBytes();
    const evaluation = flags.data ? await runEval([model, r.files[0]!], { data: flags.data, ...dataFlags(flags), json: !show }) : undefined;
    const text = [`wrote ${r.files[0]} (onnx, dynamic, streamed, ${bits}-bit weights): ${formatBytes(r.bytes)}, ${((100 * r.bytes) / floatBytes).toFixed(1)}% of the source (${formatBytes(floatBytes)}); ${r.quantized} weight${r.quantized === 1 ? '' : 's'} quantized`];
    if (evaluation) text.push('', renderEval(evaluation));
    return summary({ input: src.file, output: r.files[0], files: r.files, format, mode, bits, streamed: true, bytes: r.bytes, floatBytes, sizeRatio: significant(r.bytes / floatBytes, 4), quantizedLayers: r.quantized, ...(evaluation ? { eval: comparison(evaluation) } : {}) }, text.join('\n'));
  }
  const source = await loadModel(model);
  const sourceFiles = modelFiles(src.file, src.format);
  const inputs = sourceFiles.map((f) => f.path);
  checkNotInput(flags.output, inputs);
  const calibrationSource = flags.calibration ?? flags.data;
  const { loadDatasetFor } = await import('../../data/index.js');
  const calibrationData = calibrationSource && (mode === 'int8' || flags.perLayerReport || flags.maxAccuracyDrop !== undefined) ? await loadDatasetFor(calibrationSource, model, { ...dataFlags(flags.calibration ? { vocab: flags.vocab } : flags), graph: source, fit: true }) : undefined;
  const { quantizeModel, fitAccuracy } = await import('../../quantize/index.js');
  const bar = progress('calibrate', show);
  let { graph, plan } = await quantizeModel(source, {
    mode, bits, granularity: flags.granularity as 'auto', blockSize, exclude: flags.exclude, io: flags.io as 'float',
    ...(mode === 'int8' ? { calibration: calibrationData!, calibrationMethod: flags.calibrationMethod as 'minmax', calibrationLimit } : {}),
    onProgress: (d, t) => bar.update(d, t),
  });
  bar.stop();
  let keptFloat: { node: string; sqnrDb: number; dropBefore: number }[] | undefined;
  if (flags.maxAccuracyDrop !== undefined) {
    const maxDrop = Number(flags.maxAccuracyDrop);
    if (!(maxDrop >= 0 && maxDrop < 1)) throw usageError(`--max-accuracy-drop: expected a fraction such as 0.01, got '${flags.maxAccuracyDrop}'`);
    if (!flags.data) throw usageError('--max-accuracy-drop needs --data DATA (labelled evaluation samples)');
    const { evaluate } = await import('../../report/eval.js');
    const evalData = await loadDatasetFor(flags.data, model, { ...dataFlags(flags), graph: source });
    const sourceResult = await evaluate(model, evalData, { latencyRuns: 5 });
    const fit = await fitAccuracy(graph, plan, format, evalData, sourceResult, maxDrop, { batchSize: batch, ...(calibrationData ? { calibration: calibrationData } : {}) });
    plan = fit.plan;
    keptFloat = fit.kept;
  }
  const written = await writeExport(graph, format, flags.output, inputs, { batchSize: batch, quant: plan, externalData: flags.externalData === true });
  const output = written.files[0]!;
  // The float size to compare with: the source itself when it is already in this format (writing a
  // second float copy of a large model only to measure it would double the work), else a float export.
  const floatBytes = formatOf(src.format) === format ? sourceFiles.reduce((s, f) => s + f.bytes, 0) : (await exportFiles(graph, format, flags.output, { batchSize: batch })).reduce((s, f) => s + f.bytes.length, 0);

  let perLayer: LayerError[] | undefined;
  if (flags.perLayerReport) {
    if (!calibrationData) throw usageError('--per-layer-report needs --calibration DATA or --data DATA');
    const { layerErrors } = await import('../../quantize/layer-error.js');
    perLayer = await layerErrors(graph, plan, format, calibrationData);
  }
  const evaluation = flags.data ? await runEval([model, output], { data: flags.data, ...dataFlags(flags), json: !show }) : undefined;

  const { quantizableLayers } = await import('../../quantize/layer-error.js');
  const quantized = quantizableLayers(graph, plan).length;
  const excluded = graph.nodes.filter((n) => plan.exclude(n)).map((n) => n.name);
  const lines = [`wrote ${output} (${format}, ${mode}${mode === 'float16' ? '' : `, ${bits}-bit ${flags.granularity} weights`}): ${formatBytes(written.bytes)}, ${((100 * written.bytes) / floatBytes).toFixed(1)}% of float ${format} (${formatBytes(floatBytes)}); ${quantized} layer${quantized === 1 ? '' : 's'} quantized${excluded.length ? `, kept in float: ${excluded.join(', ')}` : ''}`];
  if (keptFloat?.length) lines.push(`kept in float to meet --max-accuracy-drop: ${keptFloat.map((k) => `${k.node} (SQNR ${k.sqnrDb.toFixed(1)} dB; drop was ${(100 * k.dropBefore).toFixed(2)} points)`).join(', ')}`);
  else if (keptFloat) lines.push('--max-accuracy-drop met with every layer quantized');
  if (perLayer) lines.push('', renderLayerErrors(perLayer));
  if (evaluation) lines.push('', renderEval(evaluation));
  const { slowerThanSource } = await import('../../report/warnings.js');
  const slow = evaluation && slowerThanSource(evaluation[0]!, evaluation[1]!);
  if (slow) lines.push('', colours().yellow(`warning: ${slow}`));
  return summary({
    input: src.file,
    output,
    files: written.files,
    format,
    mode,
    bits,
    granularity: flags.granularity,
    bytes: written.bytes,
    floatBytes,
    sizeRatio: significant(written.bytes / floatBytes, 4),
    quantizedLayers: quantized,
    floatLayers: excluded,
    ...(keptFloat ? { keptFloat } : {}),
    ...(perLayer ? { perLayer: perLayer.map((l) => ({ ...l, sqnrDb: Number.isFinite(l.sqnrDb) ? l.sqnrDb : null })) } : {}),
    ...(evaluation ? { eval: comparison(evaluation) } : {}),
    ...(slow ? { warnings: [slow] } : {}),
  }, lines.join('\n'));
}

export function renderLayerErrors(rows: LayerError[]): string {
  const c = colours();
  return table(rows, [
    { header: 'layer', value: (r) => r.node },
    { header: 'op', value: (r) => r.op },
    { header: 'weights', value: (r) => String(r.params), align: 'right' },
    { header: 'cosine', value: (r) => r.cosine.toFixed(6), align: 'right' },
    { header: 'SQNR', value: (r) => (Number.isFinite(r.sqnrDb) ? `${r.sqnrDb.toFixed(1)} dB` : 'exact'), align: 'right' },
  ], c);
}
