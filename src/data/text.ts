// Text for character-level language models: the model's vocabulary (one string per token id, kept in
// its metadata or given as a JSON file) turns a .txt corpus into windows of the model's context length,
// each position labelled with the next character.
import { inputError, usageError } from '../errors.js';
import { readInputFile } from '../import/files.js';
import type { Dataset } from './index.js';

/** Metadata key under which writers store the vocabulary: a JSON array of tokens in id order. */
export const VOCAB_KEY = 'edgelm.vocab';

export function parseVocabulary(json: string, where: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (e) {
    throw inputError(where, `vocabulary is not valid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(v) || v.length < 2 || !v.every((t) => typeof t === 'string' && [...t].length === 1))
    throw inputError(where, 'vocabulary must be a JSON array of at least 2 single characters, in token-id order');
  if (new Set(v).size !== v.length) throw inputError(where, 'vocabulary lists a character twice');
  return v as string[];
}

/** The vocabulary from `--vocab FILE` if given, else from the model's metadata. */
export function vocabularyOf(metadata: Record<string, string>, model: string, vocabFile?: string): string[] {
  if (vocabFile) return parseVocabulary(readInputFile(vocabFile).toString('utf8'), vocabFile);
  const stored = metadata[VOCAB_KEY];
  if (stored === undefined) throw usageError(`${model}: text data needs the model's vocabulary, and its metadata has none ('${VOCAB_KEY}'); give --vocab FILE (a JSON array of characters in token-id order)`);
  return parseVocabulary(stored, `${model} (metadata '${VOCAB_KEY}')`);
}

/**
 * Non-overlapping windows of `context` token ids; labels are the ids one position later, so every
 * character after the first is predicted exactly once. The tail shorter than a window is dropped.
 */
export function textWindows(path: string, vocab: readonly string[], context: number): Dataset {
  const text = readInputFile(path).toString('utf8');
  const ids = new Map(vocab.map((c, i) => [c, i]));
  const chars = [...text];
  const tokens = new Int32Array(chars.length);
  let line = 1;
  let column = 1;
  chars.forEach((c, i) => {
    const id = ids.get(c);
    if (id === undefined) {
      const code = `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
      throw inputError(path, `line ${line}, column ${column}: character ${JSON.stringify(c)} (${code}) is not in the model's vocabulary of ${vocab.length}`);
    }
    tokens[i] = id;
    if (c === '\n') [line, column] = [line + 1, 1];
    else column++;
  });
  const n = Math.floor((tokens.length - 1) / context);
  if (n < 1) throw inputError(path, `${tokens.length} characters do not fill one window of ${context} + 1`);
  const x = new Int32Array(n * context);
  const y = new Int32Array(n * context);
  for (let w = 0; w < n; w++) {
    x.set(tokens.subarray(w * context, (w + 1) * context), w * context);
    y.set(tokens.subarray(w * context + 1, (w + 1) * context + 1), w * context);
  }
  return { x, y, shape: [n, context], source: path };
}
