/**
 * Where iproute2 keeps named namespaces and their per-namespace /etc files.
 * @module
 */

/** Where named namespaces are pinned, as iproute2 does (`/var/run/netns` is a link to it). */
export const NETNS_RUN_DIR = '/run/netns';
