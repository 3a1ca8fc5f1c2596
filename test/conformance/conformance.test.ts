// The ONNX backend test suite through every stage (see docs/conformance.md for what is counted and how).
// A wrong number, a crash or a file a runtime refuses fails; so does a case recorded as passing that no
// longer passes, and a record that is out of date (regenerate it with `npm run conformance`).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';
import { DATA_DIR, suiteInstalled } from './cases.js';
import { STAGES } from './stages.js';
import { countStages, readRecorded, renderDoc, runSuite, type SuiteResult } from './suite.js';

const DOC = join(ROOT, 'docs', 'conformance.md');

/**
 * Cases that were silently wrong, refused by a runtime or refused as bad input before issue 13's fixes
 * (identity Transpose, unbounded Clip, count_include_pad, Pow types, uint8 arithmetic, negative Gather
 * indices, ConvTranspose output_shape, int8 Clip, training Dropout, constant outputs, float16/float64
 * Max/Min, int32 reflect Pad, Expand, empty Slice, optional outputs, uint32 inputs).
 */
const DEFECT_CASES = [
  'node/test_transpose_all_permutations_0', 'node/test_clip_default_inbounds', 'node/test_averagepool_2d_precomputed_pads_count_include_pad',
  'node/test_pow_types_float32_int32', 'node/test_pow_types_int32_float32', 'node/test_pow_types_int', 'node/test_mul_uint8', 'node/test_div_uint8',
  'node/test_add_uint8', 'node/test_sub_uint8', 'node/test_gather_negative_indices', 'node/test_convtranspose_output_shape#const',
  'node/test_clip_default_int8_inbounds', 'node/test_clip_default_int8_max#const', 'node/test_training_dropout_zero_ratio',
  'node/test_constant', 'node/test_shape', 'node/test_max_float16#const', 'node/test_min_float64#const', 'node/test_reflect_pad#const',
  'node/test_expand_dim_changed#const', 'node/test_slice_start_out_of_bounds#const', 'node/test_layer_normalization_2d_axis0',
  'node/test_batchnorm_example_training_mode', 'node/test_maxpool_with_argmax_2d_precomputed_pads', 'node/test_dropout_default_mask',
  'node/test_max_uint32', 'node/test_maxpool_2d_uint8',
];
const installed = suiteInstalled();
if (!installed) console.warn(`conformance: skipped, no ONNX backend test cases in ${DATA_DIR} (Debian package libonnx-testdata: apt-get install libonnx-testdata)`);

describe.skipIf(!installed)('ONNX backend test suite (libonnx-testdata)', () => {
  let result: SuiteResult;
  beforeAll(async () => {
    result = await runSuite();
    console.log(`conformance: ${result.counted.size} cases counted (${result.baselineFailed.size} fail in onnxruntime, ${result.outOfScope.size} out of scope) in ${result.seconds.toFixed(1)} s`);
    console.table(countStages(result.counted));
  }, 900_000);

  it('the cases of the defects fixed for issue 13 are counted, each passing or refused in every stage', () => {
    const missing = DEFECT_CASES.filter((id) => !result.counted.has(id));
    expect(missing).toEqual([]);
    const bad = DEFECT_CASES.flatMap((id) => STAGES.filter((s) => !['pass', 'refused', 'na'].includes(result.counted.get(id)![s].outcome)).map((s) => `${id} ${s}`));
    expect(bad).toEqual([]);
  });

  it('no stage gives a wrong number, crashes, or writes a file a runtime refuses', () => {
    const failing = [...result.counted].flatMap(([id, r]) => STAGES.filter((s) => r[s].outcome === 'fail' && r[s].detail !== 'import').map((s) => `${id} ${s}: ${r[s].detail}`));
    expect(failing).toEqual([]);
  });

  it('every case recorded in docs/conformance.md as passing a stage still passes it', () => {
    const recorded = existsSync(DOC) ? readRecorded(readFileSync(DOC, 'utf8')) : new Map();
    const regressed = [...recorded].flatMap(([id, rec]) =>
      STAGES.filter((s) => rec[s] === 'pass' && result.counted.get(id)?.[s].outcome !== 'pass').map((s) => `${id} ${s}: ${result.counted.get(id)?.[s].detail ?? 'no longer counted'}`),
    );
    expect(regressed).toEqual([]);
  });

  it('docs/conformance.md records this run (npm run conformance regenerates it)', () => {
    const strip = (doc: string): string => doc.split('## Per case')[1] ?? '';
    expect(existsSync(DOC) ? strip(readFileSync(DOC, 'utf8')) : '').toBe(strip(renderDoc(result)));
  });
});
