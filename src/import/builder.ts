// The GraphBuilder the readers use: a node's inputs are checked against its op's arity before shape
// inference runs. A damaged file can leave a node without a required input (a dropped ONNX input
// name, a one-input GatherV2); the ops' infer functions index their inputs without checking, so
// without this the reader fails with a TypeError (an internal error) instead of naming the node.
import { EdgelmError } from '../errors.js';
import { GraphBuilder } from '../ir/builder.js';
import type { Attrs } from '../ir/graph.js';
import { opDef, type OpType } from '../ir/registry.js';

export class ReaderGraphBuilder extends GraphBuilder {
  override add(op: OpType, inputs: string[], attrs: Attrs = {}, opts: { name?: string; outputs?: string[]; source?: string } = {}): string[] {
    const [min, max] = opDef(op).arity;
    // The rule verifyGraph applies: required inputs present, at most `max` in all.
    const missing = Array.from({ length: min }, (_, j) => j).find((j) => !inputs[j]);
    if (missing !== undefined || inputs.length > max) {
      const what = missing !== undefined ? `required input ${missing} is missing` : `${inputs.length} inputs, at most ${max} allowed`;
      throw new EdgelmError('input', `${this.file}: node ${opts.source ?? opts.name ?? op} (${op}): ${what}`);
    }
    return super.add(op, inputs, attrs, opts);
  }
}
