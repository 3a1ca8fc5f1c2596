// File access for readers: every path a model names is resolved inside the model's folder.
import { closeSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { inputError } from '../errors.js';

export function readInputFile(file: string): Buffer {
  let st;
  try {
    st = statSync(file);
  } catch {
    throw inputError(file, 'no such file');
  }
  if (st.isDirectory()) throw inputError(file, 'is a directory, expected a model file');
  try {
    return readFileSync(file);
  } catch (e) {
    throw inputError(file, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The first `n` bytes of a file (format detection must not read a multi-gigabyte model). */
export function readHead(file: string, n: number): Buffer {
  const whole = statSync(file, { throwIfNoEntry: false });
  if (!whole) throw inputError(file, 'no such file');
  if (whole.isDirectory()) throw inputError(file, 'is a directory, expected a model file');
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(Math.min(n, whole.size));
    readSync(fd, buf, 0, buf.length, 0);
    return buf;
  } finally {
    closeSync(fd);
  }
}

export function readJsonFile(file: string): unknown {
  const text = readInputFile(file).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw inputError(file, `invalid JSON: ${(e as Error).message}`);
  }
}

/**
 * Resolves `ref` (a weight shard or external-data path written inside `modelFile`) within the
 * model's folder. Absolute paths, '..' escapes and symlinks leading outside are refused
 * (the class of bug behind CVE-2024-27318/27319 in onnx's external-data loader).
 */
export function resolveInside(modelFile: string, ref: string, what: string): string {
  const dir = resolve(dirname(modelFile));
  if (ref === '' || isAbsolute(ref) || /^[a-zA-Z]:[\\/]/.test(ref) || ref.includes('\0'))
    throw inputError(modelFile, `${what} '${ref}' must be a relative path inside the model's folder`);
  const target = resolve(dir, ref);
  const rel = relative(dir, target);
  if (rel === '' || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel))
    throw inputError(modelFile, `${what} '${ref}' points outside the model's folder`);
  let real: string;
  try {
    real = realpathSync(target);
  } catch {
    throw inputError(modelFile, `${what} '${ref}' does not exist`);
  }
  const realDir = realpathSync(dir);
  const realRel = relative(realDir, real);
  if (realRel.startsWith('..' + sep) || realRel === '..' || isAbsolute(realRel))
    throw inputError(modelFile, `${what} '${ref}' is a link that leads outside the model's folder`);
  return real;
}

/** Narrowing helpers for untrusted JSON. */
export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The metadata edgelm's TF.js writer keeps under userDefinedMetadata.edgelm (a vocabulary, ...). */
export function tfjsMetadata(json: Record<string, unknown>): Record<string, string> {
  const user = json.userDefinedMetadata;
  const ours = isRecord(user) && isRecord(user.edgelm) ? user.edgelm : {};
  return Object.fromEntries(Object.entries(ours).filter(([k, v]) => typeof v === 'string' && k !== 'source_format')) as Record<string, string>;
}
