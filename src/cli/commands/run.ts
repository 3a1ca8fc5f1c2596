import type { Command } from 'commander';
import type { Pipeline } from '../../pipeline/config.js';
import type { PipelineReport } from '../../pipeline/index.js';
import { variantColumns } from '../../report/render.js';
import { colours, isQuiet, jsonDocument, table } from '../output.js';
import { trainingProgress } from './training.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a pipeline file: steps (prune, distill, quantize), exports measured in their runtimes, reports, quality gates (exit 3 when one is missed)')
    .argument('<pipeline>', 'pipeline .json or .yaml; paths inside are relative to it')
    .option('--json', 'print the report document on stdout')
    .addHelpText('after', '\nExample (from the repository root):\n  edgelm run examples/ci/pipeline.json --json > report.json\n')
    .action(async (file: string, flags: { json?: boolean }) => {
      const report = await runPipelineFile(file, { json: flags.json === true, quiet: isQuiet() });
      if (flags.json) process.stdout.write(jsonDocument(report));
      else process.stdout.write(`${renderPipeline(report)}\n`);
      const failed = report.gates.filter((g) => !g.passed);
      if (failed.length) {
        const { EdgelmError } = await import('../../errors.js');
        const what = failed.map((g) => `${g.gate} measured ${fmtGate(g.gate, g.value)}, limit ${fmtGate(g.gate, g.limit)}`).join('; ');
        throw new EdgelmError('gate', `quality gate missed: ${what}`);
      }
    });
}

const fmtGate = (gate: string, v: number): string => (gate === 'maxSizeBytes' ? `${v} bytes` : gate === 'maxLatencyMs' ? `${v.toFixed(3)} ms` : v.toFixed(4));

export async function runPipelineFile(file: string, opts: { json: boolean; quiet: boolean }): Promise<PipelineReport> {
  const { loadPipeline } = await import('../../pipeline/config.js');
  return executePipeline(loadPipeline(file), opts);
}

/** Runs a validated pipeline with logs on stderr (unless --json or --quiet) and writes its reports. */
export async function executePipeline(pipeline: Pipeline, opts: { json: boolean; quiet: boolean }): Promise<PipelineReport> {
  const { runPipeline } = await import('../../pipeline/index.js');
  const { renderHtml, renderMarkdown } = await import('../../report/render.js');
  const { writeAtomic } = await import('../../export/write.js');
  const log = opts.json || opts.quiet ? undefined : (line: string): void => void process.stderr.write(`${line}\n`);
  // Per-epoch progress of training steps, as prune and distill show it.
  const command = ['edgelm', ...process.argv.slice(2)].join(' ');
  const report = await runPipeline(pipeline, { ...(log ? { log, trainingProgress: (epochs: number) => trainingProgress(epochs, { json: false }) } : {}), command });
  if (!opts.quiet) for (const w of report.warnings) process.stderr.write(`edgelm: warning: ${w}\n`);
  // Reports are written before gates are judged: a failing CI job still has them to show.
  if (pipeline.report.json) writeAtomic(pipeline.report.json, jsonDocument(report));
  if (pipeline.report.markdown) writeAtomic(pipeline.report.markdown, renderMarkdown(report));
  if (pipeline.report.html) writeAtomic(pipeline.report.html, renderHtml(report));
  return report;
}

export function renderPipeline(r: PipelineReport): string {
  const c = colours();
  const pct = (v: number | undefined): string => (v === undefined ? '—' : `${(100 * v).toFixed(2)}%`);
  const lines = [
    table(r.variants, variantColumns(r.variants), c),
  ];
  if (r.gates.length) lines.push('', ...r.gates.map((g) => `${g.passed ? c.green('pass') : c.red('FAIL')}  ${g.gate}: ${fmtGate(g.gate, g.value)} (limit ${fmtGate(g.gate, g.limit)})`));
  return lines.join('\n');
}
