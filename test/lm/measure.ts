// The CLI runs both language-model tests measure artifacts with: quantize or eval with --json, each
// model in the runtime that runs it.
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
