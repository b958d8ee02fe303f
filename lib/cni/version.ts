/**
 * cniVersion negotiation and the checks every CNI invocation makes before the plugin runs, in the
 * order the reference plugins' dispatcher (containernetworking/cni pkg/skel) makes them, so the same
 * bad input gives the same error code and message from either implementation.
 * @module
 */
import { CNI_ERR, CniError, type CniResult, type CniVersionInfo, type NetConf } from './types.js';

/** Versions whose result format this implementation writes (0.1.0/0.2.0 results have another shape). */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** The newest version spoken: the `cniVersion` VERSION reports when none is given. */
export const CURRENT_VERSION = '1.1.0';

/** VERSION's answer. */
export function versionInfo(cniVersion?: string): CniVersionInfo {
  return { cniVersion: cniVersion || CURRENT_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] };
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The configuration's `cniVersion` ('0.1.0' when absent, as the spec's first version had none). */
export function configVersion(conf: NetConf): string {
  const v = conf.cniVersion;
  if (v === undefined || v === '') return '0.1.0';
  if (typeof v !== 'string') throw new CniError(CNI_ERR.DECODING_FAILURE, 'cniVersion must be a string', String(v));
  return v;
}

function parts(v: string): number[] | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/** a ≥ b for dotted versions; throws a decoding error for a malformed one. */
export function versionAtLeast(a: string, b: string): boolean {
  const pa = parts(a);
  const pb = parts(b);
  if (!pa) throw new CniError(CNI_ERR.DECODING_FAILURE, `unable to parse version "${a}"`);
  if (!pb) throw new CniError(CNI_ERR.DECODING_FAILURE, `unable to parse version "${b}"`);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] > pb[i];
  return true;
}

/** Code 1 when the configuration's version is not one this implementation speaks. */
export function checkVersion(conf: NetConf): string {
  const v = configVersion(conf);
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(v)) {
    const list = SUPPORTED_VERSIONS.map((s) => `"${s}"`).join(' ');
    throw new CniError(CNI_ERR.INCOMPATIBLE_VERSION, 'incompatible CNI versions', `config is "${v}", plugin supports [${list}]`);
  }
  return v;
}

/** The network name check (code 7). */
export function checkNetworkName(conf: NetConf): string {
  const name = conf.name;
  if (name === undefined || name === '') throw new CniError(CNI_ERR.INVALID_NETWORK_CONFIG, 'missing network name');
  if (typeof name !== 'string' || !NAME_RE.test(name)) throw new CniError(CNI_ERR.INVALID_NETWORK_CONFIG, 'invalid characters found in network name', String(name));
  return name;
}

/** CNI_CONTAINERID's check: missing is code 3, bad characters code 4. */
export function checkContainerId(id: string | undefined): string {
  if (!id) throw new CniError(CNI_ERR.UNKNOWN_CONTAINER, 'missing containerID');
  if (!NAME_RE.test(id)) throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, 'invalid characters in containerID', id);
  return id;
}

/** CNI_IFNAME's check (code 4), the kernel's rules for interface names. */
export function checkIfName(ifName: string | undefined): string {
  if (!ifName) throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, 'interface name is empty');
  if (Buffer.byteLength(ifName) > 15) throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, 'interface name is too long', 'interface name should be less than 16 characters');
  if (ifName === '.' || ifName === '..') throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, 'interface name is . or ..');
  if (/[/:\s]/u.test(ifName)) throw new CniError(CNI_ERR.INVALID_ENVIRONMENT, 'interface name contains / or : or whitespace characters');
  return ifName;
}

/**
 * The result as the requested version writes it: before 1.0.0 every address carries `version`
 * ('4'/'6'); 1.0.0 dropped it. Fields 1.1.0 added are dropped for older versions.
 */
export function resultForVersion(result: CniResult, version: string): CniResult {
  const out: CniResult = { ...result, cniVersion: version };
  const pre1 = !versionAtLeast(version, '1.0.0');
  const pre11 = !versionAtLeast(version, '1.1.0');
  if (result.interfaces) {
    out.interfaces = result.interfaces.map((i) => {
      const c = { ...i };
      if (pre11) { delete c.mtu; delete c.socketPath; delete c.pciID; }
      return c;
    });
  }
  if (result.ips) {
    out.ips = result.ips.map((ip) => {
      const c = { ...ip };
      if (pre1) {
        const ordered = { version: (ip.address.includes(':') ? '6' : '4') as '4' | '6', ...c };
        return ordered;
      }
      delete c.version;
      return c;
    });
  }
  if (result.routes && pre11) out.routes = result.routes.map(({ dst, gw }) => (gw === undefined ? { dst } : { dst, gw }));
  return out;
}

/** Read a result of any supported version back into the current shape (for prevResult). */
export function normalizeResult(r: CniResult): CniResult {
  return { ...r, ips: r.ips?.map(({ version: _v, ...rest }) => rest) };
}

/** Parse the configuration (a JSON string or buffer, as on stdin, or an object) with the spec's decoding error. */
export function parseConfig(config: NetConf | string | Uint8Array): NetConf {
  if (typeof config === 'object' && !(config instanceof Uint8Array)) {
    if (config === null || Array.isArray(config)) throw new CniError(CNI_ERR.DECODING_FAILURE, 'error unmarshall network config: not an object');
    return structuredClone(config);
  }
  const text = typeof config === 'string' ? config : Buffer.from(config).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new CniError(CNI_ERR.DECODING_FAILURE, `error unmarshall network config: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CniError(CNI_ERR.DECODING_FAILURE, 'error unmarshall network config: not an object');
  return parsed as NetConf;
}

