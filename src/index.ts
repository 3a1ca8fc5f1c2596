// The edgelm library: the same functions the CLI calls.
//
//   import { loadModel, quantize, exportModel, evaluate } from 'edgelm';
//   const graph = await loadModel('model.json');
//   const { graph: g, plan } = await quantize(graph); // options left out get the CLI's defaults
//   await exportModel(g, 'tflite', 'model.tflite', ['model.json'], { quant: plan }); // inputs are never overwritten
export { VERSION as version } from './version.js';
export { DISTILL_DEFAULTS, EXPORT_DEFAULTS, PRUNE_DEFAULTS, QUANTIZE_DEFAULTS, TRAINING_DEFAULTS } from './defaults.js';
export { loadModel, detectFormat } from './import/index.js';
export { loadDataset } from './data/index.js';
export type { Dataset } from './data/index.js';
export type { Graph, Node } from './ir/graph.js';
export { quantizeModel as quantize, fitAccuracy } from './quantize/index.js';
export type { QuantizeOptions } from './quantize/index.js';
export type { QuantPlan } from './quantize/plan.js';
export { pruneModel as prune } from './prune/run.js';
export type { PruneOptions, PruneResult } from './prune/run.js';
export { parsePattern } from './prune/index.js';
export type { PrunePattern } from './prune/index.js';
export type { TrainingSettings } from './train/options.js';
export { distillModel as distill } from './distill/index.js';
export type { DistillOptions, DistillResult } from './distill/index.js';
export { writeExport as exportModel, exportFiles } from './export/index.js';
export type { ExportFormat, ExportOptions } from './export/index.js';
export { evaluate } from './report/eval.js';
export type { EvalResult } from './report/eval.js';
export { inspectGraph, inspectTflite } from './report/inspect.js';
export { runPipeline } from './pipeline/index.js';
export type { PipelineReport, Variant } from './pipeline/index.js';
export { loadPipeline, validatePipeline } from './pipeline/config.js';
export type { Pipeline } from './pipeline/config.js';
export { renderHtml, renderMarkdown } from './report/render.js';
export { EdgelmError } from './errors.js';
