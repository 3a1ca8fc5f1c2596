// Writing artifacts safely: never over an input, never half-written (temporary file + rename).
import { existsSync, realpathSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { usageError } from '../errors.js';

const pending = new Set<string>();

/** Temporary files not yet renamed into place: removed by the CLI on SIGINT/SIGTERM. */
export function pendingTempFiles(): string[] {
  return [...pending];
}

function canonical(p: string): string {
  const abs = resolve(p);
  return existsSync(abs) ? realpathSync(abs) : join(existsSync(dirname(abs)) ? realpathSync(dirname(abs)) : dirname(abs), basename(abs));
}

/** Refuses an output path that is one of the inputs (or a file an input consists of). */
export function checkNotInput(out: string, inputs: readonly string[], flag = '-o'): void {
  const o = canonical(out);
  for (const i of inputs) if (canonical(i) === o) throw usageError(`${flag} ${out}: refusing to overwrite the input file ${i}`);
}

/** Writes bytes to `path` through a temporary file in the same folder, then renames it into place. */
export function writeAtomic(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(resolve(path)), { recursive: true });
  const tmp = join(dirname(resolve(path)), `.${basename(path)}.${process.pid}.tmp`);
  pending.add(tmp);
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    pending.delete(tmp);
  }
}
