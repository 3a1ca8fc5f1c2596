import { describe, expect, it } from 'vitest';
import { chooseParams, dequantizeTensor, qrange, quantizeTensor, roundHalfEven, type QuantScheme } from '../../src/quantize/minmax.js';
import { prng as rng } from '../../src/train/loop.js';


const SCHEMES: [string, QuantScheme][] = [];
for (const bits of [2, 3, 4, 8])
  for (const symmetric of [false, true])
    for (const granularity of ['tensor', 'channel', 'block'] as const)
      SCHEMES.push([
        `${bits}-bit ${symmetric ? 'symmetric' : 'affine'} per ${granularity}`,
        { bits, signed: true, symmetric, narrow: symmetric, granularity, axis: granularity === 'block' ? 1 : 0, blockSize: 32 },
      ]);

describe('roundHalfEven', () => {
  it('rounds ties to the even neighbour like numpy.round', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, 3]);
  });
});

describe('min-max quantization', () => {
  it.each(SCHEMES)('%s: |x − x̂| ≤ scale/2 for every in-range x, and zero is exact', (_name, s) => {
    const r = rng(s.bits * 7 + (s.symmetric ? 1 : 0));
    for (let trial = 0; trial < 20; trial++) {
      const shape = [3 + Math.floor(r() * 5), 40 + Math.floor(r() * 60)];
      const n = shape[0]! * shape[1]!;
      const lo = -r() * 5;
      const hi = r() * 3;
      const data = Float32Array.from({ length: n }, (_, i) => (i % 17 === 0 ? 0 : lo + r() * (hi - lo)));
      const { codes, params } = quantizeTensor('t', data, shape, s);
      const back = dequantizeTensor(codes, shape, params);
      const [qmin, qmax] = qrange(s);
      for (let i = 0; i < n; i++) {
        expect(codes[i]).toBeGreaterThanOrEqual(qmin);
        expect(codes[i]).toBeLessThanOrEqual(qmax);
        if (data[i] === 0) expect(back[i]).toBe(0);
      }
      // Group of element i, to find its scale (same layout rules as the implementation documents).
      const scaleOf = (i: number): number => {
        const [rows, cols] = shape as [number, number];
        if (s.granularity === 'tensor') return params.scale[0]!;
        if (s.granularity === 'channel') return params.scale[Math.floor(i / cols)]!;
        const blocks = Math.ceil(cols / 32);
        void rows;
        return params.scale[Math.floor(i / cols) * blocks + Math.floor((i % cols) / 32)]!;
      };
      for (let i = 0; i < n; i++) expect(Math.abs(data[i]! - back[i]!)).toBeLessThanOrEqual(scaleOf(i) / 2 + 1e-6 * Math.abs(data[i]!));
    }
  });

  it('widens a positive-only range to include zero, and handles constant and all-zero tensors', () => {
    const s: QuantScheme = { bits: 8, signed: false, symmetric: false, narrow: false, granularity: 'tensor' };
    const p = chooseParams(2, 4, s);
    expect(p.zeroPoint).toBe(0);
    expect(p.scale).toBe(Math.fround(Math.fround(4) / 255));
    const zeros = quantizeTensor('z', new Float32Array(8), [8], s);
    expect(zeros.params.scale[0]).toBe(Math.fround(2 ** -23));
    expect([...dequantizeTensor(zeros.codes, [8], zeros.params)]).toEqual(new Array(8).fill(0));
    const constant = quantizeTensor('c', new Float32Array(8).fill(-3), [8], s);
    expect([...dequantizeTensor(constant.codes, [8], constant.params)].every((v) => Math.abs(v + 3) <= constant.params.scale[0]! / 2)).toBe(true);
  });

  it('TFLite symmetric int8 weights: scale = max|w|/127, codes in [−127, 127]', () => {
    const w = Float32Array.from([-0.5, 0.25, 1.27, -1.27, 0]);
    const { codes, params } = quantizeTensor('w', w, [5], { bits: 8, signed: true, symmetric: true, narrow: true, granularity: 'tensor' });
    expect(params.scale[0]).toBe(Math.fround(Math.fround(1.27) / 127));
    expect(params.zeroPoint[0]).toBe(0);
    expect([...codes]).toEqual([-50, 25, 127, -127, 0]);
  });

  it('refuses NaN and Inf naming the tensor', () => {
    const s: QuantScheme = { bits: 8, signed: true, symmetric: false, narrow: false, granularity: 'tensor' };
    expect(() => quantizeTensor('dense/kernel', Float32Array.from([1, Number.NaN]), [2], s)).toThrow('dense/kernel: element 1 is NaN');
    expect(() => quantizeTensor('w', Float32Array.from([Infinity]), [1], s)).toThrow(/w: element 0 is Infinity/);
  });
});
