// Warnings a person should see before shipping an artifact, shared by the terminal and the reports.

/**
 * How much slower than its float export a quantized artifact may measure before it is flagged, as a
 * ratio and in milliseconds: above the noise of a median latency on a busy machine. A real case
 * measured here is 1.6–3.4× (0.077 vs 0.047 ms): onnxruntime runs the QDQ convolutions of a small CNN by dequantizing their weights on
 * every call.
 */
export const SLOWER_THAN_FLOAT = { ratio: 1.25, ms: 0.01 };

/**
 * The warning for a quantized artifact slower than the float model in the same runtime, if it is:
 * `than` names that float model (its float export, or the source when that runs in the same runtime).
 */
export function slowerThanFloat(file: string, runtime: string, quantizedMs: number, floatMs: number, than = 'its float export'): string | undefined {
  if (!(floatMs > 0) || quantizedMs / floatMs <= SLOWER_THAN_FLOAT.ratio || quantizedMs - floatMs <= SLOWER_THAN_FLOAT.ms) return undefined;
  const ms = (v: number): string => `${v.toFixed(3)} ms`;
  return `${file} runs ${(quantizedMs / floatMs).toFixed(1)}× slower than ${than} in ${runtime} (${ms(quantizedMs)} vs ${ms(floatMs)}): quantization saves size here, not time`;
}

/** `quantize --data`: the artifact against its source, when both ran in the same runtime. */
export function slowerThanSource(source: { runtime: string; latencyMs?: number }, artifact: { file: string; runtime: string; latencyMs?: number }): string | undefined {
  if (source.latencyMs === undefined || artifact.latencyMs === undefined) return undefined;
  return source.runtime === artifact.runtime ? slowerThanFloat(artifact.file, artifact.runtime, artifact.latencyMs, source.latencyMs, 'the float source') : undefined;
}
