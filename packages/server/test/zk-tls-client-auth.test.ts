import {mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type tls from 'node:tls';

import {ZooKeeperClient, makeTestPki, opensslSkipReason} from '@synod/testing';
import type {CertFiles, TestPki} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import type {Member} from '../src/index.js';
import {freePort, startSoloMember} from './support/in-process-cluster.js';

/**
 * `--zk-ssl-client-auth=want` and `none` on a member's ZooKeeper TLS port (`need`, the
 * default, is compared with ZooKeeper in zookeeper/tls.test.ts): which clients are served, and
 * with which ids.
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

  afterAll(async () => {
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
});
