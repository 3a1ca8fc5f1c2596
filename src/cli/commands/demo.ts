import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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
      // The bundled pipeline, with its outputs moved to --out.
      const raw = JSON.parse(readFileSync(pipelineFile, 'utf8')) as { export: { format: string; path: string }[]; report: Record<string, string> };
      const out = resolve(flags.out);
      raw.export = raw.export.map((e) => ({ ...e, path: join(out, e.path.split('/').pop()!) }));
      raw.report = Object.fromEntries(Object.entries(raw.report).map(([k, p]) => [k, join(out, p.split('/').pop()!)]));
      const pipeline = validatePipeline(raw, pipelineFile);
      const { executePipeline, renderPipeline } = await import('./run.js');
      const { isQuiet } = await import('../output.js');
      const report = await executePipeline(pipeline, { json: flags.json === true, quiet: isQuiet() });
      if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        const { relativePath } = await import('../../report/provenance.js');
        const reports = [pipeline.report.html, pipeline.report.markdown, pipeline.report.json].map((f) => relativePath(process.cwd(), f!));
        process.stdout.write(`${renderPipeline(report)}\n\nreports: ${reports.join(', ')}\n`);
      }
    });
}
