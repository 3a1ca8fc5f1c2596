import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';

/** The package root, from dist/cli/commands/ (or src/cli/commands/ under a TS runner). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .addHelpText('after', '\nExample:\n  npx edgelm demo            # artifacts and reports in ./edgelm-demo/\n')
    .description('the main job on the bundled MNIST teacher: prune, distill, quantize to int8, export TFLite and ONNX, measure each in its runtime, write reports')
    .option('-o, --out <dir>', 'where the artifacts and reports go', 'edgelm-demo')
    .option('--json', 'print the report document on stdout')
    .action(async (flags: { out: string; json?: boolean }) => {
      const { EdgelmError } = await import('../../errors.js');
      const { validatePipeline } = await import('../../pipeline/config.js');
      const pipelineFile = join(PACKAGE_ROOT, 'fixtures', 'pipelines', 'demo.json');
      if (!existsSync(pipelineFile)) throw new EdgelmError('input', `demo: the bundled pipeline is missing: ${pipelineFile}`);
      // The bundled pipeline moved into --out: its inputs relative to there, its outputs beside it. The
      // report's paths are then relative to --out, and the copy written there reruns with `edgelm run`.
      type Raw = { model: string; data: Record<string, string>; export: { format: string; path: string }[]; report: Record<string, string> };
      const raw = JSON.parse(readFileSync(pipelineFile, 'utf8')) as Raw;
      const out = resolve(flags.out);
      const moved = (p: string): string => relative(out, resolve(dirname(pipelineFile), p)).split(sep).join('/');
      raw.model = moved(raw.model);
      raw.data = Object.fromEntries(Object.entries(raw.data).map(([k, p]) => [k, moved(p)]));
      raw.export = raw.export.map((e) => ({ ...e, path: basename(e.path) }));
      raw.report = Object.fromEntries(Object.entries(raw.report).map(([k, p]) => [k, basename(p)]));
      const copy = join(out, 'pipeline.json');
      const pipeline = validatePipeline(raw, copy);
      const { executePipeline, renderPipeline } = await import('./run.js');
      const { isQuiet, jsonDocument } = await import('../output.js');
      const report = await executePipeline(pipeline, { json: flags.json === true, quiet: isQuiet() });
      const { writeAtomic } = await import('../../export/write.js');
      writeAtomic(copy, `${JSON.stringify(raw, null, 2)}\n`);
      if (flags.json) process.stdout.write(jsonDocument(report));
      else {
        const { relativePath } = await import('../../report/provenance.js');
        const shown = (f: string): string => relativePath(process.cwd(), f);
        const reports = [pipeline.report.html, pipeline.report.markdown, pipeline.report.json].map((f) => shown(f!));
        process.stdout.write(`${renderPipeline(report)}\n\nreports: ${reports.join(', ')}\npipeline: ${shown(copy)} (edit it and rerun with edgelm run)\n`);
      }
    });
}
