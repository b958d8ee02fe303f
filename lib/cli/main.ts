/**
 * The `netns-native` command. This file loads only the argument parser: each command imports what
 * it needs when it runs (the addon, the netlink codec, the YAML parser), so `netns-native ls` does
 * not pay for `up`'s YAML parser nor `--help` for the addon. See docs/cli.md.
 * @module
 */
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';

/** Exit statuses: a check or an operation failed (1), the command line was wrong (2). */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

import { Failed, type CommonOptions } from './common.js';
export { Failed, type CommonOptions };

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}


/** Add `--json` to a command (each command lists it in its own --help). */
function common(cmd: Command): Command {
  return cmd.option('--json', 'print one JSON document on stdout instead of text');
}

type Handler = (...args: unknown[]) => Promise<void>;

type Module = Record<string, (...a: unknown[]) => Promise<void>>;

/**
 * Lazy-load a command's implementation (and through it the library) only when it runs. `ls` has a
 * module of its own: commands.ts loads the whole namespace API, which `ls` does not need.
 */
function lazy(name: string, load: () => Promise<unknown> = () => import('./commands.js')): Handler {
  return (async (...args: unknown[]) => {
    const mod = (await load()) as Module;
    await mod[name]!(...args);
  }) as Handler;
}

/** The command tree, without running it (tests read its help). */
export function program(): Command {
  const p = new Command('netns-native')
    .description('Linux network namespaces from the command line, through netlink: inventory, views, a troubleshooting doctor and declarative topologies. Needs root for anything that reads another namespace.')
    .version(version(), '-V, --version')
    // Before any subcommand exists: commands copy these settings when they are created.
    .exitOverride()
    // Usage errors are printed by main() in the format of every other error (code first).
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => undefined })
    .enablePositionalOptions()
    .configureHelp({ sortSubcommands: false, showGlobalOptions: false })
    .addHelpText(
      'after',
      `
Every command takes --json. Exit status: 0 success, 1 a check or an operation failed, 2 usage error.
Errors go to stderr as "netns-native: CODE: message" (with --json: {"error":{"code","message"}}).

Examples:
  netns-native ls
  netns-native show container1
  netns-native doctor container1 --target 203.0.113.10:80 --dns example.test
  netns-native plan examples/container.yaml && netns-native up examples/container.yaml
  netns-native exec container1 -- ip addr`,
    );

  common(p.command('ls').description('list network namespaces: name, inode, nsid, processes, orphan and stale flags (lsns -t net, ip netns list)'))
    .option('--orphans', 'only namespaces no process uses (pinned but empty) and stale pins')
    .option('--fds', 'also find namespaces held only by an open fd, and who holds them (reads every /proc/PID/fd)')
    .action(lazy('ls', () => import('./ls.js')));

  common(p.command('show').argument('<ns>', 'namespace name (under /run/netns)').description('links (with each veth peer and where it lives), addresses, routes, qdiscs and NAT rules of a namespace (ip -n NS link/addr/route, tc qdisc, nft list ruleset)'))
    .action(lazy('show'));

  common(
    p
      .command('doctor')
      .argument('<ns>', 'namespace name')
      .description("run the tutorial's troubleshooting checklist; exit 1 when a check fails")
      .option('--target <ip[:port]>', 'also check the path to IP: route lookup, ping, TCP connect when a port is given ([v6]:port for IPv6)')
      .option('--dns <name>', 'also resolve NAME with one UDP query to the first nameserver, from inside the namespace')
      .addOption(new Option('--timeout <ms>', 'how long each probe waits for an answer').default('2000'))
      .addHelpText('after', '\nChecks: exists, lo-up, links-up, addresses, default-route, gateway, peer, mtu, forwarding, nat, dns-config, dns, target.\nEach is ok, failed (with a hint), or skipped (ok: null) when it does not apply or a check it needs failed.'),
  ).action(lazy('doctorCmd'));

  const topo = (name: string, what: string) =>
    common(p.command(name).argument('<file>', 'topology file (.yaml, .yml or .json)').description(what))
      .option('--prefix <text>', 'prefix every namespace name of the file (parallel copies, tests)')
      .option('-q, --quiet', 'no progress on stderr');
  topo('plan', 'show what `up` would change against the kernel, without changing anything').action(lazy('plan'));
  topo('up', 'create what the file declares; idempotent; on failure, undo what this run made').action(lazy('up'));
  topo('down', 'remove exactly what the file declares (its namespaces and their DNS files)').action(lazy('down'));

  common(
    p
      .command('exec')
      .argument('<ns>', 'namespace name')
      .argument('<command...>', 'command and its arguments (after --)')
      .description('run a command inside a namespace (ip netns exec semantics); its exit status is passed through')
      .passThroughOptions(),
  ).action(lazy('exec'));

  common(p.command('stats').argument('<ns>', 'namespace name').description('per-link counters (ip -s link); with --interval, rates every S seconds (--json: one object per line)'))
    .option('--interval <seconds>', 'sample every S seconds and print rates, until ^C or --count')
    .option('--count <n>', 'stop after N rate samples (with --interval)')
    .action(lazy('stats'));

  common(p.command('monitor').argument('<ns>', 'namespace name').description('print link, address, route and neighbour events as they happen (ip monitor); --json: one object per line'))
    .option('--kinds <list>', 'only these, comma-separated: link,address,route,neighbour')
    .option('--count <n>', 'stop after N events')
    .action(lazy('monitor'));

  common(p.command('ss').argument('<ns>', 'namespace name').description('TCP and UDP sockets with their processes (ip netns exec NS ss -tunap)'))
    .option('-t, --tcp', 'TCP only')
    .option('-u, --udp', 'UDP only')
    .option('-l, --listening', 'listening (TCP) and unconnected (UDP) sockets only')
    .option('-s, --summary', 'counts, as ss -s')
    .action(lazy('ss'));

  const views = () => import('./views.js');
  common(p.command('ping').argument('<ns>', 'namespace name').argument('<ip>', 'address to ping (IPv4 or IPv6)').description('ICMP echo from inside a namespace (ip netns exec NS ping); exit 1 when no reply comes back'))
    .option('-c, --count <n>', 'echo requests to send', '3')
    .option('-i, --interval <seconds>', 'seconds between requests (default 1)')
    .option('-W, --timeout <seconds>', 'seconds to wait for each reply (default 1)')
    .option('-s, --size <bytes>', 'payload bytes (default 56)')
    .option('-I, --interface <dev>', 'send through this link')
    .action(lazy('ping', views));

  common(p.command('capture').argument('<ns>', 'namespace name').argument('<if>', 'link to capture on').description('capture packets into a pcap file (ip netns exec NS tcpdump -i IF -w FILE); until -c, --duration or ^C'))
    .requiredOption('-w, --write <file>', 'pcap file to write (tcpdump -r reads it)')
    .option('-c, --count <n>', 'stop after N packets')
    .option('--duration <seconds>', 'stop after S seconds')
    .option('-s, --snaplen <bytes>', 'bytes kept of each packet (default 262144)')
    .option('--filter-ddd <file>', 'a BPF program as `tcpdump -i IF -ddd EXPR` prints it')
    .action(lazy('capture', views));

  common(p.command('nat').argument('<ns>', 'namespace name').description("NAT rules of every nf_tables table of a namespace: this library's, nft's, iptables-nft's (iptables -t nat -L -n -v, nft list ruleset)"))
    .option('--all', 'every rule with a verdict (filter rules too), not only NAT')
    .action(lazy('nat', views));

  common(p.command('tc').argument('<ns>', 'namespace name').argument('[dev]', 'only this link').description('qdiscs with their options and counters, and the classes and filters under them (tc -s qdisc/class/filter show)'))
    .action(lazy('tc', views));

  return p;
}

/** Run the command line; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const p = program();
  try {
    await p.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    const report = (code: string, message: string) =>
      process.stderr.write(json ? `${JSON.stringify({ error: { code, message } })}\n` : `netns-native: ${code}: ${message}\n`);
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      // commander's own words ("unknown option '--nope'"), under one code for every usage error.
      report('ERR_USAGE', `${e.message.replace(/^error: /, '')} (netns-native --help, netns-native COMMAND --help)`);
      return EXIT_USAGE;
    }
    if (e instanceof Failed) return EXIT_FAILED;
    const err = e as { code?: string; message?: string; name?: string };
    const code = err.code ?? 'ERR_UNEXPECTED';
    report(code, err.message ?? String(e));
    return err.name === 'ValidationError' || code === 'ERR_INVALID_ARG' ? EXIT_USAGE : EXIT_FAILED;
  }
}
