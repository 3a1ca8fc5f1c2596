// Regenerates docs/conformance.md from a full run: `npm run conformance`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.js';
import { suiteInstalled } from './cases.js';
import { countStages, renderDoc, runSuite } from './suite.js';

if (!suiteInstalled()) {
  console.error('conformance: libonnx-testdata is not installed (apt-get install libonnx-testdata)');
  process.exit(1);
}
const result = await runSuite();
writeFileSync(join(ROOT, 'docs', 'conformance.md'), renderDoc(result));
console.table(countStages(result.counted));
console.log(`${result.counted.size} cases counted in ${result.seconds.toFixed(1)} s`);
