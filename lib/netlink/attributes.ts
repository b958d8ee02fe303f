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
  /** `s` in UTF-8, then a NUL when `nul` is set, written in place (no intermediate Buffer). */
  utf8(s: string, nul: boolean): this {
    const n = Buffer.byteLength(s, 'utf8');
    const at = this.reserve(nul ? n + 1 : n);
    this.buf.write(s, at, n, 'utf8');
    if (nul) this.buf[at + n] = 0;
    return this;
  }
  zeros(n: number): this { const at = this.reserve(n); this.buf.fill(0, at, this.length); return this; }
  /** Pad with zeros to a multiple of 4. */
  align(): this { return this.zeros(nlaAlign(this.length) - this.length); }

  /** Overwrite a u16/u32 written earlier (for lengths known only at the end). */
  patchU16(at: number, v: number): void { this.buf.writeUInt16LE(v, at); }
  patchU32(at: number, v: number): void { this.buf.writeUInt32LE(v >>> 0, at); }

  /**
   * What was written, as a view of the writer's memory (no copy): the writer is done once this is
   * called, as every caller builds one message or attribute with it and hands it on.
   */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.length);
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
    this.header(type, Buffer.byteLength(s, 'utf8') + 1);
    this.w.utf8(s, true).align();
    return this;
  }
  /** A string without a trailing NUL (IFLA_INFO_KIND and IFLA_IFALIAS as iproute2 sends them). */
  unterminated(type: number, s: string): this {
    this.header(type, Buffer.byteLength(s, 'utf8'));
    this.w.utf8(s, false).align();
    return this;
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
  /**
   * type -> payload bounds of each occurrence, flattened [start0, end0, start1, end1, ...]. Offsets,
   * not Buffers: a link message has ~50 attributes and a reader looks at a handful, so views are made
   * only for what is read (docs/performance.md, "Levers of the request path").
   */
  private readonly at = new Map<number, number[]>();

  constructor(private readonly buf: Buffer, start = 0, end = buf.length) {
    // The same walk as iterAttrs, without a generator and an object per attribute.
    let off = start;
    while (off + NLA_HDRLEN <= end) {
      const len = buf.readUInt16LE(off);
      if (len < NLA_HDRLEN || off + len > end) return;
      const type = buf.readUInt16LE(off + 2) & NLA_TYPE_MASK;
      const list = this.at.get(type);
      if (list) list.push(off + NLA_HDRLEN, off + len);
      else this.at.set(type, [off + NLA_HDRLEN, off + len]);
      off += nlaAlign(len);
    }
  }

  has(type: number): boolean { return this.at.has(type); }
  get(type: number): Buffer | undefined {
    const l = this.at.get(type);
    return l ? this.buf.subarray(l[l.length - 2], l[l.length - 1]) : undefined;
  }
  all(type: number): Buffer[] {
    const l = this.at.get(type);
    const out: Buffer[] = [];
    if (l) for (let i = 0; i < l.length; i += 2) out.push(this.buf.subarray(l[i], l[i + 1]));
    return out;
  }
  types(): number[] { return [...this.at.keys()]; }
  *entries(): IterableIterator<[number, Buffer[]]> {
    for (const type of this.at.keys()) yield [type, this.all(type)];
  }

  /** Start of the last occurrence's payload when it holds at least `n` bytes, else -1. */
  private fixed(type: number, n: number): number {
    const l = this.at.get(type);
    if (!l) return -1;
    const s = l[l.length - 2];
    return l[l.length - 1] - s >= n ? s : -1;
  }
  u8(type: number): number | undefined { const s = this.fixed(type, 1); return s < 0 ? undefined : this.buf.readUInt8(s); }
  u16(type: number): number | undefined { const s = this.fixed(type, 2); return s < 0 ? undefined : this.buf.readUInt16LE(s); }
  u32(type: number): number | undefined { const s = this.fixed(type, 4); return s < 0 ? undefined : this.buf.readUInt32LE(s); }
  s32(type: number): number | undefined { const s = this.fixed(type, 4); return s < 0 ? undefined : this.buf.readInt32LE(s); }
  u64(type: number): bigint | undefined { const s = this.fixed(type, 8); return s < 0 ? undefined : this.buf.readBigUInt64LE(s); }
  string(type: number): string | undefined { const b = this.get(type); return b ? decodeCString(b) : undefined; }
  nested(type: number): AttrMap | undefined {
    const l = this.at.get(type);
    return l ? new AttrMap(this.buf, l[l.length - 2], l[l.length - 1]) : undefined;
  }
}

/** A C string attribute: up to the first NUL. */
export function decodeCString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.toString('utf8', 0, nul === -1 ? b.length : nul);
}
