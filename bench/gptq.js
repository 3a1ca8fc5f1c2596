// Figure 10: GPTQ against round-to-nearest on both trained character transformers of fixtures/lm (the
// PyTorch export, 0.4M parameters, and the TF.js-trained 4-layer teacher). `edgelm quantize
// --granularity block --method rtn|gptq` at 4 bits in blocks of 128 and 2 bits in blocks of 32, GPTQ
// calibrated on 128 windows of 64 characters of the training text; then per model `edgelm eval` of the
// float model and the four files on the held-out chapters, all in onnxruntime. Target (issue 15): GPTQ's perplexity increase over float ≤ 0.6× RTN's at 4 bits,
// ≤ 0.5× at 2 bits. GPTQ's wall time (the whole command: load, calibration, GPTQ, write) beside RTN's.
import { join } from 'node:path';
import { CLI, OUT, ROOT, cli, emit, measure, row } from './lib.js';

const LM = join(ROOT, 'fixtures', 'lm');
const train = join(LM, 'moby-train.txt');
const heldOut = join(LM, 'moby-valid.txt');
const WINDOWS = 128;
const MODELS = [
  ['char transformer LM (PyTorch, 0.4M params)', 'char-transformer'],
  ['TF.js-trained char transformer LM (4 layers)', 'tfjs-teacher'],
];
const configs = [
  { bits: 4, block: 128, target: 0.6 },
  { bits: 2, block: 32, target: 0.5 },
];

const rows = [];
for (const [label, name] of MODELS) {
  const model = join(LM, `${name}.onnx`);
  const files = [];
  const times = {};
  const reports = {};
  for (const c of configs)
    for (const method of ['rtn', 'gptq']) {
      const out = join(OUT, `${name}-${method}-${c.bits}b${c.block}.onnx`);
      const args = ['quantize', model, '-o', out, '--bits', c.bits, '--granularity', 'block', '--block-size', c.block, '--method', method, '--json'].map(String);
      if (method === 'gptq') args.push('--calibration', train, '--calibration-limit', String(WINDOWS));
      const r = await measure(process.execPath, [CLI, ...args]);
      times[`${method}${c.bits}`] = r.seconds;
      if (method === 'gptq') reports[c.bits] = JSON.parse(r.stdout).gptq;
      files.push(out);
    }
  const models = JSON.parse(cli(['eval', model, ...files, '--data', heldOut, '--json'])).models;
  const ppl = models.map((m) => m.perplexity);
  configs.forEach((c, i) => {
    const [float, rtn, g] = [ppl[0], ppl[1 + 2 * i], ppl[2 + 2 * i]];
    const ratio = (g - float) / (rtn - float);
    const report = reports[c.bits];
    const fallbacks = report.layers.filter((l) => l.method === 'rtn').length;
    rows.push(row(
      `10 GPTQ vs RTN, ${label}, ${c.bits}-bit blocks of ${c.block}: perplexity increase over float`,
      `GPTQ ${g.toFixed(3)} (+${(g - float).toFixed(3)})`,
      `RTN ${rtn.toFixed(3)} (+${(rtn - float).toFixed(3)})`,
      `${ratio.toFixed(2)}×`,
      `≤ ${c.target}× RTN's`,
      ratio <= c.target,
      `float ${float.toFixed(3)} on ${models[0].samples} held-out windows, onnxruntime; ${WINDOWS} calibration windows of training text; calibration loss ${(100 * report.lossReduction).toFixed(1)}% below RTN, ${fallbacks} of ${report.layers.length} weights fell back to RTN; GPTQ step ${report.seconds.toFixed(1)} s, whole command ${times[`gptq${c.bits}`].toFixed(1)} s (RTN ${times[`rtn${c.bits}`].toFixed(1)} s)`,
    ));
  });
}
emit(rows);
