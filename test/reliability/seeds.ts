// Seed files the fixtures do not provide, written by the fuzz suite before it mutates them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { caseRng, int } from './mutate.js';

/**
 * A Functional LayersModel written here, covering layers the fixtures do not (branches, Add,
 * Concatenate, LayerNormalization, ZeroPadding2D, Reshape, LeakyReLU, GlobalAveragePooling2D) and
 * the converter's uint8 and float16 weight storage.
 */
export function writeLayersZoo(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const L = (class_name: string, name: string, config: Record<string, unknown>, inbound: string[]): unknown => ({
    class_name,
    config: { name, trainable: true, dtype: 'float32', ...config },
    name,
    inbound_nodes: inbound.length ? [inbound.map((n) => [n, 0, 0, {}])] : [],
  });
  const layers = [
    L('InputLayer', 'in', { batch_input_shape: [null, 8, 8, 3], sparse: false }, []),
    L('Conv2D', 'conv', { filters: 4, kernel_size: [3, 3], strides: [1, 1], padding: 'same', data_format: 'channels_last', dilation_rate: [1, 1], activation: 'relu', use_bias: true }, ['in']),
    L('DepthwiseConv2D', 'dw', { kernel_size: [3, 3], strides: [1, 1], padding: 'valid', depth_multiplier: 1, activation: 'linear', use_bias: true }, ['conv']),
    L('BatchNormalization', 'bn', { axis: -1, epsilon: 0.001, center: true, scale: true }, ['dw']),
    L('ZeroPadding2D', 'zp', { padding: [[1, 1], [1, 1]] }, ['bn']),
    L('MaxPooling2D', 'pool', { pool_size: [2, 2], strides: [2, 2], padding: 'valid' }, ['zp']),
    L('GlobalAveragePooling2D', 'gap', {}, ['pool']),
    L('Flatten', 'flat', {}, ['pool']),
    L('Dense', 'd1', { units: 6, activation: 'tanh', use_bias: true }, ['flat']),
    L('Dense', 'd2', { units: 6, activation: 'linear', use_bias: true }, ['gap']),
    L('Add', 'add', {}, ['d1', 'd2']),
    L('LayerNormalization', 'ln', { axis: [-1], epsilon: 0.001, center: true, scale: true }, ['add']),
    L('Concatenate', 'cat', { axis: -1 }, ['ln', 'd2']),
    L('LeakyReLU', 'lrelu', { alpha: 0.2 }, ['cat']),
    L('Reshape', 'rs', { target_shape: [3, 4] }, ['lrelu']),
    L('Flatten', 'flat2', {}, ['rs']),
    L('Dense', 'out', { units: 3, activation: 'softmax', use_bias: true }, ['flat2']),
  ];
  const specs: [string, number[], ('uint8' | 'float16')?][] = [
    ['conv/kernel', [3, 3, 3, 4]], ['conv/bias', [4]], ['dw/depthwise_kernel', [3, 3, 4, 1]], ['dw/bias', [4]],
    ['bn/gamma', [4]], ['bn/beta', [4]], ['bn/moving_mean', [4]], ['bn/moving_variance', [4]],
    ['d1/kernel', [64, 6]], ['d1/bias', [6]], ['d2/kernel', [4, 6], 'float16'], ['d2/bias', [6]],
    ['ln/gamma', [6]], ['ln/beta', [6]], ['out/kernel', [12, 3], 'uint8'], ['out/bias', [3]],
  ];
  const r = caseRng(77, 0);
  const parts: Uint8Array[] = [];
  const weights = specs.map(([name, shape, q]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    if (q === 'uint8') {
      parts.push(Uint8Array.from({ length: n }, () => int(r, 256)));
      return { name, shape, dtype: 'float32', quantization: { dtype: 'uint8', min: -1, scale: 2 / 255, original_dtype: 'float32' } };
    }
    if (q === 'float16') {
      parts.push(new Uint8Array(Uint16Array.from({ length: n }, () => 0x3000 + int(r, 0x800)).buffer));
      return { name, shape, dtype: 'float32', quantization: { dtype: 'float16', original_dtype: 'float32' } };
    }
    const v = Float32Array.from({ length: n }, () => (name.endsWith('variance') ? 0.5 + r() : r() - 0.5));
    parts.push(new Uint8Array(v.buffer));
    return { name, shape, dtype: 'float32' };
  });
  const json = {
    format: 'layers-model',
    generatedBy: 'edgelm fuzz suite',
    convertedBy: null,
    modelTopology: { class_name: 'Functional', config: { name: 'zoo', layers, input_layers: [['in', 0, 0]], output_layers: [['out', 0, 0]] }, keras_version: 'tfjs-layers 4.22.0', backend: 'tensor_flow.js' },
    weightsManifest: [{ paths: ['weights.bin'], weights }],
  };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
  writeFileSync(join(dir, 'weights.bin'), Buffer.concat(parts));
}

