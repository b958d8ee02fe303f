/**
 * How the demo proves that traffic flows between its namespaces, with the library's in-namespace
 * sockets and no process: a TCP server listens on the target address inside the namespace that
 * holds it (`ns.createServer`, port chosen by the kernel), a client connects from inside the source
 * namespace (`ns.connect`), sends a greeting, and the server echoes it back. Everything is closed
 * before the proof returns, whatever its outcome.
 * @module
 */
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { NetnsError } from '../lib/index.js';
import type { Check, Lab } from './topologies.js';

/** How {@link proveConnectivity} works, for the demo's output. */
export const PROOF_METHOD = 'TCP: a server made by ns.createServer in the namespace holding the address, a client made by ns.connect in the other; a greeting echoed; no process spawned';

/** The outcome of one proof. */
export interface Proof {
  ok: boolean;
  /** What happened: the echo's round trip and who the server saw, or why there was no echo. */
  detail: string;
  /** The error code when no connection was made ('ETIMEDOUT', 'ECONNREFUSED', ...). */
  code?: string;
  /** The address the server saw the connection come from. */
  peer?: string;
}

const ms = (t0: number): string => `${(performance.now() - t0).toFixed(2)} ms`;

/** Write `text` and resolve with what comes back once as many bytes have arrived, within `timeoutMs`. */
function echo(sock: net.Socket, text: string, timeoutMs: number): Promise<string> {
  const want = Buffer.byteLength(text);
  return new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      sock.off('data', onData).off('end', onEnd).off('error', finish);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= want) finish();
    };
    const onEnd = (): void => finish(new Error('the server closed before echoing'));
    const timer = setTimeout(() => finish(new Error(`no echo within ${timeoutMs} ms`)), timeoutMs);
    sock.on('data', onData).once('end', onEnd).once('error', finish);
    sock.write(text);
  });
}

/**
 * Prove `check`: listen on `check.to` inside the namespace playing `check.at`, connect to it from
 * inside the namespace playing `check.from` (giving up after `connectTimeout` ms), and have a
 * greeting echoed. A failure to connect or to echo is a result (`ok: false`), not an exception;
 * only a server that cannot listen throws.
 */
export async function proveConnectivity(lab: Lab, check: Check, connectTimeout = 2000): Promise<Proof> {
  const peers: string[] = [];
  const accepted = new Set<net.Socket>();
  const server = await lab.ns(check.at).createServer({ host: check.to, port: 0 }, (s) => {
    accepted.add(s);
    peers.push(s.remoteAddress ?? '?');
    s.once('close', () => accepted.delete(s));
    s.on('error', () => undefined); // the client may reset; the proof is judged on the client side
    s.pipe(s);
  });
  try {
    const { port } = server.address() as net.AddressInfo;
    const t0 = performance.now();
    let sock: net.Socket;
    try {
      sock = await lab.ns(check.from).connect({ host: check.to, port, connectTimeout, noDelay: true });
    } catch (e) {
      const code = e instanceof NetnsError ? e.code : undefined;
      return { ok: false, code, detail: `no connection: ${code ?? (e instanceof Error ? e.message : String(e))} after ${ms(t0)} (${check.at}'s server on port ${port})` };
    }
    const connected = ms(t0);
    try {
      const greeting = `hello from ${check.from}`;
      const t1 = performance.now();
      const back = await echo(sock, greeting, 2000);
      const rtt = ms(t1);
      if (back !== greeting) return { ok: false, detail: `sent ${JSON.stringify(greeting)}, got back ${JSON.stringify(back)}` };
      return { ok: true, peer: peers[0], detail: `${JSON.stringify(greeting)} echoed in ${rtt} (connect ${connected}); ${check.at}'s server on port ${port} saw ${peers[0]}` };
    } catch (e) {
      return { ok: false, detail: `connected in ${connected} to ${check.at}'s server on port ${port}, but ${e instanceof Error ? e.message : String(e)}` };
    } finally {
      sock.destroy();
    }
  } finally {
    for (const s of accepted) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
