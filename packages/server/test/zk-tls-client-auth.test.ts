import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type tls from 'node:tls';

import {ZooKeeperClient, makeTestPki, opensslSkipReason} from '@synod/testing';
import type {CertFiles, TestPki} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {Member} from '../src/index.js';
import type {InProcessCluster} from './support/in-process-cluster.js';
import {freePort, startInProcessCluster, startSoloMember} from './support/in-process-cluster.js';

/**
 * `--zk-ssl-client-auth=want` and `none` on a member's ZooKeeper TLS port (`need`, the
 * default, is compared with ZooKeeper in zookeeper/tls.test.ts): which clients are served, and
 * with which ids; and x509 ids in a three-member cluster, where a follower's writes carry them
 * to the leader and every member checks reads against them.
 */
describe.skipIf(opensslSkipReason !== undefined)('ZooKeeper TLS client auth want and none', () => {
  let dir: string;
  let pki: TestPki;
  const members: Member[] = [];
  const ports = {want: 0, none: 0};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'synod-zk-tls-'));
    pki = makeTestPki();
    for (const mode of ['want', 'none'] as const) {
      ports[mode] = await freePort();
      members.push(
        await startSoloMember(join(dir, `${mode}.synod`), {
          listenZkUrls: `https://127.0.0.1:${ports[mode]}`,
          certFile: pki.server.cert,
          keyFile: pki.server.key,
          trustedCaFile: pki.ca,
          zkSslClientAuth: mode,
          ...(mode === 'want' ? {clientCrlFile: pki.crl} : {}),
        }),
      );
    }
  }, 30_000);

  let cluster: InProcessCluster | undefined;

  afterAll(async () => {
    await cluster?.close();
    for (const member of members) await member.close();
    pki.remove();
    rmSync(dir, {recursive: true, force: true});
  });

  /** The schemes and users whoAmI lists, or 'refused' when no session could be opened. */
  async function idsOf(port: number, files: CertFiles | undefined): Promise<string[] | string> {
    const options: tls.ConnectionOptions = {
      ca: readFileSync(pki.ca),
      ...(files === undefined
        ? {}
        : {cert: readFileSync(files.cert), key: readFileSync(files.key)}),
    };
    let client: ZooKeeperClient;
    try {
      client = await ZooKeeperClient.connect({
        host: '127.0.0.1',
        port,
        keepAlive: false,
        tls: options,
      });
    } catch {
      return 'refused';
    }
    const who = await client.whoAmI();
    client.disconnect();
    if (who.kind !== 'reply' || who.value === undefined) return 'closed';
    return who.value.clientInfo.map(i => `${i.authScheme}:${i.user}`).sort();
  }

  it('want: serves a client without a certificate with no x509 id, refuses an untrusted or revoked one', async () => {
    expect(await idsOf(ports.want, undefined)).toEqual(['ip:127.0.0.1']);
    expect(await idsOf(ports.want, pki.client('alice'))).toEqual(['ip:127.0.0.1', 'x509:CN=alice']);
    expect(await idsOf(ports.want, pki.untrusted)).toBe('refused');
    expect(await idsOf(ports.want, pki.revoked)).toBe('refused');
  });

  it('none: asks for no certificate, so a connection has no x509 id', async () => {
    expect(await idsOf(ports.none, undefined)).toEqual(['ip:127.0.0.1']);
    expect(await idsOf(ports.none, pki.client('alice'))).toEqual(['ip:127.0.0.1']);
  });

  it('three members: an x509 ACL written through a follower lets its subject in on every member and no one else', async () => {
    cluster = await startInProcessCluster(3, {
      listenZkUrls: 'https://127.0.0.1:0',
      certFile: pki.server.cert,
      keyFile: pki.server.key,
      trustedCaFile: pki.ca,
    });
    const leader = await cluster.leader();
    const followers = cluster.members.filter(m => m !== undefined && m !== leader) as Member[];
    const portOf = (m: Member | undefined): number => Number(m?.zkAddresses[0]?.split(':').pop());
    const connect = (m: Member | undefined, who: CertFiles) =>
      ZooKeeperClient.connect({
        host: '127.0.0.1',
        port: portOf(m),
        keepAlive: false,
        tls: {ca: readFileSync(pki.ca), cert: readFileSync(who.cert), key: readFileSync(who.key)},
      });
    const alice = await connect(followers[0], pki.client('alice'));
    const created = await alice.create('/hers', 'secret', 0, [
      {perms: 31, scheme: 'x509', id: 'CN=alice'},
    ]);
    expect(created).toMatchObject({kind: 'reply', err: 0});
    const aliceElsewhere = await connect(followers[1], pki.client('alice'));
    const bobOnLeader = await connect(leader, pki.client('bob'));
    await aliceElsewhere.sync('/hers');
    await bobOnLeader.sync('/hers');
    expect(await aliceElsewhere.getData('/hers')).toMatchObject({kind: 'reply', err: 0});
    expect(await bobOnLeader.getData('/hers')).toMatchObject({kind: 'reply', err: -102});
    expect(await bobOnLeader.setData('/hers', 'bob was here')).toMatchObject({
      kind: 'reply',
      err: -102,
    });
    // `auth` through a follower becomes alice's x509 id, checked by the leader's apply.
    expect(
      await alice.create('/hers/auth', '', 0, [{perms: 31, scheme: 'auth', id: ''}]),
    ).toMatchObject({kind: 'reply', err: 0});
    const acl = await aliceElsewhere.getACL('/hers/auth');
    expect(acl.kind === 'reply' ? acl.value?.acl : acl).toEqual([
      {perms: 31, scheme: 'x509', id: 'CN=alice'},
    ]);
    for (const c of [alice, aliceElsewhere, bobOnLeader]) c.disconnect();
  }, 30_000);

  it('two members, one with a TLS port: both take an x509 ACL, and both refuse it once none has one', async () => {
    await cluster?.close();
    let firstHasTls = true;
    cluster = await startInProcessCluster(2, i =>
      i === 0 && firstHasTls
        ? {
            listenZkUrls: 'http://127.0.0.1:0,https://127.0.0.1:0',
            certFile: pki.server.cert,
            keyFile: pki.server.key,
            trustedCaFile: pki.ca,
          }
        : {listenZkUrls: 'http://127.0.0.1:0'},
    );
    const c = cluster;
    /** Waits until member `viewer` sees member 0's published TLS listener as `expected`. */
    const untilPublished = async (viewer: number, expected: boolean) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const first = c.members[0]?.core.memberId ?? 0;
        const info = c.members[viewer]?.core.membership.get(first);
        if (((info?.zkSecureClientAddress ?? '') !== '') === expected) return;
        if (Date.now() > deadline) throw new Error(`member ${viewer} never saw it: ${expected}`);
        await new Promise(resolve => setTimeout(resolve, 20));
      }
    };
    const onPlainPort = (m: Member | undefined) =>
      ZooKeeperClient.connect({
        host: '127.0.0.1',
        port: Number(m?.zkAddresses[0]?.split(':').pop()),
        keepAlive: false,
      });
    const createX509 = async (m: Member | undefined, path: string): Promise<number | string> => {
      const client = await onPlainPort(m);
      try {
        const reply = await client.create(path, '', 0, [
          {perms: 31, scheme: 'x509', id: 'CN=alice'},
        ]);
        return reply.kind === 'reply' ? reply.err : reply.kind;
      } finally {
        client.disconnect();
      }
    };
    await untilPublished(0, true);
    await untilPublished(1, true);
    // The member without a TLS port takes it as the one with one does, as every server of a
    // ZooKeeper ensemble takes what its leader's x509 provider accepts.
    expect([await createX509(c.members[1], '/x1'), await createX509(c.members[0], '/x0')]).toEqual([
      0, 0,
    ]);

    firstHasTls = false;
    await c.stop(0);
    await c.restart(0);
    await untilPublished(1, false);
    await untilPublished(0, false);
    // No member has one any more: InvalidACL (-114) through either.
    expect([await createX509(c.members[1], '/y1'), await createX509(c.members[0], '/y0')]).toEqual([
      -114, -114,
    ]);
  }, 60_000);
});
