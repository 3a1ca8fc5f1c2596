// Recognizes the decompositions exporters write for ops they had no node for, and puts the op back:
//   GELU (erf or tanh form):   x·0.5·(1 + erf(x/√2)), x·0.5·(1 + tanh(√(2/π)(x + 0.044715x³))) → gelu(x)
//   LayerNorm (opsets < 17):   (x − mean(x))/sqrt(mean((x − mean)²) + ε)·γ + β  → layerNorm(x, γ, β)
// Fewer nodes run faster, and TFLite has GELU but no ERF builtin.
import type { Graph, Node } from '../graph.js';
import { consumers, producers } from '../graph.js';
import { inferTypes } from '../infer.js';
import type { ValueType } from '../op.js';

const near = (v: number, want: number): boolean => Math.abs(v - want) <= 1e-6 * Math.max(1, Math.abs(want));

export function fusePatterns(graph: Graph): Graph {
  const made = producers(graph);
  const users = consumers(graph);
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const scalar = (v: string | undefined): number | undefined => {
    const c = v ? graph.constants.get(v) : undefined;
    return c && c.data.length === 1 ? Number(c.data[0]) : undefined;
  };
  /** The producer of `v` if it has op `op` and `v` feeds nothing else (and is no graph output). */
  const only = (v: string | undefined, op: string): Node | undefined => {
    const n = v ? made.get(v) : undefined;
    return n && n.op === op && (users.get(v!) ?? []).length === 1 && !outputs.has(v!) ? n : undefined;
  };
  /** The operand of a commutative binary node that is not `other`. */
  const otherOf = (n: Node, other: string): string | undefined => (n.inputs[0] === other ? n.inputs[1] : n.inputs[1] === other ? n.inputs[0] : undefined);
  /** erf(x/√2) or tanh(√(2/π)·(x + 0.044715·x³)) of `x`: the nodes it is made of. */
  const gelu = (v: string | undefined, x: string): { approximate: 'none' | 'tanh'; dead: Node[] } | undefined => {
    const erf = only(v, 'erf');
    if (erf) {
      const div = only(erf.inputs[0], 'div');
      return div && div.inputs[0] === x && near(scalar(div.inputs[1]) ?? NaN, Math.SQRT2) ? { approximate: 'none', dead: [erf, div] } : undefined;
    }
    const tanh = only(v, 'tanh');
    const scale = tanh ? only(tanh.inputs[0], 'mul') : undefined;
    const kIn = scale?.inputs.find((i) => near(scalar(i) ?? NaN, Math.sqrt(2 / Math.PI)));
    const poly = scale && kIn !== undefined ? only(otherOf(scale, kIn), 'add') : undefined;
    const termIn = poly ? otherOf(poly, x) : undefined;
    const term = only(termIn, 'mul');
    const cIn = term?.inputs.find((i) => near(scalar(i) ?? NaN, 0.044715));
    const cubeIn = term && cIn !== undefined ? otherOf(term, cIn) : undefined;
    // x³ as pow(x, 3) (PyTorch) or mul(mul(x, x), x) (edgelm's writer).
    const pow = only(cubeIn, 'pow');
    if (pow && pow.inputs[0] === x && scalar(pow.inputs[1]) === 3) return { approximate: 'tanh', dead: [tanh!, scale!, poly!, term!, pow] };
    const cube = only(cubeIn, 'mul');
    const squareIn = cube ? otherOf(cube, x) : undefined;
    const square = only(squareIn, 'mul');
    if (cube && square && square.inputs[0] === x && square.inputs[1] === x) return { approximate: 'tanh', dead: [tanh!, scale!, poly!, term!, cube, square] };
    return undefined;
  };
  let types: Map<string, ValueType> | undefined;
  const removed = new Set<Node>();
  const replaced = new Map<Node, Node>();

  for (const n of graph.nodes) {
    if (removed.has(n)) continue;
    // GELU: the product x · 0.5 · (1 + erf(x/√2)) or x · 0.5 · (1 + tanh(√(2/π)·(x + 0.044715·x³))),
    // its three factors grouped in either order (PyTorch and edgelm's own ONNX writer differ).
    if (n.op === 'mul') {
      for (const innerIn of n.inputs) {
        const inner = only(innerIn, 'mul');
        const outer = otherOf(n, innerIn);
        if (!inner || outer === undefined) continue;
        const factors = [outer, ...inner.inputs];
        const half = factors.find((v) => near(scalar(v) ?? NaN, 0.5));
        for (const addIn of factors) {
          const add = only(addIn, 'add');
          const one = add?.inputs.find((v) => near(scalar(v) ?? NaN, 1));
          const x = factors.find((v) => v !== half && v !== addIn);
          if (half === undefined || !add || one === undefined || x === undefined || factors.length !== 3) continue;
          const gate = gelu(otherOf(add, one), x);
          if (!gate) continue;
          for (const dead of [inner, add, ...gate.dead]) removed.add(dead);
          replaced.set(n, { name: n.name, op: 'gelu', inputs: [x], outputs: n.outputs, attrs: { approximate: gate.approximate } });
          break;
        }
        if (replaced.has(n)) break;
      }
    }
    // LayerNorm: add(mul(div(sub(x, mean(x)), sqrt(add(mean(pow(sub, 2)), ε))), γ), β) over the last axis.
    if (n.op === 'add') {
      for (const mulIn of n.inputs) {
        const mul = only(mulIn, 'mul');
        const beta = otherOf(n, mulIn);
        if (!mul || !beta || !graph.constants.has(beta)) continue;
        const divIn = mul.inputs.find((v) => made.get(v)?.op === 'div');
        const gamma = divIn ? otherOf(mul, divIn) : undefined;
        const div = only(divIn, 'div');
        if (!div || !gamma || !graph.constants.has(gamma)) continue;
        const sub = made.get(div.inputs[0]!);
        const sqrt = only(div.inputs[1], 'sqrt');
        const addEps = sqrt ? only(sqrt.inputs[0], 'add') : undefined;
        const epsIn = addEps?.inputs.find((v) => scalar(v) !== undefined);
        const varMean = addEps && epsIn ? only(otherOf(addEps, epsIn), 'reduceMean') : undefined;
        const pow = varMean ? only(varMean.inputs[0], 'pow') : undefined;
        if (!sub || sub.op !== 'sub' || !pow || pow.inputs[0] !== sub.outputs[0] || scalar(pow.inputs[1]) !== 2) continue;
        const mean = made.get(sub.inputs[1]!);
        const x = sub.inputs[0]!;
        const rank = (types ??= inferTypes(graph, graph.name)).get(x)?.shape.length ?? -1;
        const lastAxis = (m: Node): boolean => {
          const axes = m.attrs.axes as number[] | undefined;
          return m.attrs.keepDims === true && !!axes && axes.length === 1 && (axes[0] === -1 || axes[0] === rank - 1);
        };
        if (!mean || mean.op !== 'reduceMean' || mean.inputs[0] !== x || !lastAxis(mean) || !lastAxis(varMean!)) continue;
        // sub feeds pow and div only; mean feeds sub only.
        if ((users.get(sub.outputs[0]!) ?? []).length !== 2 || (users.get(mean.outputs[0]!) ?? []).length !== 1) continue;
        for (const dead of [mul, div, sub, sqrt!, addEps!, varMean!, pow, mean]) removed.add(dead);
        replaced.set(n, { name: n.name, op: 'layerNorm', inputs: [x, gamma, beta], outputs: n.outputs, attrs: { axis: -1, epsilon: scalar(epsIn)! } });
        break;
      }
    }
  }
  if (!replaced.size) return graph;
  const nodes = graph.nodes.filter((n) => !removed.has(n)).map((n) => replaced.get(n) ?? n);
  const used = new Set(nodes.flatMap((n) => n.inputs));
  const constants = new Map([...graph.constants].filter(([name]) => used.has(name) || outputs.has(name)));
  return { ...graph, nodes, constants };
}
