// The CLI's single entry: parses arguments, runs a command, and is the one place that turns errors
// into messages and exit codes (0 ok, 1 bug, 2 usage/input, 3 quality gate missed).
import { rmSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { pendingTempFiles } from '../export/write.js';
import { EdgelmError, exitCodeOf } from '../errors.js';
import { oneLine, setQuiet } from './output.js';
import { stopProgress } from './progress.js';
import { VERSION } from '../version.js';
import { registerDemo } from './commands/demo.js';
import { registerEval } from './commands/eval.js';
import { registerExport } from './commands/export.js';
import { registerInspect } from './commands/inspect.js';
import { registerQuantize } from './commands/quantize.js';
import { registerPrune } from './commands/prune.js';
import { registerDistill } from './commands/distill.js';
import { registerRun } from './commands/run.js';
import { registerDoctor } from './commands/doctor.js';

export function buildProgram(): Command {
  const program = new Command('edgelm')
    .description('Make neural networks small enough for edge devices: quantize, prune, distill; export TFLite and ONNX.')
    .version(VERSION, '-v, --version')
    .option('--debug', 'print stack traces of errors')
    .option('-q, --quiet', 'print nothing but errors (and --json documents)')
    .exitOverride()
    // Commander's own errors are printed by reportError, one line like edgelm's.
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => {} });
  registerInspect(program);
  registerQuantize(program);
  registerPrune(program);
  registerDistill(program);
  registerExport(program);
  registerEval(program);
  registerRun(program);
  registerDemo(program);
  registerDoctor(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  // --quiet: results and logs are dropped; errors (stderr) and --json documents stay.
  if ((argv.includes('--quiet') || argv.includes('-q')) && !argv.includes('--json')) {
    process.stdout.write = (() => true) as typeof process.stdout.write;
    setQuiet();
  }
  // Interrupted: remove temporary files (artifacts are renamed into place only when complete) and
  // exit 130 (SIGINT) or 143 (SIGTERM), the shell's convention.
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const)
    process.once(signal, () => {
      for (const tmp of pendingTempFiles()) rmSync(tmp, { recursive: true, force: true });
      stopProgress(); // the message goes on a line of its own, not after a half-drawn bar
      process.stderr.write(`edgelm: interrupted (${signal}); no partial output was left\n`);
      process.exit(code);
    });
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    const sub = argv.find((a) => !a.startsWith('-'));
    return reportError(e, debug, program.commands.some((c) => c.name() === sub) ? sub : undefined);
  }
}


function reportError(e: unknown, debug: boolean, command: string | undefined): number {
  stopProgress();
  if (e instanceof CommanderError) {
    // Help and version exit through here with code 0; `edgelm` alone printed its help already.
    if (e.exitCode === 0 || e.code === 'commander.help') return e.exitCode === 0 ? 0 : 2;
    const message = e.message.replace(/^error: /, '');
    process.stderr.write(`edgelm: ${oneLine(message)} (see edgelm ${command ? `${command} ` : ''}--help)\n`);
    return 2;
  }
  if (e instanceof EdgelmError) {
    process.stderr.write(`edgelm: ${oneLine(`${e.message}${e.hint ? ` (${e.hint})` : ''}`)}\n`);
    if (debug && e.stack) process.stderr.write(`${e.stack}\n`);
    return exitCodeOf(e.code);
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(`edgelm: internal error: ${oneLine(err.message.split('\n')[0] ?? '')}${debug ? '' : ' (run with --debug for details)'}\n`);
  if (debug && err.stack) process.stderr.write(`${err.stack}\n`);
  return 1;
}
