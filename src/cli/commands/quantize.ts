import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Node } from '../../ir/graph.js';
import type { LayerError } from '../../quantize/layer-error.js';
import type { KeptFloat } from '../../quantize/index.js';
import type { GptqReport } from '../../quantize/gptq-layers.js';
import type { AwqReport } from '../../quantize/awq-layers.js';
import type { MixedReport } from '../../quantize/mixed.js';
import { EXPORT_DEFAULTS, QUANTIZE_DEFAULTS } from '../../defaults.js';
import type { EvalResult } from '../../report/eval.js';
import { colours, formatBytes, jsonDocument, table } from '../output.js';
import { collect, defined, inputFixes, numberFlag, requireFlags, summary, withDefault, type Summary } from '../args.js';
import { progress } from '../progress.js';
import { checkDataFlags, dataFlags, requireFiles, VOCAB_OPTION, type DataFlags } from '../data.js';
import { comparison, relabel, renderEval, runEval } from './eval.js';

interface QuantizeFlags extends DataFlags {
  output?: string;
  format?: string;
  mode?: string;
  calibration?: string;
  calibrationMethod?: string;
  calibrationLimit?: string;
  method?: string;
  int8Only?: boolean;
  damp?: string;
  actOrder?: boolean;
  targetBits?: string;
  lowBitHead?: boolean;
  shape: string[];
  inputValue: string[];
  bits?: string;
  granularity?: string;
  blockSize?: string;
  exclude: string[];
  io?: string;
  perLayerReport?: boolean;
  externalData?: boolean;
  maxAccuracyDrop?: string;
  stream?: boolean;
  data?: string;
  batch?: string;
  json?: boolean;
}

const D = QUANTIZE_DEFAULTS;

export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .addHelpText('after', '\nExamples:\n  edgelm quantize fixtures/models/mlp -o mlp.tflite                       # int8 weights, float activations\n  edgelm quantize lm.onnx -o lm-q4.onnx --bits 4 --granularity block      # 4-bit blocks of 32 for onnxruntime\n  edgelm quantize fixtures/models/cnn -o cnn.tflite --mode int8 --calibration fixtures/data/mnist-train.npz\n  edgelm quantize model.onnx -o model-int8.onnx --mode int8 --calibration train.npz \\\n      --data test.npz --max-accuracy-drop 0.01 --per-layer-report\n')
    .description('quantize a model with min-max Q(x) and write TFLite, ONNX or TF.js: int8 weights (dynamic), full int8 with calibration, or float16')
    .argument('<model>', 'model.json (TF.js), .onnx, or a folder with a model.json')
    .option('-o, --output <file>', 'output file (.tflite, .onnx, or model.json / a folder for TF.js); required')
    .option('--format <format>', 'tflite, onnx or tfjs (default: from the output extension)')
    .option('--mode <mode>', withDefault('dynamic (int8 weights, float activations), int8 (full integer; needs --calibration) or float16', D.mode))
    .option('--calibration <data>', 'samples whose activation ranges set the int8 parameters, or that --method gptq|awq fits to (.npz, .npy, .jsonl; .txt text for language models)')
    .option('--calibration-method <method>', withDefault('--mode int8: minmax, or percentile (99.99th, ignores outliers)', D.calibrationMethod))
    .option('--calibration-limit <n>', withDefault('--mode int8 or --method gptq|awq: calibration samples used at most', D.calibrationLimit))
    .option('--method <m>', withDefault('block weights (--granularity block): rtn (round to nearest), gptq (GPTQ: each layer\'s rounding error spread over its other inputs) or awq (AWQ: input channels scaled by their mean activation^α before rounding, the inverse folded into the norm or layer before), fitted on --calibration data (text with --vocab for language models)', D.method))
    .option('--damp <f>', withDefault('--method gptq: damping added to the Hessian\'s diagonal, as a fraction of its mean', D.damp))
    .option('--act-order', '--method gptq: quantize input columns by decreasing activation energy')
    .option('--target-bits <b>', 'block weights: average stored bits per weight (scales and zero points counted), e.g. 4.5; the weights whose --bits codes move the next-token distribution most (KL divergence on --calibration text) stay at 8 bits')
    .option('--low-bit-head', '--target-bits: let the LM head go to --bits too (it stays 8-bit by default)')
    .option('--bits <n>', withDefault('bits of weight codes, 2 to 8 (TFLite and ONNX; TF.js stores 8)', D.bits))
    .option('--granularity <g>', withDefault('weight scales per tensor, channel or block; auto: per channel, TFLite fully connected per tensor as its converter does; block (ONNX, --mode dynamic): MatMul/Gemm weights as onnxruntime MatMulNBits, a scale and zero point per block (embedding tables get int8 rows)', D.granularity))
    .option('--block-size <n>', withDefault('elements per block along the reduction axis with --granularity block: a power of two from 16 to 256', D.blockSize))
    .option('--exclude <pattern>', 'keep nodes whose name matches in float (glob with * and ?, or a substring); repeatable; each must match a node', collect, [])
    .option('--int8-only', 'int8 TFLite: fail, naming them, when ops would run in float between DEQUANTIZE and QUANTIZE (as the TFLite converter\'s TFLITE_BUILTINS_INT8)')
    .option('--io <type>', withDefault('int8 TFLite: type of the model inputs and outputs, float, int8 or uint8 (int8 files cannot be measured with --data: LiteRT\'s JS API has no int8 tensors)', D.io))
    .option('--stream', 'ONNX → ONNX dynamic: quantize one tensor at a time in bounded memory (automatic past 1 GiB)')
    .option('--external-data', 'ONNX: keep the weights in <output>.data beside the model (automatic past 2 GiB)')
    .option('--per-layer-report', 'print the error each quantized layer alone introduces (cosine, SQNR) on --calibration (or --data) samples')
    .option('--data <file>', 'evaluation data: measure the artifact against the source in its runtime')
    .option('--max-accuracy-drop <p>', 'with --data: keep the most sensitive layers in float until the artifact is at most p (e.g. 0.01) below the source')
    .option('--labels <file>', 'labels .npy for .npy data')
    .option(...VOCAB_OPTION)
    .option('--batch <n>', withDefault('batch size baked into TFLite\'s static shapes', EXPORT_DEFAULTS.batchSize))
    .option('--shape <name=dims>', 'fix an input\'s run-time dims, e.g. input_ids=1x128 (repeatable; ONNX sources at import, others for TFLite)', collect, [])
    .option('--input-value <name=values>', 'ONNX sources: replace an input by a constant, e.g. sr=16000 (repeatable); what depends on it folds', collect, [])
    .option('--json', 'print one JSON document on stdout')
    .action(async (model: string, flags: QuantizeFlags) => {
      const summary = await runQuantize(model, flags);
      process.stdout.write(flags.json ? jsonDocument(summary) : `${summary.text}\n`);
    });
}

