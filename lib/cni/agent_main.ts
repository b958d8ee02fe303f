/**
 * The `netns-native-cni-agent` executable: start the agent ({@link startAgent}) on
 * `--socket PATH`, else $NETNS_NATIVE_CNI_SOCKET, else /run/netns-native/cni.sock; print
 * `listening on PATH` on stdout once it accepts; stop on SIGTERM or SIGINT (the socket is closed
 * and unlinked, invocations in progress finish first).
 * @module
 */
import { DEFAULT_AGENT_SOCKET, startAgent } from './agent.js';

const USAGE = `Usage: netns-native-cni-agent [--socket PATH]

The resident agent of the netns-native-bridge CNI plugin: the native netns-native-bridge
executable hands every invocation to it over a unix socket (docs/cni.md "The agent and its shim").
  --socket PATH   where to listen (default: $NETNS_NATIVE_CNI_SOCKET, else ${DEFAULT_AGENT_SOCKET})
`;

/** Run the agent until SIGTERM/SIGINT. */
export async function agentMain(argv: string[]): Promise<void> {
  let socketPath = process.env.NETNS_NATIVE_CNI_SOCKET || DEFAULT_AGENT_SOCKET;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--help' || argv[i] === '-h') {
      process.stdout.write(USAGE);
      return;
    }
    if (argv[i] === '--socket' && argv[i + 1]) {
      socketPath = argv[++i];
      continue;
    }
    process.stderr.write(`netns-native-cni-agent: unknown argument ${argv[i]}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  let agent;
  try {
    agent = await startAgent({ socketPath, onError: (e) => process.stderr.write(`netns-native-cni-agent: ${e.message}\n`) });
  } catch (e) {
    process.stderr.write(`netns-native-cni-agent: ${(e as Error).message}\n`);
    process.exitCode = 1;
    return;
  }
  const stop = () => {
    void agent.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write(`listening on ${agent.socketPath}\n`);
}
