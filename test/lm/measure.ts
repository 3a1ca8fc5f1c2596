// The CLI runs both language-model tests measure artifacts with: quantize or eval with --json, each
// model in the runtime that runs it.
import { join } from 'node:path';
import { expect } from 'vitest';
import { cliAsync } from '../helpers.js';

export interface Measured {
  accuracy: number;
  perplexity: number;
  tokensPerSecond: number;
  samples: number;
  runtime: string;
}

export interface QuantizeJson {
  bytes: number;
  floatBytes: number;
  eval: { source: Measured; artifact: Measured };
}

/** `edgelm quantize MODEL -o OUT --data DATA --json FLAGS…`: the artifact's size and both models measured on DATA. */
export async function quantizeMeasured(model: string, out: string, data: string, ...flags: string[]): Promise<QuantizeJson> {
  const r = await cliAsync(['quantize', model, '-o', out, '--data', data, '--json', ...flags]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as QuantizeJson;
}

/** `edgelm eval MODELS… --data DATA --json`: each model measured on DATA. */
export async function evalMeasured(models: string[], data: string): Promise<Measured[]> {
  const r = await cliAsync(['eval', ...models, '--data', data, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { models: Measured[] }).models;
}

/**
 * For each block configuration, `quantize MODEL` with round-to-nearest and with `method` (calibrated on
 * `calibration`, `--calibration-limit limit`), then all files and the float model measured on `heldOut`:
 * per configuration the float, RTN and method measurements and the method's `--json` report.
 */
export async function againstRtn<R>(method: 'gptq' | 'awq', model: string, dir: string, configs: readonly { bits: number; block: number }[], calibration: string, limit: number, heldOut: string): Promise<{ float: Measured; rtn: Measured; quantized: Measured; report: R }[]> {
  const files: string[] = [];
  const reports: R[] = [];
  for (const c of configs)
    for (const m of ['rtn', method]) {
      const out = join(dir, `${m}-${c.bits}.onnx`);
      const calib = m === method ? ['--calibration', calibration, '--calibration-limit', String(limit)] : [];
      const r = await cliAsync(['quantize', model, '-o', out, '--bits', String(c.bits), '--granularity', 'block', '--block-size', String(c.block), '--method', m, ...calib, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout) as R & { method: string };
      expect(j.method).toBe(m);
      if (m === method) reports.push(j);
      files.push(out);
    }
  const [float, ...q] = await evalMeasured([model, ...files], heldOut);
  return configs.map((_, i) => ({ float: float!, rtn: q[2 * i]!, quantized: q[2 * i + 1]!, report: reports[i]! }));
}
