// Figure 8: edgelm installed as users install it (scripts/pack-check.mjs: npm pack, npm install of the
// tarball into an empty folder from the npm cache, then npx edgelm --help, doctor, quantize --data,
// demo): node_modules size against the 200 MiB goal, install time, and the first `npx edgelm quantize`
// (int8 QDQ ONNX with calibration and eval in onnxruntime-web) to a result.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, emit, row } from './lib.js';

const GOAL_MIB = 200;
const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'pack-check.mjs')], { encoding: 'utf8', maxBuffer: 64 << 20 });
if (r.status !== 0) throw new Error(`pack-check failed (${r.status}): ${r.stderr || r.stdout}`);
const f = JSON.parse(r.stdout.trim().split('\n').pop());
emit([
  row('8 packed install: node_modules size', `${f.nodeModulesMiB} MiB`, `goal ${GOAL_MIB} MiB`, `${(f.nodeModulesMiB / GOAL_MIB).toFixed(2)} of goal`, `< ${GOAL_MIB} MiB`, f.nodeModulesMiB < GOAL_MIB, `du -sm of node_modules after npm install of the ${(f.tarballBytes / 1e6).toFixed(1)} MB tarball; the dependency set before the lean install (the @tensorflow/tfjs union, onnxruntime-node) took 663 MiB, and installed only with ONNXRUNTIME_NODE_INSTALL=skip`),
  row('8 packed install: npm install time', `${f.installSeconds.toFixed(1)} s`, '—', '—', 'report', null, 'from a warm npm cache (--prefer-offline), as CI runs it'),
  row('8 first npx edgelm quantize to a result', `${f.firstQuantizeSeconds.toFixed(1)} s`, '—', '—', 'report', null, 'cnn-nchw.onnx → int8 QDQ ONNX, calibration on 1,000 digits, eval of source and artifact on 1,000 in onnxruntime-web'),
]);
