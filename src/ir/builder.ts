import { inferNode } from './value-dims.js';
import { EdgelmError } from '../errors.js';
import type { DType } from './dtype.js';
import { pruneUnused, type Attrs, type Graph, type Node } from './graph.js';
import { ShapeError, type ValueType } from './op.js';
import { attrsOf, opDef, type OpType } from './registry.js';
import type { Tensor, ValueInfo } from './tensor.js';

/**
 * Builds a Graph node by node, the way every reader does: names kept unique, shapes inferred as
 * nodes are added (so a reader can ask the shape of any value), errors naming the source node.
 */
export class GraphBuilder {
  readonly inputs: ValueInfo[] = [];
  readonly nodes: Node[] = [];
  readonly constants = new Map<string, Tensor>();
  private readonly types = new Map<string, ValueType>();
  private readonly names = new Set<string>();

  constructor(
    /** The file being read: the prefix of every error message. */
    readonly file: string,
  ) {}

  /** A name not used yet, based on `base`. */
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  has(name: string): boolean {
    return this.types.has(name);
  }

  addInput(name: string, dtype: DType, shape: ValueInfo['shape']): string {
    const n = this.fresh(name);
    this.inputs.push({ name: n, dtype, shape });
    this.types.set(n, { dtype, shape: [...shape] });
    return n;
  }

  addConstant(t: Tensor): string {
    const name = this.fresh(t.name);
    const tensor = name === t.name ? t : { ...t, name };
    this.constants.set(name, tensor);
    this.types.set(name, { dtype: t.dtype, shape: [...t.shape] });
    return name;
  }

  constant(name: string): Tensor | undefined {
    return this.constants.get(name);
  }

  typeOf(name: string): ValueType {
    const t = this.types.get(name);
    if (!t) throw new EdgelmError('input', `${this.file}: value '${name}' is used before it is defined`);
    return t;
  }

  /**
   * Adds a node and returns its output names. `source` names the node in the source file for errors.
   * Output names default to the node name (suffixed :1, :2 ... for extra outputs).
   */
  add(op: OpType, inputs: string[], attrs: Attrs = {}, opts: { name?: string; outputs?: string[]; source?: string } = {}): string[] {
    const def = opDef(op);
    const name = this.fresh(opts.name ?? op);
    const ins = inputs.map((i) => (i ? this.typeOf(i) : undefined)).filter((t): t is ValueType => t !== undefined);
    const node: Node = { name, op, inputs, outputs: [], attrs };
    let outs: ValueType[];
    try {
      outs = inferNode(def, ins, attrsOf(node), node);
    } catch (e) {
      if (e instanceof ShapeError) throw new EdgelmError('input', `${this.file}: node ${opts.source ?? name} (${op}): ${e.message}`);
      throw e;
    }
    node.outputs = outs.map((_, i) => {
      const wanted = opts.outputs?.[i] ?? (i === 0 ? name : `${name}:${i}`);
      return wanted === name ? name : this.fresh(wanted);
    });
    node.outputs.forEach((o, i) => this.types.set(o, outs[i]!));
    this.nodes.push(node);
    return node.outputs;
  }

  /** Shortcut for single-output nodes. */
  add1(op: OpType, inputs: string[], attrs: Attrs = {}, opts: { name?: string; source?: string } = {}): string {
    return this.add(op, inputs, attrs, opts)[0]!;
  }

  /** Finishes the graph; outputs get the inferred types. Unused nodes and constants are dropped. */
  build(name: string, format: string, outputs: string[], metadata: Record<string, string> = {}): Graph {
    const outs = outputs.map((o) => ({ name: o, ...this.typeOf(o) }));
    return pruneUnused({ name, format, inputs: this.inputs, outputs: outs, nodes: this.nodes, constants: this.constants, metadata });
  }
}
