// TF.js LayersModel reader: model.json ("layers-model") + weight shards → Graph.
import { EdgelmError, UnsupportedOpError, inputError } from '../../errors.js';
import { ReaderGraphBuilder } from '../builder.js';
import type { Graph } from '../../ir/graph.js';
import type { Layout } from '../../ir/ops/nn.js';
import type { Tensor } from '../../ir/tensor.js';
import { unnamedDim, type Dim } from '../../ir/dim.js';
import { isRecord, readJsonFile, tfjsMetadata } from '../files.js';
import { readWeights } from '../tfjs-weights.js';
import { ACTIVATIONS, LAYERS, type LayerContext } from './layers.js';

interface LayerSpec {
  className: string;
  name: string;
  config: Record<string, unknown>;
  /** Per call of the layer: the [layer, nodeIndex, tensorIndex] it reads. */
  inbound: [string, number, number][][];
  /** Per call: the keyword arguments recorded with it (Keras writes them as the 4th entry of each input). */
  kwargs: Record<string, unknown>[];
}

export function readLayersModel(file: string, json: unknown = readJsonFile(file)): Graph {
  if (!isRecord(json)) throw inputError(file, 'model.json must be a JSON object');
  let topology = json.modelTopology;
  if (isRecord(topology) && isRecord(topology.model_config)) topology = topology.model_config;
  if (!isRecord(topology) || typeof topology.class_name !== 'string')
    throw inputError(file, 'modelTopology needs a "class_name" (is this a TF.js LayersModel?)');
  const weights = readWeights(file, json.weightsManifest ?? []);
  const { layers, inputs, outputs } = parseTopology(file, topology);

  const unsupported = new Map<string, string>();
  for (const l of layers) {
    if (l.className !== 'InputLayer' && !Object.hasOwn(LAYERS, l.className)) {
      if (!unsupported.has(l.className)) unsupported.set(l.className, l.name);
      continue;
    }
    const act = l.config.activation;
    if (typeof act === 'string' && !Object.hasOwn(ACTIVATIONS, act) && !unsupported.has(`activation ${act}`))
      unsupported.set(`activation ${act}`, l.name);
  }
  if (unsupported.size) throw new UnsupportedOpError(file, 'the LayersModel', unsupported, Object.keys(LAYERS));

  const b = new ReaderGraphBuilder(file);
  const values = new Map<string, string>(); // "layer:node:tensor" → IR value name
  const key = (layer: string, node: number, tensor: number): string => `${layer}:${node}:${tensor}`;
  const usedWeights = new Set<string>();

  for (const layer of layers) {
    const weightOf = (suffix: string, required = true): Tensor | undefined => {
      // Weight names are "<layer>/<suffix>", possibly under a scope prefix ("model/<layer>/<suffix>").
      for (const [name, t] of weights)
        if (name === `${layer.name}/${suffix}` || name.endsWith(`/${layer.name}/${suffix}`)) {
          usedWeights.add(name);
          return t;
        }
      if (required) throw inputError(file, `layer '${layer.name}' (${layer.className}): weight '${layer.name}/${suffix}' is missing from the manifest`);
      return undefined;
    };
    if (layer.className === 'InputLayer') {
      const shape = (layer.config.batch_input_shape ?? layer.config.batchInputShape) as unknown;
      const dtype = layer.config.dtype === 'int32' ? 'int32' : 'float32';
      values.set(key(layer.name, 0, 0), b.addInput(layer.name, dtype, parseShape(file, layer.name, shape)));
      continue;
    }
    const calls = layer.inbound.length ? layer.inbound : [[]];
    calls.forEach((call, nodeIndex) => {
      const ins = call.map(([l, n, t]) => {
        const v = values.get(key(l, n, t));
        if (!v) throw inputError(file, `layer '${layer.name}' reads '${l}' (node ${n}), which is not defined before it`);
        return v;
      });
      if (!ins.length) {
        // First layer of a Sequential model without an InputLayer: its config carries the input shape.
        const shape = layer.config.batch_input_shape ?? layer.config.batchInputShape;
        if (!shape) throw inputError(file, `layer '${layer.name}' has no input and no batch_input_shape`);
        const dtype = layer.config.dtype === 'int32' ? 'int32' : 'float32';
        ins.push(b.addInput(`${layer.name}_input`, dtype, parseShape(file, layer.name, shape)));
      }
      const fail = (what: string): EdgelmError => inputError(file, `layer '${layer.name}' (${layer.className}): ${what}`);
      const ctx: LayerContext = {
        b,
        name: nodeIndex === 0 ? layer.name : `${layer.name}_${nodeIndex}`,
        config: layer.config,
        kwargs: layer.kwargs[nodeIndex] ?? {},
        weight: weightOf,
        layout: layer.config.data_format === 'channels_first' ? ('NCHW' as Layout) : ('NHWC' as Layout),
        fail,
        unsupported: (what: string) => new EdgelmError('unsupported', `${file}: layer '${layer.name}' (${layer.className}): ${what}`),
        // Keras records tensors passed by keyword (MultiHeadAttention's value=, key=) as [layer, node, tensor].
        tensor: (ref: unknown) => {
          if (!Array.isArray(ref) || typeof ref[0] !== 'string') throw fail(`keyword argument ${JSON.stringify(ref)} is not a [layer, node, tensor] reference`);
          const v = values.get(key(ref[0], Number(ref[1] ?? 0), Number(ref[2] ?? 0)));
          if (!v) throw fail(`reads '${ref[0]}' (node ${Number(ref[1] ?? 0)}), which is not defined before it`);
          return v;
        },
      };
      const out = LAYERS[layer.className as keyof typeof LAYERS](ctx, ins);
      values.set(key(layer.name, nodeIndex, 0), out);
    });
  }
  const unused = [...weights.keys()].filter((w) => !usedWeights.has(w));
  if (unused.length) throw inputError(file, `weights not used by any layer: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? ', …' : ''}`);

  const outNames = outputs.map(([l, n, t]) => {
    const v = values.get(key(l, n, t));
    if (!v) throw inputError(file, `model output '${l}' is not a layer output`);
    return v;
  });
  const name = typeof topology.config === 'object' && isRecord(topology.config) && typeof topology.config.name === 'string' ? topology.config.name : 'model';
  return b.build(name, 'tfjs-layers', outNames, { producer: 'TensorFlow.js Layers', ...tfjsMetadata(json) });
}

