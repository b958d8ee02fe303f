/**
 * Changing links through the library: set (each change and several at once), master/nomaster,
 * move between namespaces, delete; ip -j is the judge. Everything happens inside this file's own
 * namespaces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Netns, NetlinkError, ValidationError } from '../../lib/index.js';
import { ipJson, nsName, run } from './helpers.js';

let a: Netns;
let b: Netns;

const show = (ns: Netns, dev: string) => ipJson(['-d', 'link', 'show', 'dev', dev], ns.name)[0];
const linkNames = (ns: Netns): string[] => ipJson<{ ifname: string }[]>(['link', 'show'], ns.name).map((l) => l.ifname);

beforeAll(async () => {
  a = await Netns.create(nsName('mda'));
  b = await Netns.create(nsName('mdb'));
  await a.links.add({ kind: 'bridge', name: 'br0' });
});

afterAll(async () => {
  await a?.close();
  await b?.close();
});

describe('set', () => {
  it('up and down', async () => {
    await a.links.add({ kind: 'veth', name: 's0', peer: { name: 's1' } });
    await a.links.setUp('s0');
    expect(show(a, 's0').flags).toContain('UP');
    expect((await a.links.get('s0')).up).toBe(true);
    await a.links.setDown('s0');
    expect(show(a, 's0').flags).not.toContain('UP');
  });

  it('MTU, MAC, alias, txqueuelen one by one, by name and by ifindex', async () => {
    const s1 = await a.links.get('s1');
    await a.links.setMtu('s1', 1280);
    await a.links.setMac(s1.index, '02:00:00:00:01:01');
    await a.links.setAlias('s1', 'to s0');
    await a.links.setTxqueuelen(s1.index, 42);
    expect(show(a, 's1')).toMatchObject({ mtu: 1280, address: '02:00:00:00:01:01', ifalias: 'to s0', txqlen: 42 });
    await a.links.setAlias('s1', '');
    expect(show(a, 's1').ifalias).toBeUndefined();
    expect((await a.links.get('s1')).alias).toBeUndefined();
  });

  it('several changes in one request, including a rename', async () => {
    await a.links.add({ kind: 'veth', name: 'r0', peer: { name: 'r1' } });
    await a.links.set('r0', { name: 'renamed0', mtu: 1400, mac: '02:00:00:00:02:02', alias: 'hello', txqueuelen: 7, master: 'br0', up: true });
    expect(linkNames(a)).not.toContain('r0');
    expect(show(a, 'renamed0')).toMatchObject({ mtu: 1400, address: '02:00:00:00:02:02', ifalias: 'hello', txqlen: 7, master: 'br0' });
    expect(show(a, 'renamed0').flags).toContain('UP');
    await a.links.setDown('renamed0');
    await a.links.rename('renamed0', 'r0');
    expect(linkNames(a)).toContain('r0');
  });

  it('master and nomaster', async () => {
    await a.links.setMaster('s0', 'br0');
    expect(show(a, 's0').master).toBe('br0');
    const br = await a.links.get('br0');
    expect((await a.links.get('s0')).master).toBe(br.index);
    expect((await a.links.list({ master: br.index })).map((l) => l.name).sort()).toEqual(['r0', 's0']);
    await a.links.setNoMaster('s0');
    expect(show(a, 's0').master).toBeUndefined();
    expect((await a.links.get('s0')).master).toBeUndefined();
  });

  it('MTU 70000 on a veth: the kernel refuses with its own text, nothing changes', async () => {
    const err = await a.links.setMtu('s0', 70000).catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('EINVAL');
    expect(err.kernelMessage).toMatch(/mtu greater than device maximum/i);
    expect(err.message).toContain(`ip -n ${a.name} link set dev s0 mtu 70000`);
    expect(show(a, 's0').mtu).toBe(1500);
  });

  it('a master that does not exist: ENODEV naming it', async () => {
    const err = await a.links.setMaster('s0', 'nosuchbr').catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('ENODEV');
    expect(err.message).toContain('nosuchbr');
    expect(show(a, 's0').master).toBeUndefined();
  });

  it('a link that does not exist: ENODEV; find() resolves undefined', async () => {
    const err = await a.links.setUp('nosuch0').catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('ENODEV');
    await expect(a.links.get('nosuch0')).rejects.toMatchObject({ code: 'ENODEV' });
    await expect(a.links.get(999999)).rejects.toMatchObject({ code: 'ENODEV' });
    expect(await a.links.find('nosuch0')).toBeUndefined();
    expect((await a.links.find('s0'))?.name).toBe('s0');
  });

  it('bad values are refused before any request', async () => {
    await expect(a.links.set('s0', { mtu: 67 })).rejects.toBeInstanceOf(ValidationError);
    await expect(a.links.setMac('s0', '01:00:5e:00:00:01')).rejects.toBeInstanceOf(ValidationError);
    await expect(a.links.rename('s0', 'x'.repeat(16))).rejects.toBeInstanceOf(ValidationError);
    await expect(a.links.set('s0', {})).rejects.toBeInstanceOf(ValidationError);
    expect(show(a, 's0')).toMatchObject({ mtu: 1500 });
  });
});

describe('move to another namespace', () => {
  it('by name, keeping the name', async () => {
    await a.links.add({ kind: 'veth', name: 'm0', peer: { name: 'm1' } });
    await a.links.moveTo('m1', b);
    expect(linkNames(a)).not.toContain('m1');
    expect(show(b, 'm1').linkinfo.info_kind).toBe('veth');
    const m0 = await a.links.get('m0');
    expect(m0.linkNetnsid).toBeTypeOf('number');
    expect(m0.peerIndex).toBe((await b.links.get('m1')).index);
  });

  it('by ifindex, renamed on the way, and back by name with another rename', async () => {
    await a.links.add({ kind: 'veth', name: 'n0', peer: { name: 'n1' } });
    const n1 = await a.links.get('n1');
    await a.links.moveTo(n1.index, b, { name: 'eth5' });
    expect(linkNames(a)).not.toContain('n1');
    expect(show(b, 'eth5').linkinfo.info_kind).toBe('veth');
    await b.links.moveTo('eth5', a, { name: 'n1back' });
    expect(linkNames(b)).not.toContain('eth5');
    expect(show(a, 'n1back').link).toBe('n0');
  });

  it('a name taken in the target: the kernel refuses and the link stays home', async () => {
    await a.links.add({ kind: 'veth', name: 'k0', peer: { name: 'k1' } });
    await b.links.add({ kind: 'ifb', name: 'k1' });
    const err = await a.links.moveTo('k1', b).catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('EEXIST');
    expect(err.message).toContain(`link set dev k1 netns ${b.name}`);
    expect(linkNames(a)).toContain('k1');
    expect(show(b, 'k1').linkinfo.info_kind).toBe('ifb');
  });
});

describe('delete', () => {
  it('deleting one end of a veth deletes the pair', async () => {
    await a.links.add({ kind: 'veth', name: 'd0', peer: { name: 'd1' } });
    expect(await a.links.delete('d0')).toBe(true);
    expect(linkNames(a)).not.toContain('d0');
    expect(linkNames(a)).not.toContain('d1');
  });

  it('by ifindex', async () => {
    const l = await a.links.add({ kind: 'ifb', name: 'gone0' });
    expect(await a.links.delete(l.index)).toBe(true);
    expect(linkNames(a)).not.toContain('gone0');
  });

  it('a missing link: ENODEV, or false with ifExists', async () => {
    const err = await a.links.delete('nosuch0').catch((e) => e);
    expect(err).toBeInstanceOf(NetlinkError);
    expect(err.code).toBe('ENODEV');
    expect(err.message).toContain(`ip -n ${a.name} link delete dev nosuch0`);
    expect(await a.links.delete('nosuch0', { ifExists: true })).toBe(false);
    expect(await a.links.delete(999999, { ifExists: true })).toBe(false);
  });
});

describe('a namespace opened by ip', () => {
  it('takes links made by ip and hands back links ip sees', async () => {
    const name = nsName('mdip');
    run('ip', ['netns', 'add', name]);
    const ns = await Netns.open(name);
    try {
      run('ip', ['-n', name, 'link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1']);
      await ns.links.set('x0', { mtu: 9000, up: true });
      expect(ipJson(['link', 'show', 'dev', 'x0'], name)[0]).toMatchObject({ mtu: 9000 });
      expect(await ns.links.delete('x1')).toBe(true);
      expect(ipJson<{ ifname: string }[]>(['link', 'show'], name).map((l) => l.ifname)).toEqual(['lo']);
    } finally {
      await ns.close();
    }
  });
});
