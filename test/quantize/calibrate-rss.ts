// Child process of calibrate-memory.test.ts: calibrates the DenseNet-shaped graph on N seeded
// images and prints its peak RSS and the ranges, as JSON.
import { calibrate } from '../../src/quantize/calibrate.js';
import { prng } from '../../src/train/loop.js';
import { densenet121 } from './densenet.js';

const count = Number(process.argv[2]);
const size = 32;
const rand = prng(7);
const x = Float32Array.from({ length: count * size * size * 3 }, () => rand());
const ranges = await calibrate(densenet121(size), { x, shape: [count, size, size, 3], source: 'seeded images' }, { limit: count });
process.stdout.write(JSON.stringify({ maxRssBytes: process.resourceUsage().maxRSS * 1024, ranges: Object.fromEntries(ranges) }));
