// TF.js model files on disk without tfjs-node: an IOHandler that loads model.json + shards and one
// that saves them (the only file:// handlers TF.js has live in tfjs-node, which cannot load here).
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as tfjs from '@tensorflow/tfjs-core';
import { isRecord, readInputFile, readJsonFile, resolveInside } from '../../import/files.js';
import { inputError } from '../../errors.js';

type ModelArtifacts = tfjs.io.ModelArtifacts;

export function fileLoader(modelJson: string): tfjs.io.IOHandler {
  return {
    load: async (): Promise<ModelArtifacts> => {
      const json = readJsonFile(modelJson);
      if (!isRecord(json) || !Array.isArray(json.weightsManifest)) throw inputError(modelJson, 'not a TF.js model.json (no weightsManifest)');
      const specs: tfjs.io.WeightsManifestEntry[] = [];
      const buffers: Buffer[] = [];
      for (const group of json.weightsManifest as tfjs.io.WeightsManifestConfig) {
        for (const p of group.paths) buffers.push(readInputFile(resolveInside(modelJson, p, 'weight shard')));
        specs.push(...group.weights);
      }
      const all = Buffer.concat(buffers);
      return {
        modelTopology: json.modelTopology as ModelArtifacts['modelTopology'],
        format: json.format as string | undefined,
        generatedBy: json.generatedBy as string | undefined,
        convertedBy: json.convertedBy as string | null | undefined,
        signature: json.signature as object | undefined,
        userDefinedMetadata: json.userDefinedMetadata as ModelArtifacts['userDefinedMetadata'],
        modelInitializer: json.modelInitializer as object | undefined,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer,
      };
    },
  };
}

/** Writes model.json and one shard "weights.bin" beside it, each through a temporary file. */
export function fileSaver(modelJson: string, shardName = 'weights.bin'): tfjs.io.IOHandler {
  return {
    save: async (a: ModelArtifacts): Promise<tfjs.io.SaveResult> => {
      mkdirSync(dirname(modelJson), { recursive: true });
      const data = a.weightData instanceof ArrayBuffer ? new Uint8Array(a.weightData) : Buffer.concat((a.weightData ?? []).map((b) => new Uint8Array(b)));
      const json = {
        format: a.format,
        generatedBy: a.generatedBy,
        convertedBy: a.convertedBy ?? null,
        modelTopology: a.modelTopology,
        weightsManifest: [{ paths: [shardName], weights: a.weightSpecs ?? [] }],
      };
      writeAtomic(join(dirname(modelJson), shardName), data);
      writeAtomic(modelJson, Buffer.from(JSON.stringify(json)));
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON', weightDataBytes: data.byteLength } };
    },
  };
}

function writeAtomic(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}
