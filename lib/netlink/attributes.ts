/**
 * Netlink attributes (struct nlattr): a writer that appends aligned TLVs, and a reader that indexes
 * them without copying.
 * @module
 */
import { NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK, nlaAlign } from './constants.js';

/**
 * Growable byte sink for building messages. Values are host-endian (little-endian on every Linux
 * this runs on) unless a method says big-endian.
 */
export class ByteWriter {
  private buf: Buffer;
  /** Bytes written so far. */
  length = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  // Callers take the offset before touching this.buf: reserve() may replace the buffer.
  private reserve(n: number): number {
    const at = this.length;
    const need = at + n;
    if (need > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < need) size *= 2;
      const next = Buffer.allocUnsafe(size);
      this.buf.copy(next, 0, 0, at);
      this.buf = next;
    }
    this.length = need;
    return at;
  }

  u8(v: number): this { const at = this.reserve(1); this.buf.writeUInt8(v, at); return this; }
  u16(v: number): this { const at = this.reserve(2); this.buf.writeUInt16LE(v, at); return this; }
  u32(v: number): this { const at = this.reserve(4); this.buf.writeUInt32LE(v >>> 0, at); return this; }
  s32(v: number): this { const at = this.reserve(4); this.buf.writeInt32LE(v, at); return this; }
  u64(v: bigint): this { const at = this.reserve(8); this.buf.writeBigUInt64LE(v, at); return this; }
  be16(v: number): this { const at = this.reserve(2); this.buf.writeUInt16BE(v, at); return this; }
  be32(v: number): this { const at = this.reserve(4); this.buf.writeUInt32BE(v >>> 0, at); return this; }
  bytes(b: Uint8Array): this { const at = this.reserve(b.length); this.buf.set(b, at); return this; }
  zeros(n: number): this { const at = this.reserve(n); this.buf.fill(0, at, this.length); return this; }
  /** Pad with zeros to a multiple of 4. */
  align(): this { return this.zeros(nlaAlign(this.length) - this.length); }

  /** Overwrite a u16/u32 written earlier (for lengths known only at the end). */
  patchU16(at: number, v: number): void { this.buf.writeUInt16LE(v, at); }
  patchU32(at: number, v: number): void { this.buf.writeUInt32LE(v >>> 0, at); }

  /** A copy of what was written. */
  toBuffer(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.length));
  }
}

/** Writes struct nlattr TLVs into a ByteWriter. */
export class AttrWriter {
  constructor(readonly w: ByteWriter = new ByteWriter()) {}

  private header(type: number, payloadLen: number): void {
    this.w.u16(NLA_HDRLEN + payloadLen).u16(type);
  }

  raw(type: number, payload: Uint8Array): this {
    this.header(type, payload.length);
    this.w.bytes(payload).align();
    return this;
  }
  flag(type: number): this { this.header(type, 0); return this; }
  u8(type: number, v: number): this { this.header(type, 1); this.w.u8(v).align(); return this; }
  u16(type: number, v: number): this { this.header(type, 2); this.w.u16(v).align(); return this; }
  u32(type: number, v: number): this { this.header(type, 4); this.w.u32(v); return this; }
  s32(type: number, v: number): this { this.header(type, 4); this.w.s32(v); return this; }
  u64(type: number, v: bigint): this { this.header(type, 8); this.w.u64(v); return this; }
  be16(type: number, v: number): this { this.header(type, 2); this.w.be16(v).align(); return this; }
  be32(type: number, v: number): this { this.header(type, 4); this.w.be32(v); return this; }
  /** A NUL-terminated string (NLA_NUL_STRING / NLA_STRING as the kernel's own tools send it). */
  string(type: number, s: string): this {
    const b = Buffer.from(s + '\0', 'utf8');
    return this.raw(type, b);
  }
  /** A nested attribute; the kernel wants NLA_F_NESTED on nests it validates strictly. */
  nested(type: number, fill: (a: AttrWriter) => void, flagNested = true): this {
    const at = this.w.length;
    this.w.u16(0).u16(flagNested ? type | NLA_F_NESTED : type);
    fill(this);
    this.w.patchU16(at, this.w.length - at);
    return this;
  }
}

/** One attribute as found in a message; `value` is a view into the received datagram. */
export interface RawAttr {
  type: number;
  nested: boolean;
  value: Buffer;
}

/** Iterate the attributes in buf[start, end). Stops at a malformed one rather than throwing. */
export function* iterAttrs(buf: Buffer, start = 0, end = buf.length): Generator<RawAttr> {
  let off = start;
  while (off + NLA_HDRLEN <= end) {
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < NLA_HDRLEN || off + len > end) return;
    yield {
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      value: buf.subarray(off + NLA_HDRLEN, off + len),
    };
    off += nlaAlign(len);
  }
}

/**
 * Attributes indexed by type. The last occurrence wins for `get`; `all` keeps every occurrence (for
 * attributes the kernel repeats, such as multipath next hops).
 */
export class AttrMap {
  private readonly byType = new Map<number, Buffer[]>();

  constructor(buf: Buffer, start = 0, end = buf.length) {
    for (const a of iterAttrs(buf, start, end)) {
      const list = this.byType.get(a.type);
      if (list) list.push(a.value);
      else this.byType.set(a.type, [a.value]);
    }
  }

  has(type: number): boolean { return this.byType.has(type); }
  get(type: number): Buffer | undefined {
    const l = this.byType.get(type);
    return l ? l[l.length - 1] : undefined;
  }
  all(type: number): Buffer[] { return this.byType.get(type) ?? []; }
  types(): number[] { return [...this.byType.keys()]; }
  entries(): IterableIterator<[number, Buffer[]]> { return this.byType.entries(); }

  u8(type: number): number | undefined { const b = this.get(type); return b && b.length >= 1 ? b.readUInt8(0) : undefined; }
  u16(type: number): number | undefined { const b = this.get(type); return b && b.length >= 2 ? b.readUInt16LE(0) : undefined; }
  u32(type: number): number | undefined { const b = this.get(type); return b && b.length >= 4 ? b.readUInt32LE(0) : undefined; }
  s32(type: number): number | undefined { const b = this.get(type); return b && b.length >= 4 ? b.readInt32LE(0) : undefined; }
  u64(type: number): bigint | undefined { const b = this.get(type); return b && b.length >= 8 ? b.readBigUInt64LE(0) : undefined; }
  string(type: number): string | undefined { const b = this.get(type); return b ? decodeCString(b) : undefined; }
  nested(type: number): AttrMap | undefined { const b = this.get(type); return b ? new AttrMap(b) : undefined; }
}

/** A C string attribute: up to the first NUL. */
export function decodeCString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul === -1 ? b.length : nul);
}
