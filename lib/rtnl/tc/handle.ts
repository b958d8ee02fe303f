/**
 * tc's handle notation: `1:` (a qdisc, major 1), `1:10` (class 10 of qdisc 1), `root`, `ingress`,
 * `clsact`, all hexadecimal as tc reads them (get_tc_classid, get_qdisc_handle in tc/tc_util.c),
 * and the reverse, printed the way `tc` prints them (print_tc_classid).
 * @module
 */
import { ValidationError } from '../../errors.js';
import {
  TC_H_CLSACT,
  TC_H_INGRESS,
  TC_H_MAJ,
  TC_H_MAKE,
  TC_H_MIN,
  TC_H_MIN_EGRESS,
  TC_H_MIN_INGRESS,
  TC_H_ROOT,
  TC_H_UNSPEC,
} from './tcmsg.js';

/** A handle or parent: tc notation (`'1:'`, `'1:10'`, `'root'`...) or the 32-bit number. */
export type TcHandle = string | number;

/** `tc` prints a handle this way: `root`, `none`, `1:`, `1:10`, `:10`. */
export function formatHandle(h: number): string {
  h >>>= 0;
  if (h === TC_H_ROOT) return 'root';
  if (h === TC_H_UNSPEC) return 'none';
  const maj = TC_H_MAJ(h) >>> 16;
  const min = TC_H_MIN(h);
  if (maj === 0) return `:${min.toString(16)}`;
  if (min === 0) return `${maj.toString(16)}:`;
  return `${maj.toString(16)}:${min.toString(16)}`;
}

const HEX = /^[0-9a-fA-F]{1,4}$/;

/** `MAJ:MIN` in hex with either half optional, or throw. Returns [major, minor|undefined]. */
function splitHex(field: string, s: string): [number, number | undefined] {
  const m = /^([^:]*):([^:]*)$/.exec(s);
  if (!m) throw new ValidationError(field, s, "must be tc notation MAJOR:MINOR in hex (e.g. '1:', '1:10') or a number");
  const [, a, b] = m;
  if (!HEX.test(a)) throw new ValidationError(field, s, 'the major number must be 1 to 4 hex digits');
  if (b !== '' && !HEX.test(b)) throw new ValidationError(field, s, 'the minor number must be 1 to 4 hex digits');
  return [parseInt(a, 16), b === '' ? undefined : parseInt(b, 16)];
}

function u32(field: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new ValidationError(field, v, 'must be a 32-bit unsigned integer');
  return v >>> 0;
}

/**
 * A qdisc's own handle (`tc qdisc add ... handle 1:`): a major number, minor 0. 0 (`0:`) would ask
 * the kernel to pick one, which is what omitting the handle does, so it is refused here.
 */
export function parseQdiscHandle(field: string, v: unknown): number {
  let h: number;
  if (typeof v === 'number') h = u32(field, v);
  else if (typeof v === 'string') {
    const [maj, min] = splitHex(field, v.endsWith(':') || v.includes(':') ? v : `${v}:`);
    if (min !== undefined && min !== 0) throw new ValidationError(field, v, 'a qdisc handle has no minor number (write it as MAJOR:)');
    h = (maj << 16) >>> 0;
  } else throw new ValidationError(field, v, "must be tc notation such as '1:' or a number");
  if (TC_H_MIN(h) !== 0) throw new ValidationError(field, v, 'a qdisc handle has minor number 0');
  if (TC_H_MAJ(h) === 0) throw new ValidationError(field, v, "major 0 is not a handle (omit it to let the kernel choose)");
  if (h === TC_H_MAJ(TC_H_ROOT)) throw new ValidationError(field, v, "ffff: is reserved for the ingress/clsact qdisc (use kind 'ingress' or 'clsact')");
  return h;
}

/** A class id (`1:10`): both halves non-zero, and not one of the reserved values. */
export function parseClassId(field: string, v: unknown): number {
  let h: number;
  if (typeof v === 'number') h = u32(field, v);
  else if (typeof v === 'string') {
    const [maj, min] = splitHex(field, v);
    if (min === undefined) throw new ValidationError(field, v, "a class id needs a minor number ('1:10'); '1:' is a qdisc");
    h = TC_H_MAKE(maj << 16, min);
  } else throw new ValidationError(field, v, "must be tc notation such as '1:10' or a number");
  if (h === TC_H_ROOT || h === TC_H_INGRESS || TC_H_MAJ(h) === TC_H_MAJ(TC_H_ROOT)) {
    throw new ValidationError(field, v, 'ffff:X ids are reserved by the kernel (root, ingress, clsact)');
  }
  if (TC_H_MAJ(h) === 0) throw new ValidationError(field, v, 'the major number must not be 0');
  if (TC_H_MIN(h) === 0) throw new ValidationError(field, v, "the minor number must not be 0 ('1:' names the qdisc, not a class)");
  return h;
}

/** Where a qdisc or class hangs: `root`, a class `1:10`, or a qdisc `1:`. */
export function parseParent(field: string, v: unknown): number {
  if (v === 'root') return TC_H_ROOT;
  if (typeof v === 'string' && /^[^:]*:$/.test(v)) return parseQdiscHandle(field, v);
  if (typeof v === 'number' && (v >>> 0) === TC_H_ROOT) return TC_H_ROOT;
  if (typeof v === 'number' && Number.isInteger(v) && TC_H_MIN(v) === 0 && v !== 0) return parseQdiscHandle(field, v);
  return parseClassId(field, v);
}

/**
 * Where a filter attaches: a qdisc (`1:`), a class, `root`, or the `ingress`/`egress` hook of a
 * clsact or ingress qdisc (tc's `tc filter add dev X ingress`). `ffff:` names the ingress qdisc.
 */
export function parseFilterParent(field: string, v: unknown): number {
  if (v === 'ingress') return TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS);
  if (v === 'egress') return TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS);
  if (v === 'ffff:' || v === 0xffff0000) return 0xffff0000;
  return parseParent(field, v);
}
