// A Graph as a trainable TF.js function: its layer weights, embedding tables and added tensors
// (biases, learned positions) become variables, everything else stays constant, and the forward pass
// is the reference executor's. Training edits the weights in place; `toGraph()` writes them back as
// constants of a new Graph.
import { EdgelmError } from '../errors.js';
import type { Graph, Node } from '../ir/graph.js';
import type { Tf, TfTensor } from '../ir/op.js';
import { producers } from '../ir/graph.js';
import { forward, toTfTensor } from '../runtime/tfjs/executor.js';
import { isMaskConstant, type Tensor } from '../ir/tensor.js';
import { requireRankAtMost } from '../ir/verify.js';

/** Weight-bearing ops and which of their inputs are trainable parameters (batch-norm statistics are not). */
const PARAM_INPUTS: Partial<Record<string, number[]>> = {
  dense: [1, 2],
  conv2d: [1, 2],
  depthwiseConv2d: [1, 2],
  conv2dTranspose: [1, 2],
  matMul: [1],
  prelu: [1],
  layerNorm: [1, 2],
  batchNorm: [1, 2],
};

/**
 * Whether constant `c` is a parameter of node `n` beyond PARAM_INPUTS:
 * - the table of a `gather` with run-time indices (an embedding);
 * - a tensor operand of an `add` (a learned position table, or a bias that an importer split off its
 *   MatMul), but not a scalar or one-element constant (an ε, an offset) and not a mask: one holding
 *   a non-finite value or one of magnitude ≥ 1e4 (isMaskConstant).
 */
function isLearnedOperand(graph: Graph, n: Node, i: number, c: Tensor): boolean {
  if (n.op === 'gather') return i === 0 && !graph.constants.has(n.inputs[1] ?? '');
  return n.op === 'add' && c.data.length >= 2 && !isMaskConstant(c);
}

export function trainableNames(graph: Graph): string[] {
  const names = new Set<string>();
  for (const n of graph.nodes)
    n.inputs.forEach((v, i) => {
      const c = v ? graph.constants.get(v) : undefined;
      if (!c || c.dtype !== 'float32' || names.has(v)) return;
      if ((PARAM_INPUTS[n.op] ?? []).includes(i) || isLearnedOperand(graph, n, i, c)) names.add(v);
    });
  return [...names];
}

/**
 * The value holding the model's logits: the input of a final softmax (training needs logits, and
 * distillation softens them), otherwise the first output.
 */
export function logitsValue(graph: Graph): string {
  const out = graph.outputs[0]!.name;
  const p = producers(graph).get(out);
  return p?.op === 'softmax' ? p.inputs[0]! : out;
}

export class TrainableModel {
  readonly variables = new Map<string, TfTensor>();
  private readonly weights = new Map<string, TfTensor>();
  readonly logits: string;

  constructor(
    readonly tf: Tf,
    readonly graph: Graph,
    trainable: readonly string[] = trainableNames(graph),
  ) {
    requireRankAtMost(graph, graph.name, 'TF.js training');
    const train = new Set(trainable);
    for (const [name, t] of graph.constants) {
      const value = toTfTensor(tf, t);
      if (train.has(name)) {
        const v = tf.variable(value, true, `edgelm/${name}`);
        value.dispose();
        this.variables.set(name, v as unknown as TfTensor);
        this.weights.set(name, v as unknown as TfTensor);
      } else this.weights.set(name, tf.keep(value));
    }
    this.logits = logitsValue(graph);
    if (!graph.inputs.length) throw new EdgelmError('input', `${graph.name}: the model has no inputs`);
  }

  /** Logits for a batch (inside the caller's tidy or gradient scope). */
  forward(x: TfTensor): TfTensor {
    return forward(this.tf, this.graph, this.weights, { [this.graph.inputs[0]!.name]: x }, [this.logits])[0]!;
  }

  /** Replaces a variable's value (masks, checkpoints). */
  assign(name: string, data: Float32Array): void {
    const v = this.variables.get(name) as unknown as { assign(t: TfTensor): void; shape: number[] } | undefined;
    if (!v) throw new EdgelmError('usage', `${this.graph.name}: '${name}' is not a trainable weight`);
    const t = this.tf.tensor(data, v.shape, 'float32');
    v.assign(t);
    t.dispose();
  }

  read(name: string): Float32Array {
    return (this.weights.get(name)!.dataSync() as Float32Array).slice();
  }

  /** The graph with the trained weights as its constants. */
  toGraph(): Graph {
    const constants = new Map<string, Tensor>(this.graph.constants);
    for (const name of this.variables.keys()) {
      const old = this.graph.constants.get(name)!;
      constants.set(name, { ...old, data: this.read(name) });
    }
    return { ...this.graph, constants };
  }

  dispose(): void {
    for (const t of this.weights.values()) t.dispose();
    this.weights.clear();
    this.variables.clear();
  }
}
