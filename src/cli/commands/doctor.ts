import type { Command } from 'commander';

/** What can compute and run here: TF.js backends and the artifact runtimes, with versions. */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .addHelpText('after', '\nExample:\n  edgelm doctor --json\n')
    .description('check which compute backends (wasm, tfjs-node, cpu) and runtimes (LiteRT, onnxruntime) work on this machine')
    .option('--json', 'print one JSON document on stdout')
    .action(async (flags: { json?: boolean }) => {
      const checks = await runChecks();
      const { colours, jsonDocument, table } = await import('../output.js');
      if (flags.json) return void process.stdout.write(jsonDocument({ checks }));
      const c = colours();
      process.stdout.write(`${table(checks, [
        { header: 'component', value: (r) => r.name },
        { header: 'status', value: (r) => (r.ok ? c.green('ok') : c.yellow('unavailable')) },
        { header: 'version', value: (r) => r.version ?? '' },
        { header: 'note', value: (r) => r.note ?? '' },
      ], c)}\n`);
    });
}

interface Check {
  name: string;
  ok: boolean;
  version?: string;
  note?: string;
}

async function runChecks(): Promise<Check[]> {
  const { packageVersion: version } = await import('../../runtime/package-version.js');
  const attempt = async (name: string, pkg: string, f: () => Promise<string | void>): Promise<Check> => {
    try {
      const note = await f();
      return { name, ok: true, ...(version(pkg) ? { version: version(pkg)! } : {}), ...(note ? { note } : {}) };
    } catch (e) {
      return { name, ok: false, ...(version(pkg) ? { version: version(pkg)! } : {}), note: (e as Error).message.split('\n')[0]!.slice(0, 100) };
    }
  };
  const { loadTf } = await import('../../runtime/tfjs/backend.js');
  const { loadOnnxRuntime } = await import('../../runtime/onnxruntime.js');
  const { join } = await import('node:path');
  const { PACKAGE_ROOT } = await import('./demo.js');
  const sum = async (b: 'wasm' | 'cpu' | 'node'): Promise<string> => {
    const tf = await loadTf(b);
    const v = tf.tidy(() => tf.sum(tf.tensor([1, 2, 3])).dataSync()[0]);
    if (v !== 6) throw new Error(`wrong result ${v}`);
    return `backend ${tf.getBackend()}`;
  };
  const checks: Check[] = [
    { name: 'node', ok: true, version: process.versions.node },
    await attempt('TF.js wasm (default)', '@tensorflow/tfjs-backend-wasm', () => sum('wasm')),
    await attempt('TF.js node (tfjs-node)', '@tensorflow/tfjs-node', () => sum('node')),
    await attempt('TF.js cpu', '@tensorflow/tfjs-backend-cpu', () => sum('cpu')),
    await attempt('LiteRT (.tflite)', '@litertjs/core', async () => {
      const { loadLiteRtNode } = await import('../../runtime/litert.js');
      await loadLiteRtNode();
      return 'CPU (XNNPACK) in WebAssembly';
    }),
    await attempt('onnxruntime-node (.onnx, native)', 'onnxruntime-node', async () => (await loadOnnxRuntime('onnxruntime-node')).kernels),
    await attempt('onnxruntime-web (.onnx, wasm)', 'onnxruntime-web', async () => {
      // Loading the package does not start its wasm; opening a model does.
      const runtime = await loadOnnxRuntime('onnxruntime-web');
      await (await runtime.open(join(PACKAGE_ROOT, 'fixtures', 'models', 'mlp-opset11.onnx'))).release();
      return runtime.kernels;
    }),
  ];
  // The build edgelm picks for .onnx files: the native one when it loads, else the wasm one.
  const ort = await loadOnnxRuntime().catch(() => undefined);
  checks.push(ort ? { name: '.onnx files run in', ok: true, version: ort.version, note: ort.backend } : { name: '.onnx files run in', ok: false, note: 'no onnxruntime loads here' });
  return checks;
}
