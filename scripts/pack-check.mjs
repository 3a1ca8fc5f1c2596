#!/usr/bin/env node
// edgelm installed the way users install it: `npm pack`, then in an empty folder `npm init -y &&
// npm install ./edgelm-<version>.tgz` with no environment variable (registry access only, from the npm
// cache where it has the packages), then `npx edgelm --help`, `doctor`, a `quantize … --data` with eval,
// and `demo`. Fails when a command fails, when the install holds onnxruntime-node (its postinstall
// downloads CUDA binaries) or the @tensorflow/tfjs union package, or when it grows past LIMIT_MIB.
// Run after `npm run build`. The last stdout line is JSON: install seconds, node_modules MiB, first
// quantize seconds (bench/install.js reports it).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Measured 339 MiB (onnxruntime-web 140, TF.js 119, LiteRT 38, onnx-proto 23): a regression guard, not the goal.
const LIMIT_MIB = 380;

// A clean environment: nothing that steers onnxruntime-node's install, nothing npm set for a parent `npm run`.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|ONNXRUNTIME_NODE_INSTALL)/i.test(k)));
env.NO_COLOR = '1';

function fail(message) {
  console.error(`pack-check: ${message}`);
  process.exit(1);
}

/** Runs a command in `cwd`; returns stdout and seconds; fails the check on a non-zero exit. */
function run(cwd, cmd, args) {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 300_000 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  console.log(`pack-check: ${cmd} ${args.join(' ')}  (${seconds.toFixed(1)} s)`);
  return { stdout: r.stdout, seconds };
}

if (!existsSync(join(root, 'dist', 'index.js'))) fail('dist/ is missing: run npm run build first');
run(root, process.execPath, [join(root, 'scripts', 'check-package.mjs')]);

const work = mkdtempSync(join(tmpdir(), 'edgelm-pack-'));
try {
  const [{ filename }] = JSON.parse(run(root, 'npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work]).stdout);
  const app = join(work, 'app');
  execFileSync('mkdir', [app]);
  run(app, 'npm', ['init', '-y']);
  const install = run(app, 'npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, filename)]);

  const modules = join(app, 'node_modules');
  for (const pkg of ['onnxruntime-node', '@tensorflow/tfjs', '@tensorflow/tfjs-node'])
    if (existsSync(join(modules, pkg))) fail(`the install holds ${pkg}, which edgelm must not pull in`);
  const mib = Number(execFileSync('du', ['-sm', modules], { encoding: 'utf8' }).split('\t')[0]);
  if (mib > LIMIT_MIB) fail(`node_modules is ${mib} MiB, over the ${LIMIT_MIB} MiB guard`);

  const npx = (...args) => run(app, 'npx', ['--no-install', 'edgelm', ...args]);
  if (!npx('--help').stdout.includes('Usage: edgelm')) fail('--help printed no usage');
  const checks = JSON.parse(npx('doctor', '--json').stdout).checks;
  const ort = checks.find((c) => c.name === '.onnx files run in');
  if (!ort?.ok || ort.note !== 'onnxruntime-web') fail(`doctor: .onnx files should run in onnxruntime-web here, got ${JSON.stringify(ort)}`);

  // The first quantize of a fresh install, to a result: int8 QDQ ONNX, evaluated in onnxruntime-web.
  const fx = join(modules, 'edgelm', 'fixtures');
  const q = npx('quantize', join(fx, 'models', 'cnn-nchw.onnx'), '-o', join(app, 'out', 'cnn-qdq.onnx'), '--mode', 'int8', '--calibration', join(fx, 'data', 'mnist-train.npz'), '--data', join(fx, 'data', 'mnist-test.npz'), '--json');
  const { eval: ev } = JSON.parse(q.stdout);
  if (!(ev?.source?.accuracy > 0.9 && ev?.artifact?.accuracy > 0.9 && ev.artifact.agreement > 0.95)) fail(`quantize --data: implausible eval ${JSON.stringify(ev)}`);

  npx('demo', '-o', join(app, 'demo'));
  for (const f of ['student-int8.tflite', 'student-int8.onnx', 'report.html']) if (!existsSync(join(app, 'demo', f))) fail(`demo wrote no ${f}`);

  const figures = { installSeconds: +install.seconds.toFixed(1), nodeModulesMiB: mib, firstQuantizeSeconds: +q.seconds.toFixed(1), tarballBytes: Number(execFileSync('stat', ['-c', '%s', join(work, filename)], { encoding: 'utf8' })) };
  console.log(`pack-check: ok: installed in ${figures.installSeconds} s, node_modules ${mib} MiB, first quantize ${figures.firstQuantizeSeconds} s`);
  console.log(JSON.stringify(figures));
} finally {
  rmSync(work, { recursive: true, force: true });
}
