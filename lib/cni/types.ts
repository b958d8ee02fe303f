/**
 * CNI protocol types (spec 1.0.0 and 1.1.0): the runtime's parameters, the result and error objects
 * exactly as the spec's JSON, and the typed error every CNI entry point throws.
 * @module
 */
import { NetnsError } from '../errors.js';
import type { Netns } from '../api/netns/index.js';

/** Well-known error codes of the spec ("Error codes 0-99 are reserved for well-known errors"). */
export const CNI_ERR = {
  /** Incompatible CNI version. */
  INCOMPATIBLE_VERSION: 1,
  /** Unsupported field in network configuration (the message names key and value). */
  UNSUPPORTED_FIELD: 2,
  /** Container unknown or does not exist. */
  UNKNOWN_CONTAINER: 3,
  /** Invalid necessary environment variables (the message names them). */
  INVALID_ENVIRONMENT: 4,
  /** I/O failure, e.g. reading the configuration from stdin. */
  IO_FAILURE: 5,
  /** Failed to decode content (JSON). */
  DECODING_FAILURE: 6,
  /** Invalid network config. */
  INVALID_NETWORK_CONFIG: 7,
  /** Try again later: a transient condition. */
  TRY_AGAIN_LATER: 11,
  /** STATUS: the plugin cannot service ADD requests (spec 1.1.0). */
  PLUGIN_NOT_AVAILABLE: 50,
  /** STATUS: not available, and existing containers may have limited connectivity (spec 1.1.0). */
  PLUGIN_NOT_AVAILABLE_LIMITED: 51,
  /**
   * Plugin-specific failure (≥ 100 is the plugins' own range). 999 is the code the reference
   * plugins (containernetworking/plugins' skel) give every error that is not one of the above, so a
   * runtime sees the same code from either implementation.
   */
  INTERNAL: 999,
} as const;

/**
 * A CNI error: what the plugin prints on stdout (with exit status 1) as
 * `{"cniVersion", "code", "msg", "details"}`.
 */
export class CniError extends NetnsError {
  /** The spec's numeric code (see {@link CNI_ERR}). */
  readonly cniCode: number;
  /** The spec's `msg`. */
  readonly msg: string;
  /** The spec's `details` ('' when absent). */
  readonly details: string;

  constructor(cniCode: number, msg: string, details = '', cause?: unknown) {
    super(details ? `${msg}: ${details}` : msg, { code: 'ERR_CNI', cause });
    this.cniCode = cniCode;
    this.msg = msg;
    this.details = details;
  }

  /** The spec's error object. */
  toJSON(cniVersion: string): CniErrorJson {
    const out: CniErrorJson = { cniVersion, code: this.cniCode, msg: this.msg };
    if (this.details) out.details = this.details;
    return out;
  }
}

/** The error structure of the spec. */
export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/** One interface of a result (`interfaces[]`). */
export interface CniInterface {
  name: string;
  mac?: string;
  /** 1.1.0. */
  mtu?: number;
  /** The container namespace path, for interfaces inside it. */
  sandbox?: string;
  /** 1.1.0. */
  socketPath?: string;
  /** 1.1.0. */
  pciID?: string;
}

/** One address of a result (`ips[]`). */
export interface CniIpConfig {
  /** Index into `interfaces`. */
  interface?: number;
  /** CIDR: `10.1.0.5/24`. */
  address: string;
  gateway?: string;
  /** Only in results of versions before 1.0.0: '4' or '6'. */
  version?: '4' | '6';
}

/** One route of a result or of an IPAM configuration (`routes[]`). */
export interface CniRoute {
  dst: string;
  gw?: string;
  /** 1.1.0. */
  mtu?: number;
  /** 1.1.0. */
  advmss?: number;
  /** 1.1.0. */
  priority?: number;
  /** 1.1.0. */
  table?: number;
  /** 1.1.0. */
  scope?: number;
}

/** DNS settings (`dns`). */
export interface CniDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** The success result of ADD (spec "Success"). */
export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIpConfig[];
  routes?: CniRoute[];
  dns?: CniDns;
}

/** What VERSION prints. */
export interface CniVersionInfo {
  cniVersion: string;
  supportedVersions: string[];
}

/** The runtime's side of one invocation: the spec's CNI_* parameters, typed. */
export interface CniRuntime {
  /** CNI_CONTAINERID. */
  containerId: string;
  /** CNI_NETNS: path of the container's network namespace (`/run/netns/NAME`, `/proc/PID/ns/net`). May be '' for DEL. */
  netns?: string;
  /** CNI_IFNAME: the interface name inside the container. */
  ifName: string;
  /** CNI_ARGS: `K1=V1;K2=V2`, or the pairs already split. */
  args?: string | Record<string, string>;
  /** CNI_PATH: directories searched for delegated plugins (an IPAM `type` other than host-local). */
  path?: string[];
  /**
   * The namespace playing the host: where the bridge, the host ends of veths, the gateway addresses
   * and the masquerade rules go. Default: the namespace this process runs in (the executable runs
   * where the runtime started it, as the spec requires).
   */
  hostNetns?: Netns;
}

/** A network configuration as read from stdin (the fields this library reads; others are kept). */
export interface NetConf {
  cniVersion?: string;
  name?: string;
  type?: string;
  ipam?: { type?: string; [key: string]: unknown };
  dns?: CniDns;
  prevResult?: CniResult;
  runtimeConfig?: Record<string, unknown>;
  args?: Record<string, unknown>;
  [key: string]: unknown;
}
