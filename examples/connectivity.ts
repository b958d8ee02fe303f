/**
 * How the demo proves that traffic flows between its namespaces.
 *
 * The library has no sockets inside a namespace yet (they come with issue 4), so this is the one
 * place where the demo starts processes: `ip netns exec NS ping -c 1 -W 2 ADDR` (iputils-ping). Once
 * in-namespace sockets exist, only this file changes.
 * @module
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** How {@link proveConnectivity} works, for the demo's output. */
export const PROOF_METHOD = 'spawns `ip netns exec NS ping -c 1 -W 2 ADDR`: the only processes the demo starts';

/** The outcome of one proof. */
export interface Proof {
  ok: boolean;
  /** 'rtt 0.052 ms' on success, the reason otherwise. */
  detail: string;
}

/** Send one ICMP echo from inside the named namespace to `address` and wait up to 2 s for the reply. */
export async function proveConnectivity(namespace: string, address: string): Promise<Proof> {
  try {
    const { stdout } = await execFileP('ip', ['netns', 'exec', namespace, 'ping', '-n', '-c', '1', '-W', '2', address], { encoding: 'utf8' });
    const rtt = /time=([\d.]+) ms/.exec(stdout)?.[1];
    return { ok: true, detail: rtt === undefined ? 'reply received' : `reply, rtt ${rtt} ms` };
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (err.code === 'ENOENT') return { ok: false, detail: '`ip` is not installed (apt-get install iproute2 iputils-ping)' };
    const text = `${err.stderr ?? ''}`.trim() || (/(\d+% packet loss)/.exec(err.stdout ?? '')?.[1] ?? err.message);
    return { ok: false, detail: `no reply: ${text}` };
  }
}