/** ONNX sources past this size are quantized tensor by tensor (bounded memory). */
const STREAM_BYTES = 1024 ** 3;

const formatOf = (f: string): string => (f === 'tfjs-layers' || f === 'tfjs-graph' ? 'tfjs' : f);

/** Every flag and combination, checked before anything is loaded or written. */
async function checkFlags(model: string, flags: QuantizeFlags) {
  const { outputFormat, checkExportOptions } = await import('../../export/index.js');
  const { resolveQuantizeOptions, checkQuantTarget } = await import('../../quantize/options.js');
  const { usageError } = await import('../../errors.js');
  const { detectFormat } = await import('../../import/index.js');
  requireFlags(flags, [['output', '-o, --output <file>']]);
  const output = flags.output!;
  const format = outputFormat(output, flags.format);
  const num = (flag: string, v: string | undefined): number | undefined => (v === undefined ? undefined : numberFlag(flag, v));
  const q = resolveQuantizeOptions(defined({
    mode: flags.mode as 'dynamic' | undefined,
    bits: num('--bits', flags.bits),
    granularity: flags.granularity as 'auto' | undefined,
    blockSize: num('--block-size', flags.blockSize),
    exclude: flags.exclude,
    io: flags.io as 'float' | undefined,
    int8Only: flags.int8Only,
    calibration: flags.calibration,
    calibrationMethod: flags.calibrationMethod as 'minmax' | undefined,
    calibrationLimit: num('--calibration-limit', flags.calibrationLimit),
    method: flags.method as 'rtn' | undefined,
    damp: num('--damp', flags.damp),
    actOrder: flags.actOrder,
    targetBits: num('--target-bits', flags.targetBits),
    lowBitHead: flags.lowBitHead,
  }));
  checkQuantTarget(q, format);
  const src = detectFormat(model);
  const { fixed, exportShapes } = inputFixes(src.format, flags.shape, flags.inputValue);
  const exportOptions = defined({ batchSize: num('--batch', flags.batch), shapes: exportShapes, externalData: flags.externalData === true ? true : undefined });
  checkExportOptions(format, exportOptions);
  if (fixed && flags.data) throw usageError('--data measures the artifact against the source, whose inputs --shape/--input-value changed', `write the fixed source first (edgelm export ${model} -o fixed.onnx ${[...flags.shape.map((v) => `--shape ${v}`), ...flags.inputValue.map((v) => `--input-value ${v}`)].join(' ')}) and quantize that`);
  const maxDrop = num('--max-accuracy-drop', flags.maxAccuracyDrop);
  if (maxDrop !== undefined && !(maxDrop >= 0 && maxDrop < 1)) throw usageError(`--max-accuracy-drop: expected a fraction such as 0.01, got '${flags.maxAccuracyDrop}'`);
  if (maxDrop !== undefined && !flags.data) throw usageError('--max-accuracy-drop needs --data DATA (labelled evaluation samples)');
  if (flags.perLayerReport && !flags.calibration && !flags.data) throw usageError('--per-layer-report needs --calibration DATA or --data DATA');
  if (flags.data && q.io === 'int8') throw usageError("--data cannot measure a --io int8 file: LiteRT's JS API passes no int8 tensors in or out", 'measure the same quantization written with --io float or uint8, whose integer kernels are the same');
  if (flags.calibration && q.mode !== 'int8' && q.method === 'rtn' && q.targetBits === undefined && !flags.perLayerReport && maxDrop === undefined) throw usageError(`--calibration has no effect with --mode ${q.mode}: it calibrates --mode int8 (and feeds --per-layer-report and --max-accuracy-drop)`);
  checkDataFlags(flags, [flags.calibration, flags.data]);
  requireFiles({ '--calibration': flags.calibration, '--data': flags.data, '--labels': flags.labels, '--vocab': flags.vocab });
  // Fixed inputs need the IR: the in-place and streaming rewriters keep the graph as it is.
  const streamable = !fixed && src.format === 'onnx' && format === 'onnx' && (q.mode === 'dynamic' || q.mode === 'int8');
  if (flags.stream && !streamable) throw usageError(`--stream applies to ONNX → ONNX with --mode dynamic or int8${fixed ? ', without --shape or --input-value' : ''}`);
  const { modelFiles } = await import('../../import/index.js');
  const sourceBytes = modelFiles(src.file, src.format).reduce((s, f) => s + f.bytes, 0);
  const stream = streamable && (flags.stream === true || sourceBytes > STREAM_BYTES);
  if (stream && q.method !== 'rtn') throw usageError(`--method ${q.method} runs the whole model on the calibration data; it is not available with streaming quantization (--stream, or ONNX sources past 1 GiB)`);
  if (stream && q.targetBits !== undefined) throw usageError('--target-bits measures the whole model on the calibration data; it is not available with streaming quantization (--stream, or ONNX sources past 1 GiB)');
  if (stream && (flags.perLayerReport || maxDrop !== undefined)) throw usageError('--per-layer-report and --max-accuracy-drop load the whole model; they are not available with streaming quantization (--stream, or ONNX sources past 1 GiB)');
  return { output, format, q, exportOptions, maxDrop, src, sourceBytes, stream, streamable, fixed };
}

