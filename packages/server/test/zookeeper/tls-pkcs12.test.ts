import {spawnSync} from 'node:child_process';
import {X509Certificate} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import tls from 'node:tls';

import {
  freePorts,
  makeTestPki,
  opensslSkipReason,
  startSynod,
  startZooKeeper,
  ZooKeeperClient,
  zookeeperSkipReason,
} from '@synod/testing';
import type {EtcdCluster, TestPki, ZooKeeperEnsemble} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

/**
 * The ZooKeeper TLS port's key and certificate from a PKCS#12 key store, as ZooKeeper takes
 * one with `ssl.keyStore.type=PKCS12`: the same store (made by `openssl pkcs12 -export` from
 * the test PKI's server certificate) serves ZooKeeper 3.8 and Synod's `--zk-keystore-file`.
 * Both must present that certificate and give a client certificate's subject as its x509 id;
 * a wrong password stops Synod at start-up, naming the flag.
 */

const host = '127.0.0.1';
const PASSWORD = 'store-secret';

describe.skipIf(zookeeperSkipReason !== undefined || opensslSkipReason !== undefined)(
  'ZooKeeper TLS with a PKCS#12 key store: Synod against ZooKeeper 3.8',
  () => {
    let pki: TestPki;
    let keystore = '';
    let zookeeper: ZooKeeperEnsemble | undefined;
    let synod: EtcdCluster | undefined;
    const ports = {zookeeper: 0, synod: 0};
    const clients = new Map<string, tls.ConnectionOptions>();

    beforeAll(async () => {
      pki = makeTestPki();
      for (const name of ['carol', 'probe']) {
        const files = pki.client(name);
        clients.set(name, {
          ca: readFileSync(pki.ca),
          cert: readFileSync(files.cert),
          key: readFileSync(files.key),
        });
      }
      keystore = join(pki.dir, 'zookeeper-keystore.p12');
      const made = spawnSync(
        'openssl',
        [
          'pkcs12',
          '-export',
          '-in',
          pki.server.cert,
          '-inkey',
          pki.server.key,
          '-name',
          'server',
          '-out',
          keystore,
          '-passout',
          `pass:${PASSWORD}`,
        ],
        {encoding: 'utf8'},
      );
      if (made.status !== 0) throw new Error(`openssl pkcs12 -export: ${made.stderr}`);
      const [zkSecure = 0, synodSecure = 0] = await freePorts(2);
      ports.zookeeper = zkSecure;
      ports.synod = synodSecure;
      [zookeeper, synod] = await Promise.all([
        startZooKeeper({
          extraConfig: [
            `secureClientPort=${zkSecure}`,
            'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
            `ssl.keyStore.location=${keystore}`,
            'ssl.keyStore.type=PKCS12',
            `ssl.keyStore.password=${PASSWORD}`,
            `ssl.trustStore.location=${pki.ca}`,
            'ssl.trustStore.type=PEM',
            'ssl.clientAuth=need',
          ],
        }),
        startSynod({
          extraArgs: [
            `--listen-zk-urls=https://${host}:${synodSecure}`,
            `--zk-keystore-file=${keystore}`,
            `--zk-keystore-password=${PASSWORD}`,
            `--zk-trusted-ca-file=${pki.ca}`,
          ],
        }),
      ]);
    }, 90_000);

    afterAll(async () => {
      await zookeeper?.stop();
      await synod?.stop();
      pki.remove();
    });

    const clientTls = (name: string): tls.ConnectionOptions => clients.get(name) ?? {};

    /** The certificate a server presents, and whether it verified against the test CA. */
    const presented = (port: number) =>
      new Promise<{fingerprint: string; authorized: boolean}>((resolve, reject) => {
        const socket = tls.connect({host, port, ...clientTls('probe')}, () => {
          const cert = socket.getPeerCertificate();
          resolve({fingerprint: cert.fingerprint256, authorized: socket.authorized});
          socket.end();
        });
        socket.once('error', reject);
      });

    /** whoAmI over TLS as the client certificate `name` (retried while the port opens). */
    const whoAmI = async (port: number, name: string) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          const client = await ZooKeeperClient.connect({host, port, tls: clientTls(name)});
          try {
            const reply = await client.whoAmI();
            return reply.kind === 'reply' ? reply.value?.clientInfo : reply.kind;
          } finally {
            await client.close();
          }
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise(resolve => setTimeout(resolve, 200));
        }
      }
    };

    it('both present the key store certificate and give the client certificate as its x509 id', async () => {
      const expected = new X509Certificate(readFileSync(pki.server.cert)).fingerprint256;
      const seen = [];
      for (const port of [ports.zookeeper, ports.synod]) {
        const ids = await whoAmI(port, 'carol');
        seen.push({presented: await presented(port), ids});
      }
      expect(seen[0]).toEqual({
        presented: {fingerprint: expected, authorized: true},
        ids: expect.arrayContaining([{authScheme: 'x509', user: 'CN=carol'}]) as unknown,
      });
      expect(seen[1]).toEqual(seen[0]);
    });

    it('Synod refuses to start with a wrong key store password, naming the flag', async () => {
      const [port = 0] = await freePorts(1);
      const started = startSynod({
        startTimeoutMs: 15_000,
        extraArgs: [
          `--listen-zk-urls=https://${host}:${port}`,
          `--zk-keystore-file=${keystore}`,
          '--zk-keystore-password=not-the-password',
          `--zk-trusted-ca-file=${pki.ca}`,
        ],
      });
      await expect(started).rejects.toThrow(/--zk-keystore-file.*wrong --zk-keystore-password/);
    }, 30_000);
  },
);
