// Figure 2: CLI start-up: wall time of `node bin/edgelm.js --version` and `--help` (median of RUNS
// runs after one warm-up), against the 250 ms limit; bare `node -e 0` is measured alongside for scale.
import { spawnSync } from 'node:child_process';
import { CLI, emit, fmt, median, row } from './lib.js';

const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 11);
const LIMIT = 250;

function wall(args) {
  spawnSync(process.execPath, args, { stdio: 'ignore' });
  const ts = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
    ts.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}`);
  }
  return median(ts);
}

const bare = wall(['-e', '0']);
const rows = [];
for (const flag of ['--version', '--help']) {
  const ms = wall([CLI, flag]);
  rows.push(row(`2 CLI start-up: edgelm ${flag}`, fmt.ms(ms), `limit ${LIMIT} ms`, `${(ms / LIMIT).toFixed(2)} of limit`, `< ${LIMIT} ms`, ms < LIMIT, `median of ${RUNS}; bare \`node -e 0\` ${fmt.ms(bare)}`));
}
emit(rows);