async function runQuantize(model: string, flags: QuantizeFlags): Promise<Summary> {
  const { loadModel, modelFiles } = await import('../../import/index.js');
  const { exportFiles, stageExport } = await import('../../export/index.js');
  const { checkNotInput, staging } = await import('../../export/write.js');
  const { output, format, q, exportOptions, maxDrop, src, sourceBytes, stream, streamable, fixed } = await checkFlags(model, flags);
  const { bits, mode } = q;
  checkNotInput(output, [src.file]); // before the (possibly long) load; shards and external data after it
  const show = !flags.json && process.stderr.isTTY === true;
  const measure = (staged: string, final: string): Promise<EvalResult[]> => runEval([model, staged], { data: flags.data!, ...dataFlags(flags), json: !show }).then((r) => relabel(r, final));

  // ONNX → ONNX through the rewriter, which keeps every node it does not quantize: for large models
  // (or --stream), one tensor in memory at a time, and for models with ops edgelm's IR does not read.
  let passThrough: string | undefined;
  let loaded: Awaited<ReturnType<typeof loadModel>> | undefined; // read once: reading a large model costs seconds
  if (!stream && streamable && !flags.perLayerReport && maxDrop === undefined && q.method === 'rtn' && q.targetBits === undefined) {
    const { EdgelmError } = await import('../../errors.js');
    try {
      loaded = await loadModel(model);
    } catch (e) {
      if (!(e instanceof EdgelmError) || e.code !== 'unsupported') throw e;
      passThrough = e.message.replace(/ \(supported: .*\)$/, '');
    }
  }
  if (stream || passThrough) {
    const { rewriteOnnx } = await import('../../quantize/stream-onnx.js');
    const { defaultPlan, excludeFilter } = await import('../../quantize/plan.js');
    const { usageError } = await import('../../errors.js');
    // The graph is never loaded whole: exclude patterns are checked against the layers the quantizer asks about.
    const matched = new Set<string>();
    const filters = q.exclude.map((p) => [p, excludeFilter([p])] as const);
    const exclude = (n: Node): boolean => filters.reduce((hit, [p, f]) => (f(n) ? (matched.add(p), true) : hit), false);
    const st = staging(dirname(resolve(output)));
    try {
      const { loadDataset } = await import('../../data/index.js');
      // Samples as stored; the calibration runner shapes them to the model's input.
      const calibration = mode === 'int8' ? await loadDataset(flags.calibration!) : undefined;
      const plan = defaultPlan(mode, { bits, granularity: q.granularity, blockSize: q.blockSize, exclude });
      const r = await rewriteOnnx(src.file, st.path(output), plan, { ...(calibration ? { calibration, calibrationLimit: q.calibrationLimit } : {}) });
      const unmatched = q.exclude.find((p) => !matched.has(p));
      if (unmatched !== undefined) throw usageError(`--exclude '${unmatched}' matches no weight layer of ${src.file}`, 'edgelm inspect lists every node');
      const finals = r.files.map((f) => join(dirname(resolve(output)), basename(f)));
      const evaluation = flags.data ? await measure(r.files[0]!, output) : undefined;
      st.commit([...finals.slice(1), finals[0]!]);
      const files = [output, ...finals.slice(1)];
      const kept = Object.entries(r.keptNodes).map(([op, n]) => `${op} ${n}`).join(', ');
      const how = passThrough ? 'rewritten in place' : 'streamed';
      const text = [
        ...(passThrough ? [`note: ${passThrough}; quantizing the ONNX file in place instead, every other node kept as it is`] : []),
        `wrote ${output} (onnx, ${mode}, ${how}, ${bits}-bit ${q.granularity} weights): ${formatBytes(r.bytes)}, ${((100 * r.bytes) / sourceBytes).toFixed(1)}% of the source (${formatBytes(sourceBytes)}); ${r.quantized} weight${r.quantized === 1 ? '' : 's'} quantized`,
        `nodes kept as the source has them: ${kept || 'none'}`,
        ...(r.subgraphWeightsKept ? [`kept float: ${r.subgraphWeightsKept} MatMul/Gemm/Conv node${r.subgraphWeightsKept === 1 ? '' : 's'} inside If/Loop/Scan bodies (int8 calibration observes the main graph only; --mode dynamic quantizes them)`] : []),
      ];
      if (evaluation) text.push('', renderEval(evaluation));
      return summary({ input: src.file, output, files, format, mode, bits, streamed: true, ...(passThrough ? { passedThrough: true } : {}), keptNodes: r.keptNodes, bytes: r.bytes, floatBytes: sourceBytes, sizeRatio: r.bytes / sourceBytes, quantizedLayers: r.quantized, ...(evaluation ? { eval: comparison(evaluation) } : {}) }, text.join('\n'));
    } catch (e) {
      st.discard();
      throw e;
    }
  }
  const source = loaded ?? (await loadModel(model, fixed));
  const sourceFiles = modelFiles(src.file, src.format);
  const inputs = sourceFiles.map((f) => f.path);
  checkNotInput(output, inputs);
  const calibrationSource = flags.calibration ?? flags.data;
  const { loadDatasetFor } = await import('../../data/index.js');
  const calibrationData = calibrationSource && (mode === 'int8' || q.method !== 'rtn' || q.targetBits !== undefined || flags.perLayerReport || maxDrop !== undefined) ? await loadDatasetFor(calibrationSource, model, { ...dataFlags(flags.calibration ? { vocab: flags.vocab } : flags), graph: source, fit: true }) : undefined;
  const { quantizeModel, fitAccuracy } = await import('../../quantize/index.js');
  const bar = progress('calibrate', show);
  let { graph, plan, gptq, awq, mixed } = await quantizeModel(source, {
    mode, bits, granularity: q.granularity, blockSize: q.blockSize, exclude: q.exclude, io: q.io, int8Only: q.int8Only,
    ...(mode === 'int8' ? { calibration: calibrationData!, calibrationMethod: q.calibrationMethod, calibrationLimit: q.calibrationLimit } : {}),
    ...(q.method === 'gptq' ? { method: q.method, calibration: calibrationData!, calibrationLimit: q.calibrationLimit, damp: q.damp, actOrder: q.actOrder } : {}),
    ...(q.method === 'awq' ? { method: q.method, calibration: calibrationData!, calibrationLimit: q.calibrationLimit } : {}),
    ...(q.targetBits !== undefined ? { targetBits: q.targetBits, lowBitHead: q.lowBitHead, calibration: calibrationData!, calibrationLimit: q.calibrationLimit } : {}),
    onProgress: (d, t) => bar.update(d, t),
  });
  bar.stop();
  let keptFloat: KeptFloat[] | undefined;
  if (maxDrop !== undefined) {
    const { evaluate } = await import('../../report/eval.js');
    const evalData = await loadDatasetFor(flags.data!, model, { ...dataFlags(flags), graph: source });
    const sourceResult = await evaluate(model, evalData, { latencyRuns: 5 });
    const fit = await fitAccuracy(graph, plan, format, evalData, sourceResult, maxDrop, { batchSize: exportOptions.batchSize ?? 1, ...(calibrationData ? { calibration: calibrationData } : {}) });
    plan = fit.plan;
    keptFloat = fit.kept;
  }
  // Written to a staging folder, measured there, and moved into place only when everything succeeded.
  const written = await stageExport(graph, format, output, inputs, { ...exportOptions, quant: plan });
  try {
    // The float size to compare with: the source itself when it is already in this format (writing a
    // second float copy of a large model only to measure it would double the work), else a float export.
    const floatBytes = formatOf(src.format) === format ? sourceFiles.reduce((s, f) => s + f.bytes, 0) : (await exportFiles(graph, format, output, defined({ batchSize: exportOptions.batchSize }))).reduce((s, f) => s + f.bytes.length, 0);
    const { layerErrors, outlierWarning, quantizableLayers } = await import('../../quantize/layer-error.js');
    const perLayer = flags.perLayerReport ? await layerErrors(graph, plan, format, calibrationData!) : undefined;
    const evaluation = flags.data ? await measure(written.staged[0]!, written.files[0]!) : undefined;
    written.commit();

    const quantized = quantizableLayers(graph, plan).length;
    const excluded = graph.nodes.filter((n) => plan.exclude(n)).map((n) => n.name);
    const lines = [`wrote ${output} (${format}, ${mode}${mode === 'float16' ? '' : `, ${bits}-bit ${q.granularity} weights`}): ${formatBytes(written.bytes)}, ${((100 * written.bytes) / floatBytes).toFixed(1)}% of float ${format} (${formatBytes(floatBytes)}); ${quantized} layer${quantized === 1 ? '' : 's'} quantized${excluded.length ? `, kept in float: ${excluded.join(', ')}` : ''}`];
    if (mixed) lines.push(renderMixed(mixed));
    if (gptq) lines.push(renderGptq(gptq));
    if (awq) lines.push(renderAwq(awq));
    // Measured (docs/benchmarks.md, figure 11): LiteRT's XNNPACK does not fold DEQUANTIZE(float16), so
    // every convolution then runs outside XNNPACK, 4–20× slower than float.
    if (format === 'tflite' && mode === 'float16') lines.push('note: LiteRT runs float16 weights slower than float32 (its XNNPACK does not fold float16 DEQUANTIZE); --mode dynamic is as fast as float at a quarter of its size');
    if (keptFloat?.length) lines.push(`kept in float to meet --max-accuracy-drop: ${keptFloat.map((k) => `${k.node} (SQNR ${k.sqnrDb.toFixed(1)} dB${k.outlier ? ', an outlier' : ''}; drop was ${(100 * k.dropBefore).toFixed(2)} points)`).join(', ')}`);
    else if (keptFloat) lines.push('--max-accuracy-drop met with every layer quantized');
    if (perLayer) lines.push('', renderLayerErrors(perLayer));
    const outliers = perLayer && outlierWarning(perLayer);
    if (outliers) lines.push(colours().yellow(`warning: ${outliers}`));
    if (evaluation) lines.push('', renderEval(evaluation));
    const { slowerThanSource } = await import('../../report/warnings.js');
    const slow = evaluation && slowerThanSource(evaluation[0]!, evaluation[1]!);
    if (slow) lines.push('', colours().yellow(`warning: ${slow}`));
    return summary({
      input: src.file,
      output: written.files[0],
      files: written.files,
      format,
      mode,
      ...(mode === 'float16' ? {} : { bits, granularity: q.granularity }),
      ...(q.granularity === 'block' ? { method: q.method } : {}),
      ...(gptq ? { gptq } : {}),
      ...(awq ? { awq } : {}),
      ...(mixed ? { mixed } : {}),
      bytes: written.bytes,
      floatBytes,
      sizeRatio: written.bytes / floatBytes,
      quantizedLayers: quantized,
      floatLayers: excluded,
      ...(keptFloat ? { keptFloat } : {}),
      ...(perLayer ? { perLayer: perLayer.map((l) => ({ ...l, sqnrDb: Number.isFinite(l.sqnrDb) ? l.sqnrDb : null })) } : {}),
      ...(evaluation ? { eval: comparison(evaluation) } : {}),
      ...(slow ? { warnings: [slow] } : {}),
    }, lines.join('\n'));
  } catch (e) {
    written.discard();
    throw e;
  }
}

