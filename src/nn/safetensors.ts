// safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian unsigned header
// length N, N bytes of UTF-8 JSON ({"__metadata__": {str: str}?, name: {dtype, shape, data_offsets}},
// padded with spaces so the data starts on an 8-byte boundary), then the raw little-endian data, with
// data_offsets relative to the data start and the data fully covered, without holes or overlaps.
//
// Writing follows the reference implementation's layout (tensors ordered by dtype, largest first, then
// by name; compact JSON with __metadata__ first), so a dict PyTorch saved comes back byte for byte.
// Written dtypes: F32, F64, I32, BOOL. Read: those, plus F16/BF16 (→ float32) and I64/I16/I8/U8/U16/U32/U64
// (→ int32, range-checked). Nothing here imports Node modules at load time: the file helpers import
// node:fs/promises and node:path when called. saveSafetensors replaces a file atomically (temporary file,
// fsync, rename), so a checkpoint interrupted mid-save leaves the previous one intact.

import { Tensor, type DType } from '../autograd/tensor.js';
import { fromValues } from '../ops/creation.js';
import { fmtShape } from '../helpers/shape.js';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

export interface SafetensorsEntry {
  dtype: SafetensorsDType;
  shape: number[];
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** The string-to-string __metadata__ map ({} when absent). */
  metadata: Record<string, string>;
  /** Tensor entries in header order. */
  entries: Record<string, SafetensorsEntry>;
  /** Byte offset of the data section in the file (8 + header length). */
  dataStart: number;
}

const BYTES: Record<SafetensorsDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};
/** The reference implementation's dtype order (its enum order); writing sorts by it, largest first. */
const RANK: Record<SafetensorsDType, number> = {
  BOOL: 0,
  U8: 4,
  I8: 5,
  I16: 9,
  U16: 10,
  F16: 11,
  BF16: 12,
  I32: 13,
  U32: 14,
  F32: 15,
  F64: 16,
  I64: 17,
  U64: 18,
};
const TO_ST: Record<DType, SafetensorsDType> = { float32: 'F32', float64: 'F64', int32: 'I32', bool: 'BOOL' };
const MAX_HEADER = 100_000_000;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(fn: string, msg: string): never {
  throw new Error(`${fn}: ${msg}`);
}

function utf8Compare(a: string, b: string): number {
  const ea = new TextEncoder().encode(a);
  const eb = new TextEncoder().encode(b);
  const n = Math.min(ea.length, eb.length);
  for (let i = 0; i < n; i++) if (ea[i] !== eb[i]) return ea[i] - eb[i];
  return ea.length - eb.length;
}

function littleEndianBytes(data: Float32Array | Float64Array | Int32Array | Uint8Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || data.BYTES_PER_ELEMENT === 1) return bytes;
  const out = new Uint8Array(data.byteLength);
  const w = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < out.length; i += w) for (let k = 0; k < w; k++) out[i + k] = bytes[i + w - 1 - k];
  return out;
}

/** Serializes tensors (and optional string metadata) to the safetensors format. */
export function serializeSafetensors(dict: Record<string, Tensor>, metadata?: Record<string, string> | null): Uint8Array {
  const fn = 'serializeSafetensors';
  if (dict === null || typeof dict !== 'object' || dict instanceof Tensor)
    fail(fn, `expects a Record<string, Tensor>, got ${dict instanceof Tensor ? 'a Tensor' : String(dict)}`);
  if (metadata != null) {
    if (typeof metadata !== 'object') fail(fn, `metadata must be a Record<string, string>, got ${typeof metadata}`);
    for (const [k, v] of Object.entries(metadata))
      if (typeof v !== 'string') fail(fn, `metadata value for "${k}" must be a string, got ${typeof v}`);
  }
  const items = Object.entries(dict).map(([name, t]) => {
    if (name === '__metadata__') fail(fn, `"__metadata__" is reserved and cannot be a tensor name`);
    if (!(t instanceof Tensor)) fail(fn, `value for "${name}" is not a Tensor`);
    if (t.isDisposed) fail(fn, `tensor "${name}" (shape ${fmtShape(t.shape)}) was disposed`);
    return { name, t, st: TO_ST[t.dtype] };
  });
  items.sort((a, b) => RANK[b.st] - RANK[a.st] || utf8Compare(a.name, b.name));
  const header: Record<string, unknown> = {};
  if (metadata != null) header.__metadata__ = { ...metadata };
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const { name, t, st } of items) {
    const blob = littleEndianBytes(t.toArray());
    header[name] = { dtype: st, shape: [...t.shape], data_offsets: [offset, offset + blob.byteLength] };
    blobs.push(blob);
    offset += blob.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) {
    const padded = new Uint8Array(json.length + pad).fill(0x20);
    padded.set(json);
    json = padded;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true);
  view.setUint32(4, Math.floor(json.length / 4294967296), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const b of blobs) {
    out.set(b, at);
    at += b.byteLength;
  }
  return out;
}

