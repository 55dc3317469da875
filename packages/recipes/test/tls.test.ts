import {readFileSync} from 'node:fs';

import {createClient} from '@synod/client';
import type {Etcd} from '@synod/client';
import {makeTestPki, mutualTlsOptions, opensslSkipReason} from '@synod/testing';
import type {EtcdCluster, TestPki} from '@synod/testing';
import {Etcd3} from 'etcd3';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {Mutex, Session} from '../src/index.js';
import {servers, uniqueName} from './servers.js';

/**
 * The TypeScript client, a recipe and the etcd3 npm package over mutual TLS, against etcd
 * and Synod started with the same certificates and flags (`--client-cert-auth`).
 */
describe.skipIf(opensslSkipReason !== undefined).each(servers)(
  'mutual TLS from clients on %s',
  (_name, start) => {
    let pki: TestPki;
    let cluster: EtcdCluster;
    let client: Etcd;

    beforeAll(async () => {
      pki = makeTestPki();
      const root = pki.client('root');
      cluster = await start(mutualTlsOptions(pki));
      client = createClient({
        endpoints: cluster.endpoints,
        tls: {ca: pki.ca, cert: root.cert, key: root.key},
      });
    });

    afterAll(async () => {
      client.close();
      await cluster.stop();
      pki.remove();
    });

    it('puts and reads with @synod/client, files given as paths', async () => {
      const key = uniqueName('tls');
      await client.kv.put(key, 'secure');
      expect(await client.kv.getString(key)).toBe('secure');
    });

    it('takes the files as bytes too, and host:port endpoints', async () => {
      const root = pki.client('root');
      const bytes = createClient({
        endpoints: cluster.members.map(m => m.clientAddress),
        tls: {
          ca: readFileSync(pki.ca),
          cert: readFileSync(root.cert),
          key: readFileSync(root.key),
        },
      });
      try {
        const key = uniqueName('tls-bytes');
        await bytes.kv.put(key, 'b');
        expect(await bytes.kv.getString(key)).toBe('b');
      } finally {
        bytes.close();
      }
    });

    it('fails a call without a client certificate', async () => {
      const anonymous = createClient({
        endpoints: cluster.endpoints,
        tls: {ca: pki.ca},
        dialTimeoutMs: 500,
        retry: {maxAttempts: 2},
      });
      try {
        await expect(anonymous.kv.get('x', {timeoutMs: 1500})).rejects.toThrow();
      } finally {
        anonymous.close();
      }
    });

    it('holds a lock through a session over TLS', async () => {
      const session = await Session.create(client, {ttlSec: 5});
      const handle = await new Mutex(session, uniqueName('tls-lock')).acquire();
      expect(handle.key).toContain(session.lease.toString(16));
      await handle.release();
      await session.close();
    });

    it('serves the etcd3 npm package given its credentials option', async () => {
      const root = pki.client('root');
      const etcd3 = new Etcd3({
        hosts: cluster.endpoints[0] ?? '',
        credentials: {
          rootCertificate: readFileSync(pki.ca),
          certChain: readFileSync(root.cert),
          privateKey: readFileSync(root.key),
        },
      });
      try {
        const key = uniqueName('etcd3-tls');
        await etcd3.put(key).value('v');
        expect(await etcd3.get(key).string()).toBe('v');
      } finally {
        etcd3.close();
      }
    });
  },
);