/** Mixed precision's outcome: the average reached and each weight kept at 8 bits, with why. */
function renderMixed(r: MixedReport): string {
  const high = r.layers.filter((l) => l.bits === 8);
  const head = `mixed precision (${r.samples} calibration windows, ${r.seconds.toFixed(1)} s): ${r.averageBits.toFixed(3)} bits per weight for a target of ${r.targetBits} (every weight low ${r.lowestBits.toFixed(3)}, all 8-bit ${r.highestBits.toFixed(3)}); ${high.length} of ${r.layers.length} weights at 8 bits`;
  return [head, ...high.map((l) => `  ${l.weight} (${l.nodes.join(', ')}): ${l.reason === 'head' ? 'the LM head' : `KL ${l.kld!.toPrecision(3)} alone at low bits`}`)].join('\n');
}

/** GPTQ's outcome: the calibration loss against round-to-nearest, and the layers that kept RTN and why. */
function renderGptq(r: GptqReport): string {
  const kept = r.layers.filter((l) => l.method === 'rtn');
  const used = r.layers.length - kept.length;
  const head = `GPTQ (damp ${r.damp}${r.actOrder ? ', act-order' : ''}, ${r.samples} calibration samples, ${r.seconds.toFixed(1)} s): ${used} of ${r.layers.length} weights; calibration loss ${(100 * r.lossReduction).toFixed(1)}% below round-to-nearest`;
  return [head, ...kept.map((l) => `  ${l.weight} (${l.nodes.join(', ')}) kept round-to-nearest: ${l.fallback}`)].join('\n');
}

