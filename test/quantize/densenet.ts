// A DenseNet-121-shaped CNN (Huang et al. 2017: growth 32, blocks of 6/12/24/16 layers, BN-ReLU-
// conv1×1(128)-BN-ReLU-conv3×3(32) per layer, concatenated features, transitions halving channels
// and size) built as an edgelm Graph with seeded weights, for calibration memory checks. Its 120
// concatenations keep many activations alive: the case that ran out of memory.
import { GraphBuilder } from '../../src/ir/builder.js';
import type { Graph } from '../../src/ir/graph.js';
import { prng } from '../../src/train/loop.js';

export function densenet121(size = 64, seed = 1): Graph {
  const rand = prng(seed);
  const b = new GraphBuilder('densenet121');
  let n = 0;
  const weight = (shape: number[], fanIn: number): string =>
    b.addConstant({ name: `w${n++}`, dtype: 'float32', shape, data: Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => (rand() * 2 - 1) * Math.sqrt(3 / fanIn)) });
  const vec = (c: number, f: () => number): string => b.addConstant({ name: `v${n++}`, dtype: 'float32', shape: [c], data: Float32Array.from({ length: c }, f) });
  const bnRelu = (x: string, c: number): string =>
    b.add1('relu', [b.add1('batchNorm', [x, vec(c, () => 0.5 + rand()), vec(c, () => rand() - 0.5), vec(c, () => rand() * 0.2 - 0.1), vec(c, () => 0.5 + rand())], { axis: 3, epsilon: 1e-5 })]);
  const conv = (x: string, cin: number, cout: number, k: number, stride = 1): string =>
    b.add1('conv2d', [x, weight([k, k, cin, cout], k * k * cin)], { strides: [stride, stride], padding: 'SAME' });
  let x = b.addInput('image', 'float32', ['batch', size, size, 3]);
  x = b.add1('maxPool2d', [bnRelu(conv(x, 3, 64, 7, 2), 64)], { kernel: [3, 3], strides: [2, 2], padding: 'SAME' });
  let c = 64;
  [6, 12, 24, 16].forEach((layers, block) => {
    for (let l = 0; l < layers; l++) {
      const y = conv(bnRelu(conv(bnRelu(x, c), c, 128, 1), 128), 128, 32, 3);
      x = b.add1('concat', [x, y], { axis: 3 });
      c += 32;
    }
    if (block < 3) {
      x = b.add1('avgPool2d', [conv(bnRelu(x, c), c, c / 2, 1)], { kernel: [2, 2], strides: [2, 2], padding: 'VALID' });
      c /= 2;
    }
  });
  const pooled = b.add1('reduceMean', [bnRelu(x, c)], { axes: [1, 2], keepDims: false });
  const logits = b.add1('dense', [pooled, weight([c, 10], c), vec(10, () => 0)]);
  return b.build('densenet121', 'test', [logits]);
}
