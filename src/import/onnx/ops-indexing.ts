// ONNX → IR for Tile, GatherElements and EyeLike. Merged into ONNX_OPS (ops.ts).
import { dtypeFromOnnx } from '../../ir/dtype.js';
import { isStaticDim } from '../../ir/dim.js';
import { attrInt, bindConst, constTensor, emit, requiredInts, type OnnxCtx, type Translate } from './ctx.js';

export const INDEXING_OPS: Record<string, Translate> = {
  Tile: (c) => {
    const rank = c.typeOf(c.input(0)).shape.length;
    const repeats = requiredInts(c, 1, 'repeats');
    if (repeats.length !== rank) throw c.fail(`${repeats.length} repeats for a rank-${rank} input`);
    if (repeats.some((r) => r < 0)) throw c.fail(`repeats [${repeats}] must not be negative`);
    emit(c, 'tile', [c.input(0)], { repeats });
  },
  GatherElements: (c) => void emit(c, 'gatherElements', [c.input(0), c.input(1)], { axis: attrInt(c, 'axis', 0) }),
  // A constant: ones on the k-th diagonal of the input's (static) 2-D shape.
  EyeLike: (c: OnnxCtx) => {
    const x = c.typeOf(c.input(0));
    if (x.shape.length !== 2) throw c.fail(`the input has rank ${x.shape.length}; EyeLike takes rank 2`);
    if (!x.shape.every(isStaticDim)) throw c.fail(`the input's shape [${x.shape}] has run-time dims; edgelm folds EyeLike to a constant`);
    const [rows, cols] = x.shape as [number, number];
    const code = attrInt(c, 'dtype', -1);
    const dtype = code === -1 ? x.dtype : dtypeFromOnnx(code);
    if (!dtype) throw c.fail(`dtype ${code} is not one edgelm has`);
    const k = attrInt(c, 'k', 0);
    const v = new Array<number>(rows * cols).fill(0);
    for (let i = 0; i < rows; i++) if (i + k >= 0 && i + k < cols) v[i * cols + i + k] = 1;
    bindConst(c, 0, constTensor(c, dtype, [rows, cols], v));
  },
};
