#!/usr/bin/env node
// Loads the built CLI; `npm run build` (run by `npm ci` through "prepare") writes dist/.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
