// `prune` as a library function: masks (or channel surgery), then optional fine-tuning that keeps
// the masks applied after every step. The CLI and pipelines call this.
import type { Dataset } from '../data/index.js';
import { fitToModel } from '../data/index.js';
import { PRUNE_DEFAULTS } from '../defaults.js';
import { usageError } from '../errors.js';
import { weightLayers, type Graph, type Node } from '../ir/graph.js';
import { loadTf, type Backend } from '../runtime/tfjs/backend.js';
import { checkPatternsMatch } from '../quantize/options.js';
import { excludeFilter } from '../quantize/plan.js';
import { train, type EpochStats } from '../train/loop.js';
import { checkBackend, rangeError, resolveTraining, type TrainingSettings } from '../train/options.js';
import { crossEntropy } from '../train/losses.js';
import { TrainableModel } from '../train/model.js';
import { pruneChannels } from './channels.js';
import { applyMasks, computeMasks, parsePattern, prunableLayers, sparsityReport, type LayerSparsity, type PrunePattern, type PruneSpec } from './index.js';
import { polynomialSparsity } from './masks.js';

export interface PruneOptions {
  /** Fraction of the weights to remove, in [0, 1). */
  sparsity: number;
  /** 'layer': each layer to the sparsity; 'global': one magnitude threshold across layers (unstructured only). */
  scope?: 'layer' | 'global';
  /** 'unstructured', 'channel' or 'N:M' (e.g. '2:4'), or a parsed pattern. */
  pattern?: string | PrunePattern;
  /** Layers left dense: node-name patterns (globs or substrings, each must match a node) or a filter. */
  exclude?: readonly string[] | ((node: Node) => boolean);
  /** 'constant' (prune once, then fine-tune) or 'polynomial' (sparsity grows during fine-tuning). */
  schedule?: 'constant' | 'polynomial';
  /** Fine-tuning data (labelled); needed when `training.epochs` > 0. */
  data?: Dataset;
  /** Fine-tuning settings; epochs 0 (the default) prunes without training. */
  training?: Partial<TrainingSettings>;
  backend?: Backend;
}

export interface ResolvedPruneOptions extends PruneSpec {
  schedule: 'constant' | 'polynomial';
  training: TrainingSettings;
  backend: Backend;
  /** The exclude patterns, when given as patterns (each must match a node). */
  patterns: readonly string[];
}

/**
 * The options with defaults filled in, or a usage error for a value out of range or a setting that
 * would have no effect. `data` is only checked for presence (the CLI checks before loading it).
 */
export function resolvePruneOptions(opts: Omit<PruneOptions, 'data'> & { data?: unknown }): ResolvedPruneOptions {
  if (!(typeof opts.sparsity === 'number' && opts.sparsity >= 0 && opts.sparsity < 1)) throw rangeError('--sparsity', 'a fraction in [0, 1)', opts.sparsity);
  const scope = opts.scope ?? PRUNE_DEFAULTS.scope;
  if (scope !== 'layer' && scope !== 'global') throw rangeError('--scope', 'layer or global', scope);
  const schedule = opts.schedule ?? PRUNE_DEFAULTS.schedule;
  if (schedule !== 'constant' && schedule !== 'polynomial') throw rangeError('--schedule', 'constant or polynomial', schedule);
  const pattern = typeof (opts.pattern ?? PRUNE_DEFAULTS.pattern) === 'string' ? parsePattern((opts.pattern ?? PRUNE_DEFAULTS.pattern) as string) : (opts.pattern as PrunePattern);
  if (scope === 'global' && pattern.kind !== 'unstructured') throw usageError(`--scope global has no effect with --pattern ${pattern.kind === 'nm' ? `${pattern.n}:${pattern.m}` : 'channel'}: one threshold across layers applies to unstructured pruning`);
  const training = resolveTraining(opts.training, { epochs: PRUNE_DEFAULTS.epochs, lr: PRUNE_DEFAULTS.lr, minEpochs: 0 });
  if (training.epochs > 0 && opts.data === undefined) throw usageError('--epochs needs --data: fine-tuning trains on labelled samples');
  if (schedule === 'polynomial' && training.epochs === 0) throw usageError('--schedule polynomial prunes during fine-tuning: give --data and --epochs');
  const backend = checkBackend(opts.backend ?? PRUNE_DEFAULTS.backend);
  const patterns = typeof opts.exclude === 'function' ? [] : (opts.exclude ?? []);
  const exclude = typeof opts.exclude === 'function' ? opts.exclude : excludeFilter(patterns);
  return { sparsity: opts.sparsity, scope, pattern, exclude, schedule, training, backend, patterns };
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

/** Prunes `source` (see PruneOptions; options not given get the CLI's defaults) and fine-tunes it when `training.epochs` > 0. */
export async function pruneModel(source: Graph, options: PruneOptions): Promise<PruneResult> {
  const opts = resolvePruneOptions(options);
  checkPatternsMatch(source, opts.patterns);
  const epochs = opts.training.epochs;
  const weightsBefore = layerWeights(source);
  let graph = opts.pattern.kind === 'channel' ? pruneChannels(source, opts.sparsity, opts.exclude) : source;
  const layers: Node[] = prunableLayers(graph, opts);
  if (!layers.length) throw usageError(`${source.name}: no prunable layer (dense, conv, matMul with constant weights) left after the exclusions`);
  const structured = opts.pattern.kind === 'channel';
  let masks = structured ? new Map<string, Uint8Array>() : computeMasks(graph, layers, opts, opts.schedule === 'polynomial' ? 0 : opts.sparsity);
  graph = applyMasks(graph, masks);
  let history: EpochStats[] = [];
  if (epochs > 0) {
    const data = fitToModel(options.data!, graph.inputs[0]!.shape);
    if (!data.y) throw usageError(`${data.source}: fine-tuning needs labels (y)`);
    const tf = await loadTf(opts.backend);
    const tm = new TrainableModel(tf, graph);
    const steps = epochs * Math.ceil(data.shape[0]! / opts.training.batchSize);
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
        ...opts.training,
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
