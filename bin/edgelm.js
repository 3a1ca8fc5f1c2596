#!/usr/bin/env node
// Loads the built CLI; `npm run build` (run by `npm ci` through "prepare") writes dist/.
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  // The version alone needs none of the CLI's modules (start-up time is a feature).
  const { VERSION } = await import('../dist/version.js');
  process.stdout.write(`${VERSION}\n`);
} else {
  const { main } = await import('../dist/cli/main.js');
  process.exitCode = await main(argv);
}
