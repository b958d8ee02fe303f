/**
 * Typed schema declarations: a family declares its attributes as one table row each
 * (`ifname: attr(IFLA_IFNAME, string)`) and its fixed header as a struct; encoding and decoding come
 * from the table. Later families (tc, nftables, sock_diag) reuse the same codecs.
 * @module
 */
import { AttrMap, AttrWriter, ByteWriter, decodeCString } from './attributes.js';
import { formatIp, formatMac, parseIpBytes, parseMacBytes } from './wire_formats.js';

/** How one attribute's payload is written and read. */
export interface AttrCodec<T> {
  readonly name: string;
  encode(a: AttrWriter, type: number, v: T): void;
  decode(b: Buffer): T;
}

export const u8: AttrCodec<number> = { name: 'u8', encode: (a, t, v) => a.u8(t, v), decode: (b) => b.readUInt8(0) };
export const u16: AttrCodec<number> = { name: 'u16', encode: (a, t, v) => a.u16(t, v), decode: (b) => b.readUInt16LE(0) };
export const u32: AttrCodec<number> = { name: 'u32', encode: (a, t, v) => a.u32(t, v), decode: (b) => b.readUInt32LE(0) };
export const s32: AttrCodec<number> = { name: 's32', encode: (a, t, v) => a.s32(t, v), decode: (b) => b.readInt32LE(0) };
export const u64: AttrCodec<bigint> = { name: 'u64', encode: (a, t, v) => a.u64(t, v), decode: (b) => b.readBigUInt64LE(0) };
export const s64: AttrCodec<bigint> = { name: 's64', encode: (a, t, v) => a.raw(t, bytes8((w) => w.writeBigInt64LE(v))), decode: (b) => b.readBigInt64LE(0) };
/** Big-endian u64 (NFTA_*_HANDLE, NFTA_COUNTER_BYTES and most nf_tables numbers are network order). */
export const be64: AttrCodec<bigint> = { name: 'be64', encode: (a, t, v) => a.raw(t, bytes8((w) => w.writeBigUInt64BE(v))), decode: (b) => b.readBigUInt64BE(0) };
export const be16: AttrCodec<number> = { name: 'be16', encode: (a, t, v) => a.be16(t, v), decode: (b) => b.readUInt16BE(0) };
export const be32: AttrCodec<number> = { name: 'be32', encode: (a, t, v) => a.be32(t, v), decode: (b) => b.readUInt32BE(0) };
function bytes8(write: (b: Buffer) => void): Buffer {
  const b = Buffer.alloc(8);
  write(b);
  return b;
}
/** NUL-terminated string. */
export const string: AttrCodec<string> = { name: 'string', encode: (a, t, v) => a.string(t, v), decode: decodeCString };
/** Opaque bytes (copied out of the datagram so they outlive it). */
export const binary: AttrCodec<Buffer> = { name: 'binary', encode: (a, t, v) => a.raw(t, v), decode: (b) => Buffer.from(b) };
/** Presence means true. */
export const flag: AttrCodec<boolean> = {
  name: 'flag',
  encode: (a, t, v) => { if (v) a.flag(t); },
  decode: () => true,
};
/** An IPv4 or IPv6 address in its usual text form; the family is given by the length. */
export const ipAddress: AttrCodec<string> = {
  name: 'ipAddress',
  encode: (a, t, v) => a.raw(t, parseIpBytes(v)),
  decode: (b) => formatIp(b),
};
/** A link-layer address as aa:bb:cc:dd:ee:ff (any length). */
export const macAddress: AttrCodec<string> = {
  name: 'macAddress',
  encode: (a, t, v) => a.raw(t, parseMacBytes(v)),
  decode: (b) => formatMac(b),
};
/** A u8 on the wire, a boolean in the API (IFLA_BR_* style switches). */
export const u8bool: AttrCodec<boolean> = {
  name: 'u8bool',
  encode: (a, t, v) => a.u8(t, v ? 1 : 0),
  decode: (b) => b.readUInt8(0) !== 0,
};
/** A u32 on the wire, a boolean in the API. */
export const u32bool: AttrCodec<boolean> = {
  name: 'u32bool',
  encode: (a, t, v) => a.u32(t, v ? 1 : 0),
  decode: (b) => b.readUInt32LE(0) !== 0,
};

/** One row of a schema table. */
export interface FieldSpec<T> {
  readonly type: number;
  readonly codec: AttrCodec<T>;
  /** The attribute may repeat; decoded as an array. */
  readonly multi: boolean;
}

