// ONNX → IR for InstanceNormalization (opsets 1–21): each (sample, channel) normalized over its spatial
// dims, then scaled and shifted per channel; written as reductions and elementwise ops so every writer
// carries it. Merged into ONNX_OPS (ops.ts).
import { EdgelmError } from '../../errors.js';
import { attrFloat, type OnnxCtx, type Translate } from './ctx.js';

const node = (c: OnnxCtx, what: string): { name: string; source: string } => ({ name: `${c.name}/${what}`, source: c.name });

/** A per-channel [C] vector as [C, 1, …] so that it lines up with axis 1 of a rank-`rank` input. */
function perChannel(c: OnnxCtx, i: number, what: string, rank: number): string {
  const v = c.input(i);
  const shape = c.typeOf(v).shape;
  if (shape.length !== 1) throw new EdgelmError('input', `${c.file}: node ${c.name} (${c.opType}): ${what} has rank ${shape.length}; it must be 1-D (one value per channel)`);
  const ones = Array.from({ length: rank - 2 }, (_, k) => 1 + k);
  const k = c.konst(i);
  if (k) return c.b.addConstant({ ...k, name: `${c.name}/${what}_per_channel`, shape: [...k.shape, ...ones.map(() => 1)] });
  return c.b.add1('unsqueeze', [v], { axes: ones }, node(c, `${what}_per_channel`));
}

function instanceNormalization(c: OnnxCtx): void {
  if (!c.input(0) || !c.input(1) || !c.input(2)) throw new EdgelmError('input', `${c.file}: node ${c.name} (InstanceNormalization): needs inputs input, scale and B`);
  const x = c.typeOf(c.input(0));
  const rank = x.shape.length;
  if (rank < 3) throw new EdgelmError('input', `${c.file}: node ${c.name} (InstanceNormalization): the input has rank ${rank}; it needs N, C and spatial dims`);
  if (x.dtype !== 'float32') throw c.fail(`a ${x.dtype} input is not supported (float32 only)`);
  const epsilon = c.b.addConstant({ name: `${c.name}/epsilon`, dtype: 'float32', shape: [], data: Float32Array.of(attrFloat(c, 'epsilon', 1e-5)) });
  const axes = Array.from({ length: rank - 2 }, (_, k) => 2 + k);
  const b = c.b;
  const mean = b.add1('reduceMean', [c.input(0)], { axes, keepDims: true }, node(c, 'mean'));
  const d = b.add1('sub', [c.input(0), mean], {}, node(c, 'centered'));
  const variance = b.add1('reduceMean', [b.add1('mul', [d, d], {}, node(c, 'squared'))], { axes, keepDims: true }, node(c, 'variance'));
  const inv = b.add1('rsqrt', [b.add1('add', [variance, epsilon], {}, node(c, 'variance_eps'))], {}, node(c, 'inv_std_dev'));
  const scaled = b.add1('mul', [b.add1('mul', [d, inv], {}, node(c, 'normalized')), perChannel(c, 1, 'scale', rank)], {}, node(c, 'scaled'));
  c.bind(0, b.add1('add', [scaled, perChannel(c, 2, 'B', rank)], {}, { name: c.outputs[0] || c.name, source: c.name }));
}

export const INSTANCENORM_OPS: Record<string, Translate> = { InstanceNormalization: instanceNormalization };
