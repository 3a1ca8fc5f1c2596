// TFLite sparse tensors (schema.fbs SparsityParameters): a constant stored as its kept values plus, per
// traversed dimension, either a dense size or CSR segments and indices. The tensor's original dims may be
// split into blocks (block_map); traversal_order lists the original dims, then the block dims, in the
// order the values were written. Densified at import: the IR holds dense weights.
import type { Reader } from './index.js';

export interface TfliteDimMetadata {
  format: 'DENSE' | 'SPARSE_CSR';
  denseSize: number;
  segments: number[];
  indices: number[];
}

export interface TfliteSparsity {
  traversalOrder: number[];
  blockMap: number[];
  dims: TfliteDimMetadata[];
}

// Vtable slots (schema.fbs declaration order; a union takes two slots).
const SP = { traversal_order: 0, block_map: 1, dim_metadata: 2 } as const;
const DM = { format: 0, dense_size: 1, segments_type: 2, segments: 3, indices_type: 4, indices: 5 } as const;
/** SparseIndexVector union members: Int32Vector, Uint16Vector, Uint8Vector (each a table with `values`). */
const INDEX_KIND: Record<number, 'i32' | 'u16' | 'u8'> = { 1: 'i32', 2: 'u16', 3: 'u8' };

export function readSparsity(r: Reader, table: number, tensor: string, rank: number): TfliteSparsity {
  const traversalOrder = r.ints(table, SP.traversal_order);
  const blockMap = r.ints(table, SP.block_map);
  const indexVector = (dm: number, typeSlot: number, slot: number): number[] => {
    const kind = INDEX_KIND[r.scalar(dm, typeSlot, 'u8')];
    const t = r.ref(dm, slot);
    if (!kind || !t) r.fail(`sparse tensor '${tensor}' has a CSR dimension without index arrays`);
    return r.numbers(t, 0, kind);
  };
  const dims = r.tables(table, SP.dim_metadata).map((dm): TfliteDimMetadata => {
    const format = r.scalar(dm, DM.format, 'u8');
    if (format > 1) r.fail(`sparse tensor '${tensor}' has dimension type ${format}`);
    if (format === 0) return { format: 'DENSE', denseSize: r.scalar(dm, DM.dense_size, 'i32'), segments: [], indices: [] };
    return { format: 'SPARSE_CSR', denseSize: 0, segments: indexVector(dm, DM.segments_type, DM.segments), indices: indexVector(dm, DM.indices_type, DM.indices) };
  });
  const n = rank + blockMap.length;
  const order = [...traversalOrder].sort((a, b) => a - b);
  if (dims.length !== n || traversalOrder.length !== n || order.some((d, i) => d !== i) || blockMap.some((d) => d < 0 || d >= rank))
    r.fail(`sparse tensor '${tensor}': traversal order [${traversalOrder}], block map [${blockMap}] and ${dims.length} dimension entries do not describe a rank-${rank} tensor`);
  return { traversalOrder, blockMap, dims };
}

/**
 * Dense values of a sparse tensor of `shape`, element type `elemBytes` wide: every stored value lands at
 * its coordinate, the rest are zero. Every index is checked, so a damaged file fails instead of writing
 * out of bounds.
 */
export function densify(sp: TfliteSparsity, shape: number[], values: Uint8Array, elemBytes: number, fail: (what: string) => never): Uint8Array {
  const rank = shape.length;
  const n = sp.traversalOrder.length;
  // Size of every expanded dim: original dims divided by their block size, block dims their block size.
  const blockSize = sp.blockMap.map((_, b) => denseSizeOf(sp, rank + b, fail));
  const expanded = Array.from({ length: n }, (_, d) => {
    if (d >= rank) return blockSize[d - rank]!;
    const b = sp.blockMap.indexOf(d);
    return b < 0 ? shape[d]! : shape[d]! / blockSize[b]!;
  });
  if (expanded.some((s) => !Number.isInteger(s) || s < 0)) fail(`block sizes [${blockSize}] do not divide shape [${shape}]`);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, q) => p * q, 1));
  const out = new Uint8Array(shape.reduce((p, q) => p * q, 1) * elemBytes);
  const coord = new Array<number>(n).fill(0);
  const place = (valueIndex: number): void => {
    if ((valueIndex + 1) * elemBytes > values.length) fail(`value ${valueIndex} is past the ${values.length / elemBytes} stored`);
    let offset = 0;
    for (let d = 0; d < rank; d++) {
      const b = sp.blockMap.indexOf(d);
      offset += (b < 0 ? coord[d]! : coord[d]! * blockSize[b]! + coord[rank + b]!) * strides[d]!;
    }
    out.set(values.subarray(valueIndex * elemBytes, (valueIndex + 1) * elemBytes), offset * elemBytes);
  };
  // Walks the levels in traversal order; `at` is the position reached in the level above.
  const walk = (level: number, at: number): void => {
    if (level === n) return place(at);
    const dim = sp.traversalOrder[level]!;
    const m = sp.dims[level]!;
    if (m.format === 'DENSE') {
      if (m.denseSize !== expanded[dim]) fail(`dense dimension ${level} has size ${m.denseSize}, expected ${expanded[dim]}`);
      for (let i = 0; i < m.denseSize; i++) {
        coord[dim] = i;
        walk(level + 1, at * m.denseSize + i);
      }
      return;
    }
    const [lo, hi] = [m.segments[at], m.segments[at + 1]];
    if (lo === undefined || hi === undefined || lo > hi || hi > m.indices.length) fail(`CSR segment ${at} of dimension ${level} is out of range`);
    for (let j = lo; j < hi; j++) {
      const i = m.indices[j]!;
      if (i < 0 || i >= expanded[dim]!) fail(`CSR index ${i} of dimension ${level} is outside 0..${expanded[dim]! - 1}`);
      coord[dim] = i;
      walk(level + 1, j);
    }
  };
  walk(0, 0);
  return out;
}

function denseSizeOf(sp: TfliteSparsity, dim: number, fail: (what: string) => never): number {
  const level = sp.traversalOrder.indexOf(dim);
  const m = sp.dims[level]!;
  if (m.format !== 'DENSE') fail(`block dimension ${dim} is not dense`);
  return m.denseSize;
}
