/**
 * `netns-native ls`: the inventory. A module of its own so that the command loads the inventory
 * reader only, not the namespace API and its families (docs/cli.md, "Start-up").
 * @module
 */
import { inventory } from '../observe/inventory.js';
import { paint, table } from '../format/table.js';
import { colour, out } from './output.js';
import type { CommonOptions } from './common.js';

export async function ls(opts: CommonOptions & { orphans?: boolean; fds?: boolean }): Promise<void> {
  // Reading every process's fd table costs more than the rest of `ls` together: only on request.
  const inv = await inventory({ fds: opts.fds === true });
  const namespaces = opts.orphans ? inv.namespaces.filter((n) => n.state === 'pinned-no-process') : inv.namespaces;
  const c = colour();
  out(opts, { namespaces, stalePins: inv.stalePins }, () => {
    const rows = namespaces.map((n) => [
      n.names.join(',') || (n.current ? '(this process)' : '-'),
      String(n.inode),
      n.nsid === undefined ? '-' : String(n.nsid),
      n.state === 'in-use' ? n.state : paint(c, 'yellow', n.state === 'pinned-no-process' ? 'orphan (pinned, no process)' : 'held by fd'),
      n.processes.length ? n.processes.slice(0, 4).map((p) => `${p.command}[${p.pid}]`).join(',') + (n.processes.length > 4 ? ` +${n.processes.length - 4}` : '') : n.fdHolders.length ? `fd of ${n.fdHolders.map((h) => `${h.command}[${h.pid}]`).join(',')}` : '-',
    ]);
    for (const s of inv.stalePins) rows.push([s.name, '-', '-', paint(c, 'red', 'stale pin'), `${s.path} is not a namespace any more: ip netns delete ${s.name}`]);
    return rows.length ? table(rows, ['NAME', 'INODE', 'NSID', 'STATE', 'PROCESSES']) : opts.orphans ? 'no orphan namespace and no stale pin' : 'no network namespace';
  });
}