export function attr<T>(type: number, codec: AttrCodec<T>): FieldSpec<T> {
  return { type, codec, multi: false };
}

/** An attribute that appears several times (decoded to an array, encoded one per element). */
export function attrMulti<T>(type: number, codec: AttrCodec<T>): FieldSpec<T[]> {
  return { type, codec: codec as unknown as AttrCodec<T[]>, multi: true };
}

type FieldValue<S> = S extends FieldSpec<infer T> ? T : never;

/** An attribute a schema does not describe (or could not read), kept as raw bytes (rust-netlink's `Other(DefaultNla)`). */
export interface RawAttribute {
  /** nla_type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits. */
  type: number;
  /** The payload, copied out of the datagram. */
  value: Buffer;
}

/**
 * The object a schema decodes to: every field optional, since the kernel may omit any attribute.
 * `other` holds what the table does not describe, so nothing the kernel sent is lost; encoding writes
 * it back unchanged.
 */
export type Decoded<F extends Record<string, FieldSpec<unknown>>> = { [K in keyof F]?: FieldValue<F[K]> } & { other?: RawAttribute[] };

/** A table of attributes; encodes in declaration order and decodes by attribute type. */
export class Schema<F extends Record<string, FieldSpec<any>>> {
  private readonly byType = new Map<number, [string, FieldSpec<unknown>]>();
  /**
   * The rows in declaration order as parallel arrays, listed once: every request is encoded through
   * here, mostly by code V8 has not optimized yet (a verb runs a few hundred times in a process), where
   * an indexed loop costs a fraction of `for (const [key, spec] of rows)`, which makes two iterators
   * per row (docs/performance.md, "Verbs (verbs2)").
   */
  private readonly keys: readonly string[];
  private readonly specs: readonly FieldSpec<unknown>[];
  /** Row number of each field name, for {@link encode}. */
  private readonly rowOf = new Map<string, number>();

  constructor(readonly name: string, readonly fields: F) {
    const rows = Object.entries(fields);
    this.keys = rows.map((r) => r[0]);
    this.specs = rows.map((r) => r[1]);
    for (let i = 0; i < rows.length; i++) {
      this.byType.set(rows[i][1].type, rows[i]);
      this.rowOf.set(rows[i][0], i);
    }
  }

  /**
   * Write every defined field, in the table's order. Only the fields given are visited: a request
   * sets one to a few of a table's rows (a link table has 34), and probing every row for a value
   * was most of an encoding's cost in code V8 has not optimized yet. The given fields' rows are put
   * in order by insertion (few, and no callback as `sort` would take).
   */
  encode(a: AttrWriter, values: Decoded<F>): void {
    const { specs, rowOf } = this;
    const record = values as Record<string, unknown>;
    const names = Object.keys(record);
    const rows: number[] = [];
    for (let j = 0; j < names.length; j++) {
      const row = rowOf.get(names[j]);
      if (row === undefined || record[names[j]] === undefined) continue;
      let k = rows.length;
      rows.push(row);
      while (k > 0 && rows[k - 1] > row) {
        rows[k] = rows[k - 1];
        k--;
      }
      rows[k] = row;
    }
    for (let j = 0; j < rows.length; j++) {
      const spec = specs[rows[j]];
      const v = record[this.keys[rows[j]]];
      if (spec.multi) for (const item of v as unknown[]) (spec.codec as AttrCodec<unknown>).encode(a, spec.type, item);
      else spec.codec.encode(a, spec.type, v);
    }
    const other = values.other;
    if (other) for (const o of other) a.raw(o.type, o.value);
  }

  /**
   * Decode the attributes of `map` that the table knows; the others go raw into `other` (in the
   * order received), so a newer kernel's attributes are never dropped.
   */
  decodeMap(map: AttrMap): Decoded<F> {
    const out: Record<string, unknown> = {};
    let other: RawAttribute[] | undefined;
    const keep = (type: number, values: Buffer[]) => {
      other ??= [];
      for (const v of values) other.push({ type, value: Buffer.from(v) });
    };
    for (const [type, values] of map.entries()) {
      const row = this.byType.get(type);
      if (!row) {
        keep(type, values);
        continue;
      }
      const [key, spec] = row;
      try {
        if (spec.multi) out[key] = values.map((v) => spec.codec.decode(v));
        else out[key] = spec.codec.decode(values[values.length - 1]);
      } catch {
        // A payload shorter than its type (older or newer kernel layout): keep it raw rather than
        // fail the whole object.
        keep(type, values);
      }
    }
    if (other) out.other = other;
    return out as Decoded<F>;
  }

