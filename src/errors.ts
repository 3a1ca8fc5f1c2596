/**
 * The one error type edgelm raises on purpose. `code` decides the CLI's exit status:
 * usage/input/unsupported → 2, gate → 3; anything that is not an EdgelmError is a bug → 1.
 * Messages are one line and name the file and the tensor, node or field at fault.
 */
export type ErrorCode = 'usage' | 'input' | 'unsupported' | 'gate';

export class EdgelmError extends Error {
  readonly code: ErrorCode;
  /** Optional hint printed after the message: how to fix it. */
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, hint?: string) {
    super(message);
    this.name = 'EdgelmError';
    this.code = code;
    this.hint = hint;
  }
}

/** Bad or corrupt input data: a model, a weight file, a data file. */
export function inputError(file: string, what: string, hint?: string): EdgelmError {
  return new EdgelmError('input', `${file}: ${what}`, hint);
}

export function usageError(message: string, hint?: string): EdgelmError {
  return new EdgelmError('usage', message, hint);
}

/** Ops (or op variants) a reader or writer cannot express, listed together with a node that uses each. */
export class UnsupportedOpError extends EdgelmError {
  constructor(file: string, where: string, unsupported: ReadonlyMap<string, string>, supported?: readonly string[]) {
    const list = [...unsupported].map(([op, node]) => `${op} (node ${node})`).join(', ');
    super(
      'unsupported',
      `${file}: unsupported op${unsupported.size > 1 ? 's' : ''} in ${where}: ${list}`,
      supported ? `supported: ${supported.join(', ')}` : undefined,
    );
    this.name = 'UnsupportedOpError';
  }
}

export const exitCodeOf = (code: ErrorCode): number => (code === 'gate' ? 3 : 2);
