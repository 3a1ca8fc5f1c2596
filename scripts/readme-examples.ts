// Runs every example of the README and compares (or, with --write, replaces) the output shown under
// it. An example is a fenced block whose lines start with `$ ` for a command (a trailing `\`
// continues it on the next line) followed by what the command prints, stdout and stderr together.
// The commands run in order in a scratch folder that links the repository's fixtures (so `out/`
// and `edgelm-demo/` never land in the checkout), with `npx edgelm` running this checkout's
// bin/edgelm.js. Only figures that vary by machine are masked in the comparison: latencies,
// slowdown ratios and durations, and the column padding they shift.
//
//   npx vite-node scripts/readme-examples.ts           # check; exit 1 with the differences
//   npx vite-node scripts/readme-examples.ts --write   # regenerate the README's example outputs
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const README = join(ROOT, 'README.md');

export interface Example {
  /** The command as the README shows it (continuation lines included). */
  command: string;
  /** The output lines the README shows under it. */
  shown: string[];
}

export interface Block {
  /** Line index of the block's first line inside the fence. */
  start: number;
  /** Line index of the closing fence. */
  end: number;
  examples: Example[];
}

/** The example blocks of a README: fenced blocks whose first line is a `$ ` command. */
export function parseExamples(text: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```\s*$/.test(lines[i]!) || !lines[i + 1]?.startsWith('$ ')) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```/.test(lines[end]!)) end++;
    const examples: Example[] = [];
    for (let k = start; k < end; k++) {
      const line = lines[k]!;
      if (line.startsWith('$ ')) {
        let command = line;
        while (command.endsWith('\\') && k + 1 < end) command += `\n${lines[++k]!}`;
        examples.push({ command, shown: [] });
      } else examples.at(-1)!.shown.push(line);
    }
    blocks.push({ start, end, examples });
    i = end;
  }
  return blocks;
}

/**
 * Runs one example command in `cwd` and returns what it prints, stdout and stderr interleaved as a
 * terminal shows them. Asynchronous, so that a test running it keeps its event loop (vitest's worker
 * RPC times out when it is blocked for a minute).
 */
export async function runExample(command: string, cwd: string): Promise<string[]> {
  const script = command.slice(2).replace(/\\\n/g, ' ');
  // `npx edgelm` is this checkout's CLI, as it is for `npx edgelm` inside the repository.
  const shim = `npx() { if [ "$1" = edgelm ]; then shift; node ${JSON.stringify(join(ROOT, 'bin', 'edgelm.js'))} "$@"; else command npx "$@"; fi; }`;
  const child = spawn('bash', ['-c', `${shim}\n{ ${script}\n} 2>&1`], { cwd, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  await new Promise<void>((resolve, reject) => child.on('error', reject).on('close', () => resolve()));
  const out = stdout.replace(/\n$/, '');
  return out ? out.split('\n').map((l) => l.trimEnd()) : [];
}

/**
 * A quantized artifact measured slower than its float source gets a warning line: whether it does
 * depends on the machine (int8 kernels are faster on CPUs with VNNI), like the latencies it quotes.
 */
const SLOWDOWN_WARNING = /^(edgelm: )?warning: .* slower than .* in \S+ \(.* vs .*\)/;

/** The lines to compare: without the separating blank lines at the end and without machine-dependent slowdown warnings (and the blank line before one). */
export function comparable(lines: string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    if (SLOWDOWN_WARNING.test(l)) {
      if (out.at(-1) === '') out.pop();
      continue;
    }
    out.push(normalize(l));
  }
  while (out.at(-1) === '') out.pop();
  return out;
}

/** Masks what differs between machines and runs: latencies, slowdown ratios, durations, and the padding a wider figure shifts. */
export function normalize(line: string): string {
  return line
    .replace(/\d+(\.\d+)? ms\b/g, '<ms>')
    .replace(/\d+(\.\d+)?× slower/g, '<n>× slower')
    .replace(/\b\d+(\.\d+)? ?(s|min)\b/g, '<duration>')
    .replace(/ {2,}/g, '  ');
}

export interface Mismatch {
  command: string;
  shown: string[];
  printed: string[];
}

/** Runs every example in order; returns the README with the printed outputs and the examples whose output differs. */
export async function runReadme(text: string): Promise<{ text: string; mismatches: Mismatch[] }> {
  const lines = text.split('\n');
  const blocks = parseExamples(text);
  const work = mkdtempSync(join(tmpdir(), 'edgelm-readme-'));
  const mismatches: Mismatch[] = [];
  try {
    symlinkSync(join(ROOT, 'fixtures'), join(work, 'fixtures'));
    // Replace from the last block so that earlier line indices stay valid.
    const replaced: { start: number; end: number; lines: string[] }[] = [];
    for (const block of blocks) {
      const body: string[] = [];
      for (const ex of block.examples) {
        const printed = await runExample(ex.command, work);
        if (comparable(printed).join('\n') !== comparable(ex.shown).join('\n')) mismatches.push({ command: ex.command, shown: ex.shown, printed });
        // Blank lines that separate this example from the next stay as the README has them.
        const separators = ex.shown.length - ex.shown.findLastIndex((l) => l !== '') - 1;
        body.push(...ex.command.split('\n'), ...printed, ...new Array<string>(separators).fill(''));
      }
      replaced.push({ start: block.start, end: block.end, lines: body });
    }
    for (const r of replaced.reverse()) lines.splice(r.start, r.end - r.start, ...r.lines);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { text: lines.join('\n'), mismatches };
}

export function describeMismatch(m: Mismatch): string {
  return [`${m.command}`, '--- README shows', ...m.shown, '+++ it printed', ...m.printed].join('\n');
}

// Run as a script (vite-node passes no script path in argv); test/readme.test.ts imports the functions.
if (!process.env.VITEST) {
  const write = process.argv.includes('--write');
  const { text, mismatches } = await runReadme(readFileSync(README, 'utf8'));
  if (write) {
    writeFileSync(README, text);
    process.stdout.write(`README.md: ${mismatches.length} example output(s) updated\n`);
  } else {
    for (const m of mismatches) process.stdout.write(`${describeMismatch(m)}\n\n`);
    process.stdout.write(mismatches.length ? `README.md: ${mismatches.length} example(s) differ; run npx vite-node scripts/readme-examples.ts --write\n` : 'README.md: every example prints what it shows\n');
    process.exitCode = mismatches.length ? 1 : 0;
  }
}
