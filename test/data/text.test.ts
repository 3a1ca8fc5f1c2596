// Text data for character language models: windows and labels follow the formula, the vocabulary
// comes from --vocab or the model's metadata (in every format edgelm writes), bad text or vocabularies
// are one-line errors, and eval's next-character accuracy and perplexity equal what onnxruntime's own
// logits give.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/index.js';
import { readTfliteInfo } from '../../src/import/tflite/index.js';
import { cli, fixture, tempDir } from '../helpers.js';

const dir = tempDir();
const tiny = fixture('lm', 'tiny-transformer-opset17.onnx'); // V = 48, T = 32, seeded weights
// 48 characters the tiny model reads, and held-out Moby-Dick restricted to them.
const vocab = [...'\n !"\'(),-.0123456789:;?abcdefghijklmnopqrstuvwxy'];
const vocabFile = join(dir, 'vocab.json');
writeFileSync(vocabFile, JSON.stringify(vocab));
const text = [...readFileSync(fixture('lm', 'moby-valid.txt'), 'utf8')].filter((c) => vocab.includes(c)).slice(0, 32 * 40 + 1).join('');
const textFile = join(dir, 'held-out.txt');
writeFileSync(textFile, text);

describe('text data', () => {
  it('cuts non-overlapping windows labelled with the next character', async () => {
    const ds = await loadDataset(textFile, { vocab, inputShape: ['batch', 32] });
    const n = Math.floor((text.length - 1) / 32);
    expect(ds.shape).toEqual([n, 32]);
    for (const [w, t] of [[0, 0], [3, 17], [n - 1, 31]] as const) {
      expect(ds.x[w * 32 + t]).toBe(vocab.indexOf(text[w * 32 + t]!));
      expect(ds.y![w * 32 + t]).toBe(vocab.indexOf(text[w * 32 + t + 1]!));
    }
  });

  it('refuses characters outside the vocabulary, naming line and column', () => {
    const bad = join(dir, 'bad.txt');
    writeFileSync(bad, `${'call me ishmael.\n'.repeat(3)}some years ago — never mind\n`);
    const r = cli(['eval', tiny, '--data', bad, '--vocab', vocabFile]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('line 4, column 16');
    expect(r.stderr).toContain('U+2014');
  });

  it('needs a vocabulary: metadata or --vocab, which must be a list of distinct characters', () => {
    for (const [content, message] of [
      [null, "metadata has none ('edgelm.vocab')"],
      ['{"a": 1}', 'JSON array'],
      ['["a", "b", "a"]', 'twice'],
      ['["ab", "c"]', 'single characters'],
      ['[1, 2', 'not valid JSON'],
    ] as const) {
      const args = ['eval', tiny, '--data', textFile];
      if (content !== null) {
        const f = join(dir, 'v-bad.json');
        writeFileSync(f, content);
        args.push('--vocab', f);
      }
      const r = cli(args);
      expect(r.code, message).toBe(2);
      expect(r.stderr).toContain(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it("eval's accuracy and perplexity are those of onnxruntime's logits; the vocabulary travels into every export", async () => {
    // Reference: onnxruntime on the same windows, accuracy and perplexity by their formulas.
    const n = Math.floor((text.length - 1) / 32);
    const ids = text.slice(0, n * 32).split('').map((c) => BigInt(vocab.indexOf(c)));
    const s = await ort.InferenceSession.create(tiny, { logSeverityLevel: 3 });
    const out = await s.run({ ids: new ort.Tensor('int64', BigInt64Array.from(ids), [n, 32]) });
    const logits = out[s.outputNames[0]!]!.data as Float32Array;
    let hits = 0;
    let nll = 0;
    for (let p = 0; p < n * 32; p++) {
      const row = Array.from(logits.subarray(p * 48, (p + 1) * 48));
      const label = vocab.indexOf(text[p + 1]!);
      const max = Math.max(...row);
      if (row.indexOf(max) === label) hits++;
      nll += max + Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0)) - row[label]!;
    }
    // A vocabulary in the graph's metadata is written into every export (ONNX metadata_props, TFLite
    // Model.metadata), where eval finds it without --vocab.
    const withVocab = join(dir, 'tiny-vocab.onnx');
    const tfl = join(dir, 'tiny.tflite');
    const { loadModel, exportModel } = await import('../../src/index.js');
    const { readOnnxModel } = await import('../../src/import/onnx/index.js');
    const g = await loadModel(tiny);
    expect(g.metadata['edgelm.vocab']).toBeUndefined();
    g.metadata['edgelm.vocab'] = JSON.stringify(vocab);
    await exportModel(g, 'onnx', withVocab, [tiny]);
    await exportModel(g, 'tflite', tfl, [tiny], { batchSize: 1 });
    expect(readOnnxModel(withVocab).metadata['edgelm.vocab']).toBe(JSON.stringify(vocab));
    expect(readTfliteInfo(tfl).metadata['edgelm.vocab']).toBe(JSON.stringify(vocab));

    const r = cli(['eval', tiny, withVocab, tfl, '--data', textFile, '--vocab', vocabFile, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const models = JSON.parse(r.stdout).models as { accuracy: number; perplexity: number; tokensPerSecond: number; samples: number }[];
    expect(models[0]!.samples).toBe(n);
    expect(models[0]!.accuracy).toBeCloseTo(hits / (n * 32), 10);
    expect(models[0]!.perplexity).toBeCloseTo(Math.exp(nll / (n * 32)), 3);
    for (const m of models.slice(1)) {
      expect(Math.abs(m.accuracy - models[0]!.accuracy)).toBeLessThanOrEqual(2 / (n * 32));
      expect(m.perplexity / models[0]!.perplexity).toBeCloseTo(1, 3);
      expect(m.tokensPerSecond).toBeGreaterThan(0);
    }
    // Without --vocab, the exports' own metadata is used.
    const own = cli(['eval', tfl, withVocab, '--data', textFile, '--json']);
    expect(own.code, own.stderr).toBe(0);
    expect((JSON.parse(own.stdout).models as { accuracy: number }[])[0]!.accuracy).toBeCloseTo(models[2]!.accuracy, 10);
  }, 60_000);
});
