// Bit-exact agreement with PyTorch's MinMaxObserver / PerChannelMinMaxObserver and quantize_per_*.
// Goldens: fixtures/goldens/minmax-torch.json, made by fixtures/goldens/minmax-torch.py.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chooseParams, qrange, quantizeTensor, quantizeValue, type QuantScheme } from '../../src/quantize/minmax.js';

interface Case {
  name: string;
  scheme: QuantScheme;
  shape: number[];
  observed: number;
  x: number[];
  scale: number[];
  zeroPoint: number[];
  codes: number[];
}
const golden = JSON.parse(readFileSync(new URL('../../fixtures/goldens/minmax-torch.json', import.meta.url), 'utf8')) as { cases: Case[] };

describe('min-max quantization matches PyTorch bit for bit', () => {
  it('has golden cases', () => expect(golden.cases.length).toBeGreaterThan(20));

  it.each(golden.cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const x = Float32Array.from(c.x);
    if (c.scheme.granularity === 'tensor') {
      // The observer saw the first `observed` values; the rest are ties on half steps of its scale.
      const seen = x.subarray(0, c.observed);
      const p = chooseParams(Math.min(...seen), Math.max(...seen), c.scheme);
      expect(p.scale).toBe(c.scale[0]);
      expect(p.zeroPoint).toBe(c.zeroPoint[0]);
      const [qmin, qmax] = qrange(c.scheme);
      const inv = Math.fround(1 / p.scale);
      expect(Array.from(x, (v) => quantizeValue(v, inv, p.zeroPoint, qmin, qmax))).toEqual(c.codes);
    } else {
      const q = quantizeTensor(c.name, x, c.shape, c.scheme);
      expect([...q.params.scale]).toEqual(c.scale);
      expect([...q.params.zeroPoint]).toEqual(c.zeroPoint);
      expect([...q.codes]).toEqual(c.codes);
    }
  });
});
