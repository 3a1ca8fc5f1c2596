// Deterministic ONNX models for the benchmarks, written with edgelm's own ONNX builder (onnx-proto).
import { closeSync, existsSync, openSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { OnnxGraphBuilder, attr } from '../dist/export/onnx/proto.js';

/** Uniform weights in ±limit from an LCG (Glorot-like), deterministic per seed. */
export function weights(count, fanIn, fanOut, seed) {
  const out = new Float32Array(count);
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * 2 * limit;
  }
  return out;
}

/**
 * An MLP of Gemm layers (widths[i] → widths[i+1], ReLU between), input [N, widths[0]]; `matmul`
 * writes MatMul + Add instead of Gemm. Skips writing when `file` already has the expected size.
 */
export function writeMlp(file, widths, { matmul = false, batch = 'N', opset = 13 } = {}) {
  const b = new OnnxGraphBuilder('bench_mlp');
  let x = b.input('x', 'float32', [batch, widths[0]]);
  let bytes = 0;
  for (let i = 0; i + 1 < widths.length; i++) {
    const [k, n] = [widths[i], widths[i + 1]];
    const w = b.initializer(`fc${i}.weight`, 'float32', [k, n], weights(k * n, k, n, 1000 + i));
    const bias = b.initializer(`fc${i}.bias`, 'float32', [n], new Float32Array(n).fill(0.01));
    bytes += (k * n + n) * 4;
    x = matmul ? b.node1('Add', [b.node1('MatMul', [x, w], {}, `fc${i}/MatMul`), bias], {}, `fc${i}/Add`) : b.node1('Gemm', [x, w, bias], {}, `fc${i}`);
    if (i + 2 < widths.length) x = b.node1('Relu', [x], {}, `relu${i}`);
  }
  b.output(x, 'float32', [batch, widths.at(-1)]);
  if (existsSync(file) && Math.abs(statSync(file).size - bytes) < 1 << 20) return file;
  writeFileSync(file, b.encode({ opset, producer: 'edgelm-bench' }));
  void attr;
  return file;
}

/**
 * A square MLP (`layers` Gemm layers of width × width, ReLU between) whose weights live in external
 * data (`<file>.data`), written one layer at a time so that models past 2 GiB need little memory.
 * Skips writing when both files are already there with the expected size.
 */
export function writeExternalMlp(file, width, layers, seed) {
  const data = `${file}.data`;
  const expected = layers * (width * width + width) * 4;
  if (existsSync(file) && existsSync(data) && statSync(data).size === expected) return file;
  const location = data.split('/').pop();
  const b = new OnnxGraphBuilder('external_mlp');
  let x = b.input('x', 'float32', ['N', width]);
  const fd = openSync(data, 'w');
  let offset = 0;
  for (let i = 0; i < layers; i++) {
    for (const [name, shape, arr] of [[`fc${i}.weight`, [width, width], weights(width * width, width, width, seed + i)], [`fc${i}.bias`, [width], new Float32Array(width).fill(0.01)]]) {
      const bytes = new Uint8Array(arr.buffer);
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, Math.min(1 << 26, bytes.length - done), offset + done);
      b.initializer(name, 'float32', shape, arr, { location, offset });
      offset += bytes.length;
    }
    x = b.node1('Gemm', [x, `fc${i}.weight`, `fc${i}.bias`], {}, `fc${i}`);
    if (i + 1 < layers) x = b.node1('Relu', [x], {}, `relu${i}`);
  }
  closeSync(fd);
  b.output(x, 'float32', ['N', width]);
  writeFileSync(file, b.encode({ opset: 13, producer: 'edgelm-bench' }));
  return file;
}