function asBytes(fn: string, bytes: Uint8Array | ArrayBuffer): Uint8Array {
  // Node's Buffer is a Uint8Array whose slice() shares memory: always work on a plain Uint8Array view.
  if (bytes instanceof Uint8Array)
    return bytes.constructor === Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes))
    return new Uint8Array((bytes as ArrayBufferView).buffer, (bytes as ArrayBufferView).byteOffset, (bytes as ArrayBufferView).byteLength);
  return fail(fn, `expects a Uint8Array or ArrayBuffer, got ${bytes === null ? 'null' : typeof bytes}`);
}

function isIntList(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0);
}

/** Reads and validates the header (dtypes, shapes, offsets covering the data exactly). */
export function parseSafetensorsHeader(bytes: Uint8Array | ArrayBuffer, fn = 'parseSafetensorsHeader'): SafetensorsHeader {
  const b = asBytes(fn, bytes);
  if (b.length < 8) fail(fn, `the data is too small (${b.length} bytes) to hold the 8-byte header length`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const n = hi * 4294967296 + lo;
  if (n > MAX_HEADER)
    fail(fn, `header length ${n} is larger than the ${MAX_HEADER}-byte limit (the data is probably not a safetensors file)`);
  if (8 + n > b.length) fail(fn, `header length ${n} runs past the end of the data (${b.length} bytes)`);
  if (n < 2) fail(fn, `header length ${n} is too small for a JSON object`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(8, 8 + n));
  } catch {
    return fail(fn, 'the header is not valid UTF-8');
  }
  if (text[0] !== '{') fail(fn, `the header must start with '{', got ${JSON.stringify(text.slice(0, 16))}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return fail(fn, `the header is not valid JSON: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(fn, 'the header must be a JSON object');
  const metadata: Record<string, string> = {};
  const entries: Record<string, SafetensorsEntry> = {};
  for (const [name, info] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (info === null) continue;
      if (typeof info !== 'object' || Array.isArray(info)) fail(fn, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(fn, `__metadata__ value for "${k}" must be a string, got ${JSON.stringify(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    if (info === null || typeof info !== 'object' || Array.isArray(info))
      fail(fn, `tensor "${name}": its header entry must be an object with dtype, shape and data_offsets`);
    const { dtype, shape, data_offsets: offs } = info as Record<string, unknown>;
    if (typeof dtype !== 'string' || !(dtype in BYTES))
      fail(fn, `tensor "${name}": unsupported dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(BYTES).join(', ')}`);
    if (!isIntList(shape)) fail(fn, `tensor "${name}": shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!isIntList(offs) || offs.length !== 2)
      fail(fn, `tensor "${name}": data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offs)}`);
    entries[name] = { dtype: dtype as SafetensorsDType, shape: [...shape], dataOffsets: [offs[0], offs[1]] };
  }
  const dataLen = b.length - 8 - n;
  const sorted = Object.entries(entries).sort(([, x], [, y]) => x.dataOffsets[0] - y.dataOffsets[0] || x.dataOffsets[1] - y.dataOffsets[1]);
  let expect = 0;
  for (const [name, e] of sorted) {
    const [s, t] = e.dataOffsets;
    if (t < s) fail(fn, `tensor "${name}": data_offsets [${s}, ${t}] end before they begin`);
    if (s !== expect) {
      fail(
        fn,
        `tensor "${name}": data_offsets [${s}, ${t}] ${s > expect ? `leave a gap after byte ${expect}` : `overlap the previous tensor (which ends at byte ${expect})`} of the data`,
      );
    }
    if (t > dataLen)
      fail(fn, `tensor "${name}": data_offsets [${s}, ${t}] run past the end of the data (${dataLen} bytes after the header)`);
    const numel = e.shape.reduce((a, d) => a * d, 1);
    const need = numel * BYTES[e.dtype];
    if (t - s !== need)
      fail(fn, `tensor "${name}" (${e.dtype}, shape ${fmtShape(e.shape)}) needs ${need} bytes but data_offsets [${s}, ${t}] span ${t - s}`);
    expect = t;
  }
  if (expect !== dataLen)
    fail(
      fn,
      `the tensors cover ${expect} bytes of data but ${dataLen} bytes follow the header (the file is truncated or has trailing bytes)`,
    );
  return { metadata, entries, dataStart: 8 + n };
}

function decode(fn: string, name: string, e: SafetensorsEntry, raw: Uint8Array): Tensor {
  const numel = e.shape.reduce((a, d) => a * d, 1);
  // Copy into an aligned buffer (offsets after a BOOL or F16 tensor need not be aligned).
  const buf = new Uint8Array(raw).buffer;
  const dv = new DataView(buf);
  const shape = [...e.shape];
  const w = BYTES[e.dtype];
  let dtype: DType;
  let values: ArrayLike<number>;
  switch (e.dtype) {
    case 'F32':
      dtype = 'float32';
      values = LITTLE_ENDIAN ? new Float32Array(buf) : Float32Array.from({ length: numel }, (_, i) => dv.getFloat32(i * 4, true));
      break;
    case 'F64':
      dtype = 'float64';
      values = LITTLE_ENDIAN ? new Float64Array(buf) : Float64Array.from({ length: numel }, (_, i) => dv.getFloat64(i * 8, true));
      break;
    case 'F16':
      dtype = 'float32';
      values = Float32Array.from({ length: numel }, (_, i) => halfToFloat(dv.getUint16(i * 2, true)));
      break;
    case 'BF16': {
      dtype = 'float32';
      const tmp = new DataView(new ArrayBuffer(4));
      values = Float32Array.from({ length: numel }, (_, i) => {
        tmp.setUint32(0, dv.getUint16(i * 2, true) << 16);
        return tmp.getFloat32(0);
      });
      break;
    }
    case 'BOOL':
      dtype = 'bool';
      values = new Uint8Array(buf);
      break;
    default: {
      dtype = 'int32';
      const read: (o: number) => number | bigint = {
        I64: (o: number) => dv.getBigInt64(o, true),
        U64: (o: number) => dv.getBigUint64(o, true),
        I32: (o: number) => dv.getInt32(o, true),
        U32: (o: number) => dv.getUint32(o, true),
        I16: (o: number) => dv.getInt16(o, true),
        U16: (o: number) => dv.getUint16(o, true),
        I8: (o: number) => dv.getInt8(o),
        U8: (o: number) => dv.getUint8(o),
      }[e.dtype as 'I64'];
      const out = new Int32Array(numel);
      for (let i = 0; i < numel; i++) {
        const v = read(i * w);
        const x = typeof v === 'bigint' ? (v > 2147483647n || v < -2147483648n ? NaN : Number(v)) : v;
        if (!(x >= -2147483648 && x <= 2147483647))
          fail(fn, `tensor "${name}" (${e.dtype}, shape ${fmtShape(e.shape)}): element ${i} (${String(v)}) does not fit in int32`);
        out[i] = x;
      }
      values = out;
    }
  }
  return fromValues(values, shape, dtype);
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Parses a safetensors file's bytes into tensors (in header order). */
export function parseSafetensors(bytes: Uint8Array | ArrayBuffer): Record<string, Tensor> {
  return parseWithMetadata(bytes, 'parseSafetensors').tensors;
}

/** Parses tensors and the __metadata__ map. */
export function parseSafetensorsWithMetadata(bytes: Uint8Array | ArrayBuffer): {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
} {
  return parseWithMetadata(bytes, 'parseSafetensorsWithMetadata');
}

function parseWithMetadata(
  bytes: Uint8Array | ArrayBuffer,
  fn: string,
): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const b = asBytes(fn, bytes);
  const h = parseSafetensorsHeader(b, fn);
  const tensors: Record<string, Tensor> = {};
  for (const [name, e] of Object.entries(h.entries)) {
    tensors[name] = decode(fn, name, e, b.subarray(h.dataStart + e.dataOffsets[0], h.dataStart + e.dataOffsets[1]));
  }
  return { tensors, metadata: h.metadata };
}

type FsPromises = typeof import('node:fs/promises');
type PathModule = typeof import('node:path');

async function nodeModule<M>(fn: string, name: string): Promise<M> {
  // A computed specifier keeps bundlers from trying to resolve a Node built-in for the browser build.
  const spec = ['node', name].join(':');
  try {
    return (await import(/* @vite-ignore */ spec)) as M;
  } catch (e) {
    throw new Error(
      `${fn}: needs Node's ${name} module, which is not available here (${(e as Error).message}); in a browser use serializeSafetensors/parseSafetensors on bytes`,
    );
  }
}

const nodeFs = (fn: string): Promise<FsPromises> => nodeModule<FsPromises>(fn, 'fs/promises');

function errCode(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

/**
 * Replaces the file at `path` with `bytes` so that a crash, a kill or a full disk at any moment leaves
 * either the old file or the new one, complete: the bytes go to a new temporary file in the same
 * directory (`.<name>.<pid>.<random>.tmp`, created exclusively), which is fsynced and then renamed over
 * the target (atomic on POSIX file systems); the directory is fsynced afterwards where the platform
 * allows, so the rename itself survives a power loss. On an error the temporary file is removed; a
 * process killed mid-write can leave one behind (the target is intact). A symbolic link at `path` is
 * followed: the file it points to is replaced and the link kept. An existing file's permission bits
 * are kept.
 */
async function writeFileAtomic(fn: string, path: string, bytes: Uint8Array): Promise<void> {
  const fs = await nodeFs(fn);
  const P = await nodeModule<PathModule>(fn, 'path');
  let target = path;
  let mode = 0o666;
  try {
    target = await fs.realpath(path);
    mode = (await fs.stat(target)).mode & 0o7777;
  } catch (e) {
    if (errCode(e) !== 'ENOENT') throw new Error(`${fn}: cannot write ${path}: ${(e as Error).message}`);
  }
  const dir = P.dirname(target);
  const proc = (globalThis as { process?: { pid?: number } }).process;
  let tmp = '';
  let fh: Awaited<ReturnType<FsPromises['open']>> | null = null;
  try {
    for (let attempt = 0; ; attempt++) {
      const rand = Math.floor(Math.random() * 2 ** 48).toString(36);
      tmp = P.join(dir, `.${P.basename(target)}.${proc?.pid ?? 0}.${rand}.tmp`);
      try {
        fh = await fs.open(tmp, 'wx', mode);
        break;
      } catch (e) {
        if (errCode(e) !== 'EEXIST' || attempt >= 8) {
          tmp = '';
          throw e;
        }
      }
    }
    await fh.writeFile(bytes);
    await fh.sync();
    await fh.close();
    fh = null;
    await fs.rename(tmp, target);
    tmp = '';
  } catch (e) {
    if (fh) await fh.close().catch(() => undefined);
    if (tmp) await fs.unlink(tmp).catch(() => undefined);
    throw new Error(`${fn}: cannot write ${path}: ${(e as Error).message}`);
  }
  // Directory fsync makes the rename durable; not every platform can open or sync a directory (Windows).
  let dh: Awaited<ReturnType<FsPromises['open']>> | null = null;
  try {
    dh = await fs.open(dir, 'r');
    await dh.sync();
  } catch {
    // best effort
  } finally {
    await dh?.close().catch(() => undefined);
  }
}

/**
 * Writes tensors to a .safetensors file (Node only), atomically: an interrupted save leaves the
 * previous file intact (see writeFileAtomic above).
 */
export async function saveSafetensors(dict: Record<string, Tensor>, path: string, metadata?: Record<string, string> | null): Promise<void> {
  if (typeof path !== 'string' || path === '')
    throw new Error(`saveSafetensors: path must be a non-empty string, got ${JSON.stringify(path)}`);
  const bytes = serializeSafetensors(dict, metadata);
  await writeFileAtomic('saveSafetensors', path, bytes);
}

/** Reads a .safetensors file into tensors (Node only). */
export async function loadSafetensors(path: string): Promise<Record<string, Tensor>> {
  return (await loadSafetensorsWithMetadata(path)).tensors;
}

/** Reads a .safetensors file into tensors and its __metadata__ (Node only). */
export async function loadSafetensorsWithMetadata(
  path: string,
): Promise<{ tensors: Record<string, Tensor>; metadata: Record<string, string> }> {
  if (typeof path !== 'string' || path === '')
    throw new Error(`loadSafetensors: path must be a non-empty string, got ${JSON.stringify(path)}`);
  const fs = await nodeFs('loadSafetensors');
  let data: Uint8Array;
  try {
    data = await fs.readFile(path);
  } catch (e) {
    throw new Error(`loadSafetensors: cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return parseWithMetadata(data, 'loadSafetensors');
  } catch (e) {
    throw new Error(`${(e as Error).message} (file ${path})`);
  }
}
