/**
 * ifb: Intermediate Functional Block devices, targets for redirected ingress traffic so it can be
 * shaped. No options.
 * @module
 */
import { plainKind, type LinkKind } from './kind.js';

/** ifb takes no options. */
export interface IfbOptions {}
/** ifb reports no IFLA_INFO_DATA. */
export interface IfbInfo {}

export const ifb: LinkKind<IfbOptions, IfbInfo> = plainKind('ifb');
