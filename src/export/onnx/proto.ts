// Builds ONNX ModelProto bytes with onnx-proto: used by the ONNX writer and by fixture scripts.
import onnxProto from 'onnx-proto';
import type * as P from 'onnx-proto';

// onnx-proto is CommonJS: Node's ESM loader only sees its default export.
const { onnx } = onnxProto;
import { DTYPES, type DType, type TypedArray } from '../../ir/dtype.js';
import { PART_BYTES, spliceRawData, stub } from './parts.js';

export type OnnxAttr =
  | { i: number }
  | { f: number }
  | { s: string }
  | { ints: number[] }
  | { floats: number[] }
  | { t: { dtype: DType; shape: number[]; data: TypedArray } };

export const attr = {
  i: (i: number): OnnxAttr => ({ i }),
  f: (f: number): OnnxAttr => ({ f }),
  s: (s: string): OnnxAttr => ({ s }),
  ints: (ints: number[]): OnnxAttr => ({ ints }),
  floats: (floats: number[]): OnnxAttr => ({ floats }),
  t: (dtype: DType, shape: number[], data: TypedArray): OnnxAttr => ({ t: { dtype, shape, data } }),
};

function tensorProto(name: string, dtype: DType, shape: number[], data: TypedArray): P.onnx.ITensorProto {
  return {
    name,
    dataType: DTYPES[dtype].onnx,
    dims: shape,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

function attributeProto(name: string, a: OnnxAttr): P.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ('i' in a) return { name, type: T.INT, i: a.i };
  if ('f' in a) return { name, type: T.FLOAT, f: a.f };
  if ('s' in a) return { name, type: T.STRING, s: new TextEncoder().encode(a.s) };
  if ('ints' in a) return { name, type: T.INTS, ints: a.ints };
  if ('floats' in a) return { name, type: T.FLOATS, floats: a.floats };
  return { name, type: T.TENSOR, t: tensorProto('', a.t.dtype, a.t.shape, a.t.data) };
}

export interface EncodeOptions {
  opset: number;
  irVersion?: number;
  producer?: string;
  producerVersion?: string;
  extraOpsets?: [string, number][];
  metadata?: Record<string, string>;
}

/** Dims: a number, or a string naming a run-time dim (dim_param). */
type Dims = (number | string)[];

function valueInfo(name: string, dtype: DType, dims: Dims): P.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: DTYPES[dtype].onnx, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  };
}

export class OnnxGraphBuilder {
  private readonly inputs: P.onnx.IValueInfoProto[] = [];
  private readonly outputs: P.onnx.IValueInfoProto[] = [];
  private readonly initializers: P.onnx.ITensorProto[] = [];
  private readonly nodes: P.onnx.INodeProto[] = [];
  private count = 0;

  constructor(readonly name: string) {}

  input(name: string, dtype: DType, dims: Dims): string {
    this.inputs.push(valueInfo(name, dtype, dims));
    return name;
  }
  output(name: string, dtype: DType, dims: Dims): string {
    this.outputs.push(valueInfo(name, dtype, dims));
    return name;
  }
  initializer(name: string, dtype: DType, shape: number[], data: TypedArray, external?: { location: string; offset: number }): string {
    const t = tensorProto(name, dtype, shape, data);
    if (external) {
      t.rawData = null;
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [
        { key: 'location', value: external.location },
        { key: 'offset', value: String(external.offset) },
        { key: 'length', value: String(data.byteLength) },
      ];
    }
    this.initializers.push(t);
    return name;
  }
  /** Adds a node; returns its output names. Node names default to PyTorch's "/OpType_n" style. */
  node(opType: string, inputs: string[], outputs: string[] | number = 1, attrs: Record<string, OnnxAttr> = {}, name?: string, domain?: string): string[] {
    const n = this.count++;
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, i) => `/${opType}_${n}_output_${i}`) : outputs;
    this.nodes.push({
      name: name ?? `/${opType}_${n}`,
      opType,
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attributeProto(k, v)),
      ...(domain ? { domain } : {}),
    });
    return outs;
  }
  node1(opType: string, inputs: string[], attrs: Record<string, OnnxAttr> = {}, name?: string): string {
    return this.node(opType, inputs, 1, attrs, name)[0]!;
  }

  /**
   * Moves the data of initializers of at least `minBytes` into one external blob (ONNX external
   * data, `location` relative to the model file); returns the blob. Offsets are aligned (4 KiB for
   * tensors of 1 MiB and more, as onnx's own saver does, so that runtimes can map them).
   */
  moveToExternal(location: string, minBytes = 1024): Uint8Array {
    const parts: { t: P.onnx.ITensorProto; raw: Uint8Array; offset: number }[] = [];
    let size = 0;
    for (const t of this.initializers) {
      const raw = t.rawData as Uint8Array | null | undefined;
      if (!raw || raw.length < minBytes) continue;
      const align = raw.length >= 1 << 20 ? 4096 : 16;
      size = Math.ceil(size / align) * align;
      parts.push({ t, raw, offset: size });
      size += raw.length;
    }
    const blob = new Uint8Array(size);
    for (const { t, raw, offset } of parts) {
      blob.set(raw, offset);
      t.rawData = null;
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [
        { key: 'location', value: location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(raw.length) },
      ];
    }
    return blob;
  }

  /** Bytes of initializer data held in the model itself. */
  inlineBytes(): number {
    return this.initializers.reduce((s, t) => s + ((t.rawData as Uint8Array | null | undefined)?.length ?? 0), 0);
  }

  /** Every value name some node reads. */
  referenced(): Set<string> {
    return new Set(this.nodes.flatMap((n) => n.input ?? []));
  }

  encode(opts: EncodeOptions): Uint8Array {
    return onnx.ModelProto.encode(this.model(opts)).finish();
  }

  /** The encoding as parts that concatenate to encode(opts), large raw_data left as parts of their own (see parts.ts). */
  encodeParts(opts: EncodeOptions): Uint8Array[] {
    const big = new Map<number, Uint8Array>();
    this.initializers.forEach((t, i) => {
      const raw = t.rawData as Uint8Array | null | undefined;
      if (raw && raw.length >= PART_BYTES) big.set(i, raw);
    });
    for (const i of big.keys()) this.initializers[i]!.rawData = stub(i);
    try {
      return spliceRawData(this.encode(opts), big);
    } finally {
      for (const [i, raw] of big) this.initializers[i]!.rawData = raw;
    }
  }

  private model(opts: EncodeOptions): P.onnx.ModelProto {
    return onnx.ModelProto.create({
      irVersion: opts.irVersion ?? (opts.opset >= 21 ? 10 : opts.opset >= 15 ? 8 : 7),
      producerName: opts.producer ?? 'edgelm',
      producerVersion: opts.producerVersion ?? '',
      opsetImport: [{ domain: '', version: opts.opset }, ...(opts.extraOpsets ?? []).map(([domain, version]) => ({ domain, version }))],
      graph: { name: this.name, node: this.nodes, input: this.inputs, output: this.outputs, initializer: this.initializers },
      metadataProps: Object.entries(opts.metadata ?? {})
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([key, value]) => ({ key, value })),
    });
  }
}
