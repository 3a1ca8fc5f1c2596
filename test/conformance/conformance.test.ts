// The ONNX backend test suite through every stage (see docs/conformance.md for what is counted and how).
// A wrong number, a crash or a file a runtime refuses fails; so does a case recorded as passing that no
// longer passes, and a record that is out of date (regenerate it with `npm run conformance`).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';
import { suiteInstalled } from './cases.js';
import { STAGES } from './stages.js';
import { countStages, readRecorded, renderDoc, runSuite, type SuiteResult } from './suite.js';

const DOC = join(ROOT, 'docs', 'conformance.md');
const installed = suiteInstalled();
if (!installed) console.warn('conformance: skipped, Debian package libonnx-testdata is not installed (apt-get install libonnx-testdata)');

describe.skipIf(!installed)('ONNX backend test suite (libonnx-testdata)', () => {
  let result: SuiteResult;
  beforeAll(async () => {
    result = await runSuite();
    console.log(`conformance: ${result.counted.size} cases counted (${result.baselineFailed.size} fail in onnxruntime, ${result.outOfScope.size} out of scope) in ${result.seconds.toFixed(1)} s`);
    console.table(countStages(result.counted));
  }, 900_000);

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