function parseShape(file: string, layer: string, shape: unknown): Dim[] {
  if (!Array.isArray(shape) || !shape.every((d) => d === null || (Number.isSafeInteger(d) && (d as number) > 0)))
    throw inputError(file, `layer '${layer}': batch_input_shape must be a list of positive integers or null`);
  return (shape as (number | null)[]).map((d, i) => d ?? unnamedDim(layer, i));
}

function parseTopology(file: string, topology: Record<string, unknown>): { layers: LayerSpec[]; inputs: [string, number, number][]; outputs: [string, number, number][] } {
  const cls = topology.class_name;
  const config = topology.config;
  const rawLayers = Array.isArray(config) ? config : isRecord(config) && Array.isArray(config.layers) ? config.layers : undefined;
  if (!rawLayers) throw inputError(file, 'modelTopology.config.layers must be a list');
  const layers: LayerSpec[] = rawLayers.map((l, i) => {
    if (!isRecord(l) || typeof l.class_name !== 'string' || !isRecord(l.config))
      throw inputError(file, `layer ${i} needs "class_name" and "config"`);
    const name = typeof l.config.name === 'string' ? l.config.name : typeof l.name === 'string' ? l.name : `layer_${i}`;
    const { inbound, kwargs } = parseInbound(file, name, l.inbound_nodes);
    return { className: l.class_name, name, config: l.config, inbound, kwargs };
  });
  if (cls === 'Sequential') {
    // Chain the layers; the first one is fed by its InputLayer or its own batch_input_shape.
    let prev: string | undefined;
    for (const l of layers) {
      if (l.className !== 'InputLayer') l.inbound = prev ? [[[prev, 0, 0]]] : [];
      prev = l.name;
    }
    const last = layers[layers.length - 1];
    if (!last) throw inputError(file, 'the Sequential model has no layers');
    return { layers, inputs: [], outputs: [[last.name, 0, 0]] };
  }
  if (cls === 'Model' || cls === 'Functional') {
    const ends = (v: unknown, what: string): [string, number, number][] => {
      if (!Array.isArray(v)) throw inputError(file, `modelTopology.config.${what} must be a list`);
      return v.map((e) => {
        if (!Array.isArray(e) || typeof e[0] !== 'string') throw inputError(file, `modelTopology.config.${what} has an invalid entry`);
        return [e[0], Number(e[1] ?? 0), Number(e[2] ?? 0)];
      });
    };
    const c = config as Record<string, unknown>;
    return { layers, inputs: ends(c.input_layers, 'input_layers'), outputs: ends(c.output_layers, 'output_layers') };
  }
  throw new EdgelmError('unsupported', `${file}: model class '${String(cls)}' is not supported (Sequential, Model/Functional are)`);
}

function parseInbound(file: string, layer: string, raw: unknown): Pick<LayerSpec, 'inbound' | 'kwargs'> {
  if (raw === undefined) return { inbound: [], kwargs: [] };
  if (!Array.isArray(raw)) throw inputError(file, `layer '${layer}': inbound_nodes must be a list`);
  const kwargs: Record<string, unknown>[] = [];
  const inbound = raw.map((call) => {
    if (!Array.isArray(call)) throw inputError(file, `layer '${layer}': invalid inbound node`);
    // Every input of one call carries the same kwargs; the first one's are kept.
    const first: unknown = Array.isArray(call[0]) ? call[0][3] : undefined;
    kwargs.push(isRecord(first) ? first : {});
    return call.map((e): [string, number, number] => {
      if (!Array.isArray(e) || typeof e[0] !== 'string') throw inputError(file, `layer '${layer}': invalid inbound entry`);
      return [e[0], Number(e[1] ?? 0), Number(e[2] ?? 0)];
    });
  });
  return { inbound, kwargs };
}
