// Warnings a person should see before shipping an artifact, shared by the terminal and the reports.

/**
 * How much slower than its float export a quantized artifact may measure before it is flagged. Above
 * the noise of a median of 20 runs on a busy machine; a real case measured here is 2.4×: onnxruntime
 * runs QDQ convolutions of a small CNN by dequantizing their weights on every call.
 */
export const SLOWER_THAN_FLOAT = 1.25;

/** The warning for a quantized artifact slower than the float export of the same model in the same runtime, if it is. */
export function slowerThanFloat(file: string, runtime: string, quantizedMs: number, floatMs: number): string | undefined {
  if (!(floatMs > 0) || quantizedMs / floatMs <= SLOWER_THAN_FLOAT) return undefined;
  const ms = (v: number): string => `${v.toFixed(3)} ms`;
  return `${file} runs ${(quantizedMs / floatMs).toFixed(1)}× slower than its float export in ${runtime} (${ms(quantizedMs)} vs ${ms(floatMs)}): quantization saves size here, not time`;
}
