import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

/** The package root, from dist/cli/commands/ (or src/cli/commands/ under a TS runner). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the main job on the bundled MNIST teacher: inspect it, export TFLite and ONNX, evaluate every artifact in its runtime')
    .option('-o, --out <dir>', 'where the artifacts go', 'edgelm-demo')
    .option('--json', 'print one JSON document on stdout')
    .action(async (flags: { out: string; json?: boolean }) => {
      const { loadModel } = await import('../../import/index.js');
      const { inspectGraph } = await import('../../report/inspect.js');
      const { writeExport } = await import('../../export/index.js');
      const { EdgelmError } = await import('../../errors.js');
      const { formatBytes, formatCount } = await import('../output.js');
      const { runEval, renderEval, publicResult } = await import('./eval.js');
      const teacher = join(PACKAGE_ROOT, 'fixtures', 'models', 'mlp', 'model.json');
      const data = join(PACKAGE_ROOT, 'fixtures', 'data', 'mnist-test.npz');
      if (!existsSync(teacher) || !existsSync(data)) throw new EdgelmError('input', `demo: the bundled MNIST teacher or digits are missing under ${PACKAGE_ROOT}/fixtures`);
      const log = (s: string): void => void (flags.json || process.stdout.write(`${s}\n`));

      const graph = await loadModel(teacher);
      const info = inspectGraph(graph, teacher);
      log(`teacher: ${graph.name} (${info.format}), ${formatCount(info.params)} parameters, ${formatBytes(info.fileBytes)}`);
      const artifacts: string[] = [];
      for (const format of ['tflite', 'onnx'] as const) {
        const out = join(flags.out, `teacher.${format}`);
        await writeExport(graph, format, out, [teacher]);
        artifacts.push(out);
        log(`wrote ${out}`);
      }
      log(`evaluating on ${data.split('/').slice(-1)[0]} in TF.js, LiteRT and onnxruntime …`);
      const results = await runEval([teacher, ...artifacts], { data, json: flags.json ?? false });
      if (flags.json) process.stdout.write(`${JSON.stringify({ teacher: { params: info.params, bytes: info.fileBytes }, models: results.map(publicResult) }, null, 2)}\n`);
      else log(renderEval(results));
    });
}
