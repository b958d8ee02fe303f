/**
 * Per-namespace sysctls (`ip netns exec NAME sysctl ...`) without a process: an addon worker thread
 * enters the namespace, opens the file under /proc/sys/net there, reads or writes it, and comes back.
 * /proc/sys/net resolves against the opening thread's namespace, so the JS thread and every other
 * thread of the process keep seeing their own values. See docs/threading.md.
 * @module
 */
import { NetnsError } from '../errors.js';
import { formatSysctlValue, parseSysctlKey, type SysctlValue } from '../validate/sysctl.js';
import { callNative } from '../native_call.js';
import type { NsContext } from '../api/context.js';

/** sysctl verbs acting inside one namespace (`ns.sysctl`). Only keys under `net.` are accepted. */
export class Sysctl {
  /** @internal The handle makes it (users reach it as `ns.links`, `ns.tc`, ...). */
  constructor(private readonly ns: NsContext) {}

  /**
   * Read a value, trimmed of the kernel's trailing newline (multi-value sysctls keep their tabs).
   *
   * Keys take sysctl(8)'s forms: `net.ipv4.ip_forward`, or for an interface name with a dot
   * `net/ipv4/conf/eth0.100/rp_filter` or `net.ipv4.conf.eth0/100.rp_filter`.
   *
   * Equivalent to: `ip netns exec NAME sysctl -n KEY`
   * @example
   * ```ts
   * const fwd = await ns.sysctl.get('net.ipv4.ip_forward'); // '0'
   * ```
   * @throws {@link ValidationError} for a key outside `net.` or with empty, `.` or `..` components
   *   (nothing is opened); a {@link SystemError} with code 'ENOENT' (message and `path` name the key)
   *   when the key does not exist in this namespace, 'EISDIR' for a directory.
   */
  async get(key: string): Promise<string> {
    const k = parseSysctlKey(key);
    const fd = this.ns.fd();
    const raw = await callNative<string>(`sysctl ${k.key}`, (a, cb) => a.sysctlRead(fd, k.path, cb));
    return raw.trim();
  }

  /**
   * Read a value that is a single integer.
   *
   * Equivalent to: `ip netns exec NAME sysctl -n KEY`
   * @example
   * ```ts
   * if ((await ns.sysctl.getNumber('net.ipv4.ip_forward')) === 1) console.log('routing');
   * ```
   * @throws as {@link Sysctl.get}; a {@link NetnsError} with code 'ERR_NOT_A_NUMBER' when the value is
   *   not one integer (e.g. `net.ipv4.tcp_rmem` holds three).
   */
  async getNumber(key: string): Promise<number> {
    const text = await this.get(key);
    const n = Number(text);
    if (!/^-?\d+$/u.test(text) || !Number.isSafeInteger(n)) {
      throw new NetnsError(`sysctl ${key}: value ${JSON.stringify(text)} is not a single integer`, { code: 'ERR_NOT_A_NUMBER', operation: `sysctl ${key}` });
    }
    return n;
  }

  /**
   * Write a value. Numbers must be safe integers; an array is written tab-separated (`tcp_rmem`).
   *
   * Equivalent to: `ip netns exec NAME sysctl -w KEY=VALUE`
   * @example
   * ```ts
   * await router.sysctl.set('net.ipv4.ip_forward', 1);
   * await router.sysctl.set('net/ipv4/conf/eth0.100/rp_filter', 2);
   * await ns.sysctl.set('net.ipv4.ip_local_port_range', [20000, 30000]);
   * ```
   * @throws {@link ValidationError} for a bad key or value (nothing is opened); a {@link SystemError}
   *   with code 'ENOENT' for a missing key, 'EINVAL' when the kernel refuses the value, 'EACCES' for a
   *   read-only key.
   */
  async set(key: string, value: SysctlValue): Promise<void> {
    const k = parseSysctlKey(key);
    const text = formatSysctlValue(value);
    const fd = this.ns.fd();
    await callNative<void>(`sysctl -w ${k.key}=${text}`, (a, cb) => a.sysctlWrite(fd, k.path, text, cb));
  }
}
