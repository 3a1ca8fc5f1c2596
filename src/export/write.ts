// Writing artifacts safely: never over an input, never half-written (temporary file + rename).
import { existsSync, mkdirSync, readdirSync, realpathSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { usageError } from '../errors.js';

const pending = new Set<string>();

/** Temporary files (and staging folders) not yet renamed into place: removed by the CLI on SIGINT/SIGTERM. */
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

/**
 * A hidden staging folder beside an artifact's destination folder: files are written there, measured
 * (a runtime loads them by path), and moved into place only by `commit`, so that a run that fails
 * after writing leaves neither a partial artifact nor a clobbered earlier one. Files keep their
 * names, so references between them (shards, external data) hold in both places.
 */
export interface Staging {
  /** Where the file destined for `final` is written meanwhile. */
  path(final: string): string;
  /** Moves the files into place, in the given order (companions first, the file that references them last). */
  commit(finals: readonly string[]): void;
  /** Removes the staged files, and the destination folders this created if they are still empty. */
  discard(): void;
}

let stagings = 0;

/** A staging folder for files destined for folder `dir` (created, as the destination needs it). */
export function staging(dir: string): Staging {
  const target = resolve(dir);
  // The outermost missing folder: discard removes what this made.
  let created: string | undefined;
  for (let p = target; !existsSync(p); p = dirname(p)) created = p;
  mkdirSync(target, { recursive: true });
  const stage = join(target, `.edgelm-${process.pid}-${++stagings}.tmp`);
  pending.add(stage);
  mkdirSync(stage);
  const remove = (): void => {
    rmSync(stage, { recursive: true, force: true });
    pending.delete(stage);
  };
  const path = (final: string): string => {
    if (dirname(resolve(final)) !== target) throw new Error(`staging: ${final} is not in ${target}`);
    return join(stage, basename(final));
  };
  return {
    path,
    commit(finals) {
      for (const f of finals) renameSync(path(f), f);
      remove();
    },
    discard() {
      remove();
      if (created) removeEmptyTree(created);
    },
  };
}

function removeEmptyTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeEmptyTree(join(dir, e.name));
  if (readdirSync(dir).length === 0) rmdirSync(dir);
}
