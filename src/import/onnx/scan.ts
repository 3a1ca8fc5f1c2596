// Decodes an .onnx file without loading its weights: the protobuf wire format is walked with small
// reads, and each large initializer's raw_data is replaced by an external-data reference to the
// file itself (its offset and length there). Readers that take one tensor at a time (the ONNX
// rewriter) then hold one weight in memory, not the whole file, also when the weights are inline.
import { basename } from 'node:path';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import onnxProto from 'onnx-proto';
import type * as P from 'onnx-proto';
import { inputError } from '../../errors.js';
import { readHead } from '../files.js';

const { onnx } = onnxProto;

/** raw_data at least this large stays in the file. */
const LAZY_BYTES = 4096;
/** Bytes read at once while walking fields. */
const WINDOW = 1 << 16;
// Field numbers (onnx.proto): ModelProto.graph = 7, GraphProto.initializer = 5, TensorProto.raw_data = 9.
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;

class FileReader {
  private readonly fd: number;
  readonly size: number;
  constructor(readonly file: string) {
    this.fd = openSync(file, 'r');
    this.size = fstatSync(this.fd).size;
  }
  // Fields are walked with reads of a few bytes: they come from a window of the file read at once.
  private readonly buffer = new Uint8Array(WINDOW);
  private window = this.buffer.subarray(0, 0);
  private windowAt = 0;
  /** Bytes [offset, offset + length): a view that the next call may overwrite, or a new array when large. */
  bytes(offset: number, length: number): Uint8Array {
    if (offset + length > this.size) throw inputError(this.file, `not a valid ONNX model (a field runs past the end of the file at byte ${offset})`);
    if (offset >= this.windowAt && offset + length <= this.windowAt + this.window.length) return this.window.subarray(offset - this.windowAt, offset - this.windowAt + length);
    if (length <= WINDOW / 2) {
      this.window = this.buffer.subarray(0, Math.min(WINDOW, this.size - offset));
      this.windowAt = offset;
      this.fill(this.window, offset);
      return this.window.subarray(0, length);
    }
    const buf = new Uint8Array(length);
    this.fill(buf, offset);
    return buf;
  }
  private fill(buf: Uint8Array, offset: number): void {
    const length = buf.length;
    for (let done = 0; done < length; ) {
      const n = readSync(this.fd, buf, done, length - done, offset + done);
      if (n <= 0) throw inputError(this.file, 'not a valid ONNX model (the file ended early)');
      done += n;
    }
  }
  /** A varint at `pos`: [value, position after it]. */
  varint(pos: number): [number, number] {
    const b = this.bytes(pos, Math.min(10, this.size - pos));
    let v = 0;
    let mul = 1;
    for (let i = 0; i < b.length; i++) {
      v += (b[i]! & 0x7f) * mul;
      if ((b[i]! & 0x80) === 0) return [v, pos + i + 1];
      mul *= 128;
    }
    throw inputError(this.file, `not a valid ONNX model (a varint at byte ${pos} does not end)`);
  }
  close(): void {
    closeSync(this.fd);
  }
}

interface Field {
  number: number;
  /** Where the field starts (its tag) and ends; for length-delimited fields, where the payload starts. */
  start: number;
  end: number;
  payload: number;
}

/** The fields of a message occupying [start, end) of the file. */
function fields(r: FileReader, start: number, end: number): Field[] {
  const out: Field[] = [];
  let pos = start;
  while (pos < end) {
    const [tag, p] = r.varint(pos);
    const wire = tag & 7;
    let payload = p;
    let next: number;
    if (wire === 0) next = r.varint(p)[1];
    else if (wire === 1) next = p + 8;
    else if (wire === 5) next = p + 4;
    else if (wire === 2) {
      const [len, q] = r.varint(p);
      payload = q;
      next = q + len;
    } else throw inputError(r.file, `not a valid ONNX model (wire type ${wire} at byte ${pos})`);
    if (next > end) throw inputError(r.file, `not a valid ONNX model (a field at byte ${pos} runs past its message)`);
    out.push({ number: Math.floor(tag / 8), start: pos, end: next, payload });
    pos = next;
  }
  return out;
}

/** Concatenates the bytes of the given fields (a message with the others left out). */
function join(r: FileReader, fs: Field[]): Uint8Array {
  const out = new Uint8Array(fs.reduce((s, f) => s + f.end - f.start, 0));
  let o = 0;
  for (const f of fs) {
    out.set(r.bytes(f.start, f.end - f.start), o); // copied before the next read
    o += f.end - f.start;
  }
  return out;
}

/** The model with each large inline initializer turned into an external reference to the file itself. */
export function decodeModelLazily(file: string): P.onnx.ModelProto {
  readHead(file, 0); // a missing file or a folder: the readers' one-line errors
  const r = new FileReader(file);
  try {
    const top = fields(r, 0, r.size);
    const graphField = top.find((f) => f.number === MODEL_GRAPH);
    const model = onnx.ModelProto.decode(join(r, top.filter((f) => f !== graphField)));
    if (!graphField) throw inputError(file, 'ONNX model has no graph');
    const graphFields = fields(r, graphField.payload, graphField.end);
    const graph = onnx.GraphProto.decode(join(r, graphFields.filter((f) => f.number !== GRAPH_INITIALIZER)));
    graph.initializer = graphFields
      .filter((f) => f.number === GRAPH_INITIALIZER)
      .map((f) => {
        const tf = fields(r, f.payload, f.end);
        const raw = tf.find((x) => x.number === TENSOR_RAW_DATA);
        const lazy = raw !== undefined && raw.end - raw.payload >= LAZY_BYTES;
        const t = onnx.TensorProto.decode(join(r, lazy ? tf.filter((x) => x !== raw) : tf));
        if (lazy) {
          t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
          t.externalData = [
            { key: 'location', value: basename(file) },
            { key: 'offset', value: String(raw.payload) },
            { key: 'length', value: String(raw.end - raw.payload) },
          ];
        }
        return t;
      });
    model.graph = graph;
    return model;
  } catch (e) {
    if (e instanceof Error && !('code' in e)) throw inputError(file, `not a valid ONNX model (protobuf decoding failed: ${e.message.split('\n')[0]})`);
    throw e;
  } finally {
    r.close();
  }
}
