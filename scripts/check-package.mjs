#!/usr/bin/env node
// Checks that the npm package holds what its README and commands use: every relative link in
// README.md, the input files of every bundled pipeline (demo.json, examples/ci) with their weight
// shards, the files the CLI opens under its package root, package.json's entry points and LICENSE.
// Compares with `npm pack --dry-run --json` (run `npm run build` first: dist/ must exist).
// Exit 1 with one line per missing file.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rel = (p) => relative(root, p).split('\\').join('/');

const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }));
const packed = new Set(pack.files.map((f) => f.path));
const holds = (path) => packed.has(path) || [...packed].some((p) => p.startsWith(`${path.replace(/\/$/, '')}/`));

/** [path, why] pairs the package must hold. */
const needed = new Map();
const need = (path, why) => needed.set(`${path}\0${why}`, [path, why]);

// package.json entry points, and the license file the license field refers to.
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const bin of Object.values(pkg.bin ?? {})) need(normalize(bin), 'package.json bin');
need(normalize(pkg.main), 'package.json main');
need(normalize(pkg.types), 'package.json types');
need('LICENSE', `license ${pkg.license}`);

// Relative links in README.md: [text](path) and [text](path#anchor), not URLs or in-page anchors.
const readme = readFileSync(join(root, 'README.md'), 'utf8');
for (const [, target] of readme.matchAll(/\]\(([^)\s]+)\)/g)) {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
  need(normalize(target.split('#')[0]).replace(/\/$/, ''), 'README.md link');
}

// Files the CLI opens under its package root: join(PACKAGE_ROOT, 'a', 'b', …) with literal parts.
for (const file of walk(join(root, 'src'))) {
  if (!file.endsWith('.ts')) continue;
  for (const [, parts] of readFileSync(file, 'utf8').matchAll(/join\(PACKAGE_ROOT((?:,\s*'[^']+')+)\)/g))
    need(parts.split(',').slice(1).map((s) => s.trim().slice(1, -1)).join('/'), rel(file));
}

// Bundled pipelines: their model (with its weight shards) and data files.
const pipelines = ['fixtures/pipelines', 'examples/ci'].flatMap((d) => (existsSync(join(root, d)) ? readdirSync(join(root, d)).filter((f) => f.endsWith('.json')).map((f) => join(root, d, f)) : []));
for (const file of pipelines) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const inputs = [p.model, ...Object.values(p.data ?? {})].filter((v) => typeof v === 'string');
  for (const input of inputs) {
    const path = resolve(dirname(file), input);
    need(rel(path), rel(file));
    for (const shard of companions(path)) need(rel(shard), `${rel(file)} (weights of ${rel(path)})`);
  }
}

const missing = [...needed.values()].filter(([path]) => !holds(path));
for (const [path, why] of missing) console.error(`check-package: ${path} (needed by ${why}) is not in the package: add it to package.json "files"`);
if (missing.length) process.exit(1);
console.log(`check-package: ${needed.size} required paths all in the package (${pack.entryCount} files, ${(pack.size / 1e6).toFixed(1)} MB packed)`);

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

/** Weight shards a TF.js model.json names (paths relative to it). */
function companions(path) {
  if (!path.endsWith('.json') || !existsSync(path)) return [];
  const json = JSON.parse(readFileSync(path, 'utf8'));
  return (json.weightsManifest ?? []).flatMap((g) => g.paths.map((p) => resolve(dirname(path), p)));
}
