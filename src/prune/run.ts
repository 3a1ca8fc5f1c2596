// `prune` as a library function: masks (or channel surgery), then optional fine-tuning that keeps
// the masks applied after every step. The CLI and pipelines call this.
import type { Dataset } from '../data/index.js';
import { fitToModel } from '../data/index.js';
import { usageError } from '../errors.js';
import { weightLayers, type Graph, type Node } from '../ir/graph.js';
import { loadTf, type Backend } from '../runtime/tfjs/backend.js';
import { train, type EpochStats, type TrainOptions } from '../train/loop.js';
import { crossEntropy } from '../train/losses.js';
import { TrainableModel } from '../train/model.js';
import { pruneChannels } from './channels.js';
import { applyMasks, computeMasks, prunableLayers, sparsityReport, type LayerSparsity, type PruneSpec } from './index.js';
import { polynomialSparsity } from './masks.js';

export interface PruneOptions extends PruneSpec {
  schedule?: 'constant' | 'polynomial';
  /** Fine-tuning data (labelled); with `training.epochs` > 0. */
  data?: Dataset;
  training?: Omit<TrainOptions, 'afterStep'>;
  backend?: Backend;
}

export interface PruneResult {
  graph: Graph;
  layers: LayerSparsity[];
  /** Fraction of zeros over the pruned layers' weights. */
  sparsity: number;
  weightsBefore: number;
  weightsAfter: number;
  history: EpochStats[];
}

const layerWeights = (g: Graph): number => weightLayers(g).reduce((s, l) => s + g.constants.get(l.inputs[1]!)!.data.length, 0);

export async function pruneModel(source: Graph, opts: PruneOptions): Promise<PruneResult> {
  const epochs = opts.training?.epochs ?? 0;
  if (epochs > 0 && !opts.data) throw usageError('fine-tuning (epochs > 0) needs labelled data');
  if (opts.schedule === 'polynomial' && epochs === 0) throw usageError('the polynomial schedule prunes during fine-tuning: give data and epochs');
  const weightsBefore = layerWeights(source);
  let graph = opts.pattern.kind === 'channel' ? pruneChannels(source, opts.sparsity, opts.exclude) : source;
  const layers: Node[] = prunableLayers(graph, opts);
  if (!layers.length) throw usageError(`${source.name}: no prunable layer (dense, conv, matMul with constant weights) left after the exclusions`);
  const structured = opts.pattern.kind === 'channel';
  let masks = structured ? new Map<string, Uint8Array>() : computeMasks(graph, layers, opts, opts.schedule === 'polynomial' ? 0 : opts.sparsity);
  graph = applyMasks(graph, masks);
  let history: EpochStats[] = [];
  if (epochs > 0) {
    const data = fitToModel(opts.data!, graph.inputs[0]!.shape);
    if (!data.y) throw usageError(`${data.source}: fine-tuning needs labels (y)`);
    const tf = await loadTf(opts.backend ?? 'wasm');
    const tm = new TrainableModel(tf, graph);
    const steps = epochs * Math.ceil(data.shape[0]! / opts.training!.batchSize);
    // Polynomial: sparsity rises over the first 3/4 of the steps, masks refreshed about 50 times.
    const end = Math.max(1, Math.floor(0.75 * steps));
    const every = Math.max(1, Math.round(end / 50));
    const maskTensors = new Map<string, ReturnType<typeof tf.tensor>>();
    const upload = (): void => {
      for (const t of maskTensors.values()) t.dispose();
      maskTensors.clear();
      for (const [name, m] of masks) maskTensors.set(name, tf.keep(tf.tensor(Float32Array.from(m), graph.constants.get(name)!.shape, 'float32')));
    };
    upload();
    const reapply = (): void =>
      tf.tidy(() => {
        for (const [name, m] of maskTensors) (tm.variables.get(name) as unknown as { assign(t: unknown): void }).assign(tf.mul(tm.variables.get(name)!, m));
      });
    try {
      history = await train(tf, tm, data, (logits, b) => crossEntropy(tf, logits, b.y!), {
        ...opts.training!,
        afterStep: (step) => {
          if (opts.schedule === 'polynomial' && step <= end && (step % every === 0 || step === end)) {
            masks = computeMasks(graph, layers, opts, polynomialSparsity(step, 0, opts.sparsity, 0, end), (n) => tm.read(n));
            upload();
          }
          reapply();
        },
      });
      graph = tm.toGraph();
    } finally {
      for (const t of maskTensors.values()) t.dispose();
      tm.dispose();
    }
  }
  const report = sparsityReport(graph, layers);
  return { graph, layers: report.layers, sparsity: report.total, weightsBefore, weightsAfter: layerWeights(graph), history };
}
