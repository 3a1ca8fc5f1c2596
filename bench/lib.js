// Helpers shared by the benchmark scripts: the Python peer, child processes with wall time and
// peak RSS, statistics, and the row format bench/run.js prints.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Scratch files (models, data); `out/` is git-ignored. */
export const OUT = join(ROOT, 'bench', 'out');
mkdirSync(OUT, { recursive: true });
export const CLI = join(ROOT, 'bin', 'edgelm.js');

/** The Python that has PyTorch 1.13 and onnx (Debian's); `python3` on PATH may be another one. */
export const PYTHON = process.env.EDGELM_BENCH_PYTHON ?? '/usr/bin/python3';

let torchInfo;
/** { ok, version, threads, note }: whether the PyTorch peer can run here. */
export function torch() {
  if (torchInfo) return torchInfo;
  const r = existsSync(PYTHON) || !PYTHON.startsWith('/') ? spawnSync(PYTHON, ['-c', 'import json, torch, onnx, numpy; print(json.dumps([torch.__version__, torch.get_num_threads(), onnx.__version__]))'], { encoding: 'utf8' }) : { status: 1, stderr: 'not found' };
  if (r.status === 0) {
    const [version, threads, onnx] = JSON.parse(r.stdout.trim().split('\n').pop());
    torchInfo = { ok: true, version, threads, onnx };
  } else torchInfo = { ok: false, note: `${PYTHON} lacks torch/onnx/numpy (${(r.stderr || r.error?.message || '').trim().split('\n').pop()})` };
  return torchInfo;
}

/** Runs a Python script of bench/ with JSON on its last stdout line. */
export function python(script, args = [], opts = {}) {
  const r = spawnSync(PYTHON, [join(ROOT, 'bench', script), ...args.map(String)], { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`${script} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** Runs the CLI; returns stdout (throws on failure). */
export function cli(args, opts = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.status !== 0) throw new Error(`edgelm ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

const TIME = '/usr/bin/time';
/**
 * Runs a command to completion; returns { seconds, peakRssMiB, how }. Peak RSS from GNU time's %M
 * when /usr/bin/time exists, else from polling /proc/PID/status VmHWM (Linux).
 */
export async function measure(cmd, args, opts = {}) {
  const useTime = existsSync(TIME);
  const t0 = performance.now();
  const child = useTime ? spawn(TIME, ['-f', '@@rss %M', cmd, ...args], { ...opts, stdio: ['ignore', 'pipe', 'pipe'] }) : spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let hwm = 0;
  const poll = useTime
    ? undefined
    : setInterval(() => {
        try {
          const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
          if (m) hwm = Math.max(hwm, Number(m[1]));
        } catch {
          /* exited */
        }
      }, 20);
  const code = await new Promise((res) => child.on('close', res));
  const seconds = (performance.now() - t0) / 1000;
  if (poll) clearInterval(poll);
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${code}): ${stderr.slice(-2000)}`);
  let peakKiB = hwm;
  if (useTime) {
    const m = /@@rss (\d+)/.exec(stderr);
    peakKiB = m ? Number(m[1]) : NaN;
  }
  return { seconds, peakRssMiB: peakKiB / 1024, how: useTime ? '/usr/bin/time %M' : '/proc VmHWM polling', stdout };
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const best = (xs) => Math.min(...xs);

/** Best-of-n wall time in ms of a synchronous function (after one warm-up call). */
export function bestMs(fn, n) {
  fn();
  const ts = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  return best(ts);
}

/**
 * One row of the table. `ratio` is edgelm relative to the peer, oriented so that bigger is better
 * for edgelm unless `lowerIsBetter`; `pass` null when there is no target or no peer.
 */
export function row(figure, edgelm, peer, ratio, target, pass, note) {
  return { figure, edgelm, peer, ratio, target, pass, ...(note ? { note } : {}) };
}

export const fmt = {
  gbs: (bytes, ms) => `${(bytes / ms / 1e6).toFixed(2)} GB/s`,
  ms: (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : ms >= 10 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`),
  x: (r) => `${r.toFixed(2)}×`,
  pct: (r) => `${(100 * r).toFixed(0)}%`,
};

/** Prints the rows as JSON on the last stdout line (bench/run.js reads it). */
export function emit(rows) {
  process.stdout.write(`${JSON.stringify(rows)}\n`);
}

/**
 * Median single-call latency of each file in its runtime (src/runtime), 5 warm-up calls, then `runs`
 * rounds that call every file in turn, so that load on the machine falls on all of them alike. An entry
 * may also be an open session ({ run(x, shape), dispose() }). `clock: 'cpu'` times the process's CPU
 * (user + system, process.cpuUsage) instead of wall time: on a shared machine a call's wall time also
 * holds the time it waited for a core, which grows with the call's length (single-threaded runtimes only:
 * a runtime's idle worker threads would count too).
 */
export async function interleavedLatency(files, shape, x, runs, { clock = 'wall' } = {}) {
  const { openRuntime } = await import('../dist/runtime/index.js');
  const sessions = [];
  for (const f of files) sessions.push(typeof f === 'string' ? await openRuntime(f) : f);
  const now = clock === 'cpu' ? () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; } : () => performance.now();
  const times = files.map(() => []);
  for (let i = 0; i < 5; i++) for (const s of sessions) await s.run(x, shape);
  for (let i = 0; i < runs; i++)
    for (let k = 0; k < sessions.length; k++) {
      const t0 = now();
      await sessions[k].run(x, shape);
      times[k].push(now() - t0);
    }
  sessions.forEach((s) => s.dispose());
  return times.map(median);
}
