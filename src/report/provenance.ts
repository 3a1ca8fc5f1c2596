// When and how a report was made: the command, the versions that produced and measured its numbers,
// and the machine (latency means little without it). Paths are relative so a report can be shared.
import { createRequire } from 'node:module';
import { cpus, platform, arch, totalmem } from 'node:os';
import { isAbsolute, relative, sep } from 'node:path';
import { VERSION } from '../version.js';

export interface Provenance {
  /** ISO 8601 UTC time the report was finished. */
  createdAt: string;
  /** The command line that made it (`edgelm run ci/pipeline.json`), when the caller said. */
  command?: string;
  edgelm: string;
  node: string;
  /** Versions of the runtimes and TF.js packages installed (those that are absent are left out). */
  runtimes: Record<string, string>;
  machine: { cpu: string; cores: number; memoryBytes: number; platform: string; arch: string };
}

/** The packages whose versions decide the measured numbers. */
const RUNTIME_PACKAGES = ['onnxruntime-node', 'onnxruntime-web', '@litertjs/core', '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-node'] as const;

export function installedVersion(pkg: string): string | undefined {
  try {
    return (createRequire(import.meta.url)(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return undefined;
  }
}

export function provenance(command?: string, now: Date = new Date()): Provenance {
  const runtimes: Record<string, string> = {};
  for (const pkg of RUNTIME_PACKAGES) {
    const v = installedVersion(pkg);
    if (v) runtimes[pkg] = v;
  }
  const cpu = cpus();
  return {
    createdAt: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...(command ? { command } : {}),
    edgelm: VERSION,
    node: process.version,
    runtimes,
    machine: { cpu: cpu[0]?.model.trim() || 'unknown', cores: cpu.length, memoryBytes: totalmem(), platform: platform(), arch: arch() },
  };
}

/** `path` relative to `base` with forward slashes (the same on every OS); a relative path is kept. */
export function relativePath(base: string, path: string): string {
  if (!isAbsolute(path)) return path.split(sep).join('/');
  return (relative(base, path) || '.').split(sep).join('/');
}
