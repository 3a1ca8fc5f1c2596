// Shared by readers that fold shape subgraphs (ONNX's Shape→Gather→Concat, TF's Shape→StridedSlice→Pack)
// into constants while the batch size is unknown. Used by the TF.js GraphModel reader; the ONNX reader
// folds shapes symbolically (src/import/onnx/shapes.ts).
import type { Dim } from '../ir/dim.js';

/**
 * Stands for a run-time dim (the batch) inside folded shape values. A reshape target holding it at
 * index i, where the input's dim i is also run-time, becomes 0 ("copy dim i").
 */
export const DYNAMIC = -1_000_000_007;
/** A value computed from DYNAMIC by arithmetic edgelm does not track; refused if it reaches a shape. */
export const POISON = -1_000_000_009;

/** Shape dims as folded values: run-time dims become DYNAMIC. */
export const foldedShape = (shape: readonly Dim[]): number[] => shape.map((d) => (typeof d === 'number' ? d : DYNAMIC));

/**
 * Turns a folded reshape target into the IR's: DYNAMIC → 0 where the input's dim at that index is
 * run-time too. Returns an error message when the target cannot be expressed.
 */
export function reshapeTargetFromFolded(target: readonly number[], input: readonly Dim[]): number[] | string {
  const out: number[] = [];
  for (let i = 0; i < target.length; i++) {
    const d = target[i]!;
    if (d === DYNAMIC) {
      if (typeof input[i] === 'number') return `uses a run-time dim at index ${i}, where the input's dim is ${input[i]}`;
      out.push(0);
    } else if (d === POISON || d < -1) return 'is computed from a run-time dim in a way edgelm cannot fold';
    else out.push(d);
  }
  return out;
}