/** AWQ's outcome: the calibration loss against round-to-nearest, each weight's α, fold and clipping, and the weights that kept RTN and why. */
function renderAwq(r: AwqReport): string {
  const used = r.layers.filter((l) => l.method === 'awq');
  const head = `AWQ (${r.samples} calibration samples, ${r.seconds.toFixed(1)} s): ${used.length} of ${r.layers.length} weights; calibration loss ${(100 * r.lossReduction).toFixed(1)}% below round-to-nearest`;
  const clip = (l: AwqReport['layers'][number]): string => (l.clippedBlocks ? `, ${l.clippedBlocks} of ${l.blocks} blocks clipped` : '');
  return [
    head,
    ...r.layers.map((l) => `  ${l.weight} (${l.nodes.join(', ')}): ${l.method === 'rtn' ? `kept round-to-nearest: ${l.fallback}` : l.foldedInto ? `α ${l.alpha.toFixed(2)}, scales folded into ${l.foldedInto}${clip(l)}` : `clipping only${clip(l)}; not scaled: ${l.unscaled}`}`),
  ].join('\n');
}

export function renderLayerErrors(rows: LayerError[]): string {
  const c = colours();
  return table(rows, [
    { header: 'layer', value: (r) => r.node },
    { header: 'op', value: (r) => r.op },
    { header: 'weights', value: (r) => String(r.params), align: 'right' },
    { header: 'cosine', value: (r) => r.cosine.toFixed(6), align: 'right' },
    { header: 'SQNR', value: (r) => (Number.isFinite(r.sqnrDb) ? `${r.sqnrDb.toFixed(1)} dB` : 'exact'), align: 'right' },
    ...(rows.some((r) => r.outlier) ? [{ header: '', value: (r: LayerError) => (r.outlier ? 'outlier' : '') }] : []),
  ], c);
}