  decode(buf: Buffer, start = 0, end = buf.length): Decoded<F> {
    return this.decodeMap(new AttrMap(buf, start, end));
  }

  /** Attribute types present in `map` that this table does not describe. */
  unknownTypes(map: AttrMap): number[] {
    return map.types().filter((t) => !this.byType.has(t));
  }
}

/** A nested attribute whose content is described by another schema. */
export function nested<F extends Record<string, FieldSpec<any>>>(schema: Schema<F>): AttrCodec<Decoded<F>> {
  return {
    name: `nested(${schema.name})`,
    encode: (a, t, v) => a.nested(t, (inner) => schema.encode(inner, v)),
    decode: (b) => schema.decode(b),
  };
}

type StructType = 'u8' | 'u16' | 'u32' | 's8' | 's16' | 's32' | 'be16' | 'be32' | 'pad8' | 'pad16' | 'pad32';
type StructType64 = 'u64' | 's64' | 'be64';
const STRUCT_SIZES: Record<StructType | StructType64, number> = {
  u8: 1, u16: 2, u32: 4, s8: 1, s16: 2, s32: 4, be16: 2, be32: 4, pad8: 1, pad16: 2, pad32: 4, u64: 8, s64: 8, be64: 8,
};

/** The values of a struct: 32-bit and smaller fields as numbers, 64-bit fields (`K64`) as bigints. */
export type StructValue<K extends string, K64 extends string = never> = Record<K, number> & Record<K64, bigint>;

/**
 * A fixed C struct (ifinfomsg, rtmsg, nfgenmsg, ...): fields in order, natural layout without holes
 * (holes are written as pad fields). `K` names the number fields, `K64` the 64-bit (bigint) ones.
 */
export class Struct<K extends string, K64 extends string = never> {
  readonly size: number;
  /** The layout as parallel arrays (indexed loops, as in {@link Schema.encode}). */
  private readonly keys: readonly string[];
  private readonly types: readonly (StructType | StructType64)[];

  constructor(
    readonly name: string,
    layout: ReadonlyArray<readonly [K | '_', StructType] | readonly [K64, StructType64]>,
  ) {
    this.size = layout.reduce((n, [, t]) => n + STRUCT_SIZES[t], 0);
    this.keys = layout.map((f) => f[0]);
    this.types = layout.map((f) => f[1]);
  }

  encode(w: ByteWriter, v: Partial<StructValue<K, K64>>): void {
    const values = v as Partial<Record<string, number | bigint>>;
    const { keys, types } = this;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const t = types[i];
      const x = key === '_' ? 0 : (values[key] ?? 0);
      switch (t) {
        case 'u8': w.u8(x as number); break;
        case 'u16': w.u16(x as number); break;
        case 'u32': w.u32(x as number); break;
        case 's8': w.bytes(Buffer.of((x as number) & 0xff)); break;
        case 's16': w.u16((x as number) & 0xffff); break;
        case 's32': w.s32(x as number); break;
        case 'be16': w.be16(x as number); break;
        case 'be32': w.be32(x as number); break;
        case 'pad8': w.u8(0); break;
        case 'pad16': w.u16(0); break;
        case 'pad32': w.u32(0); break;
        case 'u64': w.u64(BigInt.asUintN(64, BigInt(x))); break;
        case 's64': w.u64(BigInt.asUintN(64, BigInt(x))); break;
        case 'be64': w.bytes(bytes8((b) => b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(x))))); break;
      }
    }
  }

  decode(b: Buffer, off = 0): StructValue<K, K64> {
    const out = {} as Record<string, number | bigint>;
    const { keys, types } = this;
    let at = off;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const t = types[i];
      let x: number | bigint = 0;
      switch (t) {
        case 'u8': x = b.readUInt8(at); break;
        case 'u16': x = b.readUInt16LE(at); break;
        case 'u32': x = b.readUInt32LE(at); break;
        case 's8': x = b.readInt8(at); break;
        case 's16': x = b.readInt16LE(at); break;
        case 's32': x = b.readInt32LE(at); break;
        case 'be16': x = b.readUInt16BE(at); break;
        case 'be32': x = b.readUInt32BE(at); break;
        case 'u64': x = b.readBigUInt64LE(at); break;
        case 's64': x = b.readBigInt64LE(at); break;
        case 'be64': x = b.readBigUInt64BE(at); break;
        default: break;
      }
      if (key !== '_' && t !== 'pad8' && t !== 'pad16' && t !== 'pad32') out[key] = x;
      at += STRUCT_SIZES[t];
    }
    return out as StructValue<K, K64>;
  }
}
