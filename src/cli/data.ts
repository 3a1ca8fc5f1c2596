// The data flags the commands share (loading itself is the library's loadDatasetFor).

export interface DataFlags {
  labels?: string;
  vocab?: string;
}

export const VOCAB_OPTION = ['--vocab <file>', "vocabulary for .txt data: a JSON array of characters in token-id order (default: the model's metadata)"] as const;

/** The data flags that are set (for passing on under exactOptionalPropertyTypes). */
export function dataFlags(flags: DataFlags): DataFlags {
  return { ...(flags.labels ? { labels: flags.labels } : {}), ...(flags.vocab ? { vocab: flags.vocab } : {}) };
}
