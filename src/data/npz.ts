// NumPy .npz: a ZIP archive of .npy files, stored or deflated. Read through the central directory,
// with every offset and size checked against the file before use.
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { inputError } from '../errors.js';
import { encodeNpy, parseNpy, type NdArray } from './npy.js';

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

export function parseNpz(file: string, bytes: Uint8Array): Map<string, NdArray> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // The end-of-central-directory record is in the last 22 + 65535 bytes.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--)
    if (view.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  if (eocd < 0) throw inputError(file, 'not a .npz (zip) archive: no end of central directory');
  const count = view.getUint16(eocd + 10, true);
  const cdSize = view.getUint32(eocd + 12, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (cdOffset === 0xffffffff || count === 0xffff) throw inputError(file, 'ZIP64 archives are not supported');
  if (cdOffset + cdSize > eocd) throw inputError(file, 'corrupt zip: central directory outside the file');
  const out = new Map<string, NdArray>();
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > eocd || view.getUint32(p, true) !== CENTRAL) throw inputError(file, `corrupt zip: bad central directory entry ${k}`);
    const method = view.getUint16(p + 10, true);
    const compSize = view.getUint32(p + 20, true);
    const size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    const local = view.getUint32(p + 42, true);
    if (p + 46 + nameLen > eocd) throw inputError(file, `corrupt zip: entry ${k} name runs past the directory`);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
    if (local + 30 > bytes.length || view.getUint32(local, true) !== LOCAL) throw inputError(file, `corrupt zip: entry '${name}' has a bad local header offset`);
    const dataStart = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (dataStart + compSize > bytes.length) throw inputError(file, `corrupt zip: entry '${name}' runs past the end of the file`);
    const raw = bytes.subarray(dataStart, dataStart + compSize);
    let content: Uint8Array;
    if (method === 0) content = raw;
    else if (method === 8) {
      try {
        // maxOutputLength bounds memory by the size the directory declares.
        content = inflateRawSync(raw, { maxOutputLength: Math.max(size, 1) });
      } catch (e) {
        throw inputError(file, `entry '${name}': cannot inflate (${(e as Error).message})`);
      }
    } else throw inputError(file, `entry '${name}': zip compression method ${method} is not supported (stored or deflated only)`);
    if (content.length !== size) throw inputError(file, `entry '${name}': ${content.length} bytes, the directory says ${size}`);
    const key = name.endsWith('.npy') ? name.slice(0, -4) : name;
    out.set(key, parseNpy(file, content, `array '${key}'`));
  }
  return out;
}

/** CRC-32 (IEEE), required by the zip format. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Writes arrays as a deflated .npz; entries sorted and timestamps fixed, so the bytes are deterministic. */
export function encodeNpz(arrays: Record<string, NdArray>): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const key of Object.keys(arrays).sort()) {
    const name = new TextEncoder().encode(`${key}.npy`);
    const content = encodeNpy(arrays[key]!);
    const comp = deflateRawSync(content, { level: 9 });
    const crc = crc32(content);
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, LOCAL, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, 8, true);
    lv.setUint16(12, 0x21, true); // 1980-01-01, a fixed date
    lv.setUint32(14, crc, true);
    lv.setUint32(18, comp.length, true);
    lv.setUint32(22, content.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const central = new Uint8Array(46 + name.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, CENTRAL, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, 8, true);
    cv.setUint16(14, 0x21, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, comp.length, true);
    cv.setUint32(24, content.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    central.set(name, 46);
    locals.push(local, comp);
    centrals.push(central);
    offset += local.length + comp.length;
  }
  const cdSize = centrals.reduce((s, c) => s + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, EOCD, true);
  ev.setUint16(8, centrals.length, true);
  ev.setUint16(10, centrals.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  return Buffer.concat([...locals, ...centrals, end]);
}
