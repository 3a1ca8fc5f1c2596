// `npm run bench`: runs every figure of the benchmark suite, each in its own process, and prints one
// table: figure | edgelm | peer or limit | ratio | target | pass/fail. Peers are measured in the same
// run, so the ratios, not the absolute numbers, are the result. PyTorch peers are skipped, with a
// note, when /usr/bin/python3 (or $EDGELM_BENCH_PYTHON) lacks torch.
//   node bench/run.js [FIGURE...] [--docs]   figures 1–11 (default all); --docs rewrites docs/benchmarks.md
// Scratch models and data go to bench/out/ (git-ignored), with the latest table as latest.md/.json.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { OUT, ROOT, torch } from './lib.js';

// [figure, script] in running order: start-up first, as it suffers most from a busy machine.
const FIGURES = [
  ['2', 'startup.js'],
  ['1', 'quant-kernel.js'],
  ['4', 'int8-latency.js'],
  ['5', 'train.js'],
  ['3', 'e2e-onnx.js'],
  ['6', 'huge-onnx.js'],
  ['7', 'scaling.js'],
  ['8', 'install.js'],
  ['9', 'gpt2-124m.js'],
  ['10', 'gptq.js'],
  ['11', 'quant-speed.js'],
];
const args = process.argv.slice(2);
const docs = args.includes('--docs');
const wanted = args.filter((a) => /^\d+$/.test(a));
const order = FIGURES.filter(([f]) => !wanted.length || wanted.includes(f));

function sh(cmd, a) {
  try {
    return execFileSync(cmd, a, { encoding: 'utf8' }).trim();
  } catch {
    return '(unavailable)';
  }
}
const machine = {
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  nproc: sh('nproc', []),
  lscpu: sh('sh', ['-c', 'lscpu | head -n 15']),
  node: process.version,
  torch: torch(),
  loadStart: loadavg().map((l) => l.toFixed(2)).join(' '),
  cpu: cpus()[0]?.model ?? '?',
};

const rows = [];
const t0 = performance.now();
for (const [f, script] of order) {
  const s = performance.now();
  process.stderr.write(`bench: figure ${f} (${script})…\n`);
  const r = spawnSync(process.execPath, [join(ROOT, 'bench', script)], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'inherit'] });
  const last = r.stdout.trim().split('\n').pop();
  if (r.status !== 0 || !last?.startsWith('[')) {
    rows.push({ figure: `${f} ${script}`, edgelm: 'error', peer: '—', ratio: '—', target: '—', pass: false, note: `exit ${r.status}` });
    continue;
  }
  rows.push(...JSON.parse(last));
  process.stderr.write(`bench: figure ${f} done in ${((performance.now() - s) / 1000).toFixed(0)} s\n`);
}
rows.sort((a, b) => parseInt(a.figure, 10) - parseInt(b.figure, 10)); // stable: figure order, rows as emitted
machine.loadEnd = loadavg().map((l) => l.toFixed(2)).join(' ');
machine.seconds = Math.round((performance.now() - t0) / 1000);

const verdict = (p) => (p === true ? 'pass' : p === false ? 'FAIL' : '—');
const cols = ['figure', 'edgelm', 'peer or limit', 'ratio', 'target', 'pass/fail'];
const cells = rows.map((r) => [r.figure, r.edgelm, r.peer, r.ratio, r.target, verdict(r.pass)]);

// Console: aligned columns, then the notes.
const width = cols.map((c, i) => Math.max(c.length, ...cells.map((r) => String(r[i]).length)));
const line = (r) => r.map((c, i) => String(c).padEnd(width[i])).join('  ');
console.log(line(cols));
console.log(width.map((w) => '-'.repeat(w)).join('  '));
for (const r of cells) console.log(line(r));
console.log('');
rows.forEach((r) => r.note && console.log(`  ${r.figure}: ${r.note}`));
const failed = rows.filter((r) => r.pass === false).length;
console.log(`\n${rows.filter((r) => r.pass === true).length} pass, ${failed} fail, ${rows.filter((r) => r.pass === null).length} without target; ${machine.seconds} s; load average ${machine.loadStart} → ${machine.loadEnd} on ${machine.nproc} CPUs`);

// Markdown for docs/benchmarks.md.
const esc = (s) => String(s).replace(/\|/g, '\\|');
const md = [
  `| ${cols.join(' | ')} |`,
  `| ${cols.map(() => '---').join(' | ')} |`,
  ...cells.map((r) => `| ${r.map(esc).join(' | ')} |`),
  '',
  'Notes:',
  '',
  ...rows.filter((r) => r.note).map((r) => `- **${esc(r.figure)}**: ${r.note}`),
].join('\n');
const machineMd = [
  `Run ${machine.date}, ${machine.seconds} s, \`npm run bench\`. Load average ${machine.loadStart} at the start, ${machine.loadEnd} at the end.`,
  '',
  `- \`nproc\`: ${machine.nproc}`,
  `- node ${machine.node}`,
  `- PyTorch: ${machine.torch.ok ? `${machine.torch.version} (${machine.torch.threads} intra-op thread${machine.torch.threads === 1 ? '' : 's'}), onnx ${machine.torch.onnx}` : machine.torch.note}`,
  '',
  '```',
  '$ lscpu | head -n 15',
  machine.lscpu,
  '```',
].join('\n');
writeFileSync(join(OUT, 'latest.json'), `${JSON.stringify({ machine, rows }, null, 2)}\n`);
writeFileSync(join(OUT, 'latest.md'), `${md}\n\n${machineMd}\n`);
if (docs) {
  const { readFileSync } = await import('node:fs');
  const file = join(ROOT, 'docs', 'benchmarks.md');
  const doc = readFileSync(file, 'utf8');
  const start = doc.indexOf('<!-- bench:table -->');
  const end = doc.indexOf('<!-- /bench:table -->');
  if (start < 0 || end < 0) throw new Error(`${file}: markers <!-- bench:table --> … <!-- /bench:table --> not found`);
  writeFileSync(file, `${doc.slice(0, start)}<!-- bench:table -->\n${md}\n\n### Machine\n\n${machineMd}\n${doc.slice(end)}`);
  console.log(`wrote ${file}`);
}
process.exitCode = 0; // a failed target is a result, not an error
