import {spawnSync} from 'node:child_process';
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import type tls from 'node:tls';

import {
  CreateMode,
  ZooKeeperClient,
  freePorts,
  makeTestPki,
  opensslSkipReason,
  startSynod,
  startZooKeeper,
  zookeeperSkipReason,
} from '@synod/testing';
import type {Acl, CertFiles, EtcdCluster, TestPki, ZooKeeperEnsemble} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {sameTranscript, scenario} from './harness.js';
import type {Servers, ZkTarget} from './harness.js';
import {kazooPython, killClients, runZkCli} from './support/real-clients.js';

/**
 * ZooKeeper's secure client port and the x509 scheme, Synod against ZooKeeper 3.8: the oracle
 * runs Netty with `secureClientPort`, PEM key and trust stores made from the test PKI and
 * `ssl.clientAuth=need`; Synod serves `https://` on `--listen-zk-urls` with the same
 * certificates, given as `--zk-cert-file`, `--zk-key-file` and `--zk-trusted-ca-file` (the
 * client port's certificates serve it in zk-tls-client-auth.test.ts). Each serves a plain port beside the secure one. The scenarios run on the
 * secure port; `plain` clients connect to the plain port of the same server.
 */

const READ = 1;
const WRITE = 2;
const CREATE = 4;
const ADMIN = 16;
const ALL = 31;
/** The subject of alice's certificate, as Java's X500Principal.getName() writes it. */
const ALICE = 'CN=alice,OU=ops+UID=7,O=Acme\\, Inc.,C=DE';
const BOB = 'CN=bob';
const ADMIN_DN = 'CN=zk-admin';

const skip = zookeeperSkipReason ?? opensslSkipReason;

describe.skipIf(skip !== undefined)(
  'ZooKeeper over TLS and x509: Synod against ZooKeeper 3.8',
  () => {
    let pki: TestPki;
    let oracle: ZooKeeperEnsemble | undefined;
    let synod: EtcdCluster | undefined;
    const ports = {zookeeper: {plain: 0, secure: 0}, synod: {plain: 0, secure: 0}};
    const certs: Record<'alice' | 'bob' | 'admin', CertFiles> = {} as never;
    const host = '127.0.0.1';

    beforeAll(async () => {
      pki = makeTestPki();
      certs.alice = pki.clientWithSubject('alice', '/C=DE/O=Acme, Inc./OU=ops+UID=7/CN=alice');
      certs.bob = pki.client('bob');
      certs.admin = pki.client('zk-admin');
      // ZooKeeper's PEM key store is one file holding the key and its certificate.
      const keyStore = join(pki.dir, 'zookeeper-keystore.pem');
      writeFileSync(
        keyStore,
        readFileSync(pki.server.key, 'utf8') + readFileSync(pki.server.cert, 'utf8'),
      );
      const [zkSecure = 0, synodPlain = 0, synodSecure = 0] = await freePorts(3);
      ports.zookeeper.secure = zkSecure;
      ports.synod = {plain: synodPlain, secure: synodSecure};
      const [zk, member] = await Promise.all([
        startZooKeeper({
          extraConfig: [
            `secureClientPort=${zkSecure}`,
            'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
            `ssl.keyStore.location=${keyStore}`,
            'ssl.keyStore.type=PEM',
            `ssl.trustStore.location=${pki.ca}`,
            'ssl.trustStore.type=PEM',
            'ssl.clientAuth=need',
            `X509AuthenticationProvider.superUser=${ADMIN_DN}`,
          ],
        }),
        startSynod({
          extraArgs: [
            `--listen-zk-urls=http://${host}:${synodPlain},https://${host}:${synodSecure}`,
            // ZooKeeper's key and trust stores; the etcd client port stays plain.
            `--zk-cert-file=${pki.server.cert}`,
            `--zk-key-file=${pki.server.key}`,
            `--zk-trusted-ca-file=${pki.ca}`,
            `--zk-x509-superuser=${ADMIN_DN}`,
          ],
        }),
      ]);
      oracle = zk;
      synod = member;
      ports.zookeeper.plain = zk.servers[0]?.clientPort ?? 0;
      // The etcd health check passed; the ZooKeeper listeners may open a moment later.
      const deadline = Date.now() + 5000;
      for (;;) {
        try {
          await (
            await ZooKeeperClient.connect({host, port: synodSecure, tls: tlsOf(certs.bob)})
          ).close();
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise(resolve => setTimeout(resolve, 100));
        }
      }
    }, 90_000);

    afterAll(async () => {
      killClients();
      await oracle?.stop();
      await synod?.stop();
      pki.remove();
    });

    function tlsOf(files: CertFiles | undefined, ca = pki.ca): tls.ConnectionOptions {
      return {
        ca: readFileSync(ca),
        ...(files === undefined
          ? {}
          : {cert: readFileSync(files.cert), key: readFileSync(files.key)}),
      };
    }

    const servers: Servers = {
      zookeeper: () => ({name: 'zookeeper', host, port: ports.zookeeper.secure}),
      synod: () => Promise.resolve({name: 'synod', host, port: ports.synod.secure}),
      oracle: () => {
        if (oracle === undefined) throw new Error('the ZooKeeper oracle did not start');
        return oracle;
      },
    };
    const plainPort = (target: ZkTarget): number => ports[target.name].plain;
    const both = (): ZkTarget[] => [
      {name: 'zookeeper', host, port: ports.zookeeper.secure},
      {name: 'synod', host, port: ports.synod.secure},
    ];

    scenario(
      servers,
      'x509 ids from client certificates: whoAmI, ACLs for one subject name, auth expanded to it',
      async s => {
        const alice = await s.connect('alice', {tls: tlsOf(certs.alice)});
        const bob = await s.connect('bob', {tls: tlsOf(certs.bob)});
        const plain = await s.connect('plain', {port: plainPort(s.target)});
        await alice.whoAmI();
        await bob.whoAmI();
        await plain.whoAmI();
        await alice.create(s.path(), '');
        const hers: Acl[] = [{perms: ALL, scheme: 'x509', id: ALICE}];
        await alice.create(s.path('/hers'), 'secret', CreateMode.persistent, hers);
        await alice.getData(s.path('/hers'));
        await alice.setData(s.path('/hers'), 'still hers');
        await bob.getData(s.path('/hers'));
        await bob.setData(s.path('/hers'), 'stolen');
        await bob.create(s.path('/hers/child'), '');
        await plain.getData(s.path('/hers'));
        await bob.getACL(s.path('/hers'));
        // `auth` becomes the x509 id of the connection (ip is not an authenticated scheme).
        await alice.create(s.path('/hers/auth'), '', CreateMode.persistent, [
          {perms: READ | ADMIN, scheme: 'auth', id: ''},
        ]);
        await alice.getACL(s.path('/hers/auth'));
        await bob.create(s.path('/his'), '', CreateMode.persistent, [
          {perms: ALL, scheme: 'auth', id: ''},
        ]);
        await bob.getACL(s.path('/his'));
        await plain.create(s.path('/nobody'), '', CreateMode.persistent, [
          {perms: ALL, scheme: 'auth', id: ''},
        ]);
        // A plain connection may name a subject in an ACL it cannot pass.
        await plain.create(s.path('/for-bob'), 'b', CreateMode.persistent, [
          {perms: READ | WRITE | CREATE, scheme: 'x509', id: BOB},
        ]);
        await bob.getData(s.path('/for-bob'));
        await bob.create(s.path('/for-bob/x'), '');
        await plain.getData(s.path('/for-bob'));
        // Names Java's X500Principal refuses are InvalidACL; the spacing of a name matters.
        for (const id of ['not a name', 'CN', 'NOPE=x', 'CN=a\\']) {
          await alice.create(s.path('/bad'), '', CreateMode.persistent, [
            {perms: ALL, scheme: 'x509', id},
          ]);
        }
        await alice.create(s.path('/spaced'), '', CreateMode.persistent, [
          {perms: ALL, scheme: 'x509', id: 'CN=alice, OU=ops+UID=7, O=Acme\\, Inc., C=DE'},
        ]);
        await alice.getData(s.path('/spaced'));
        // addauth x509 on a connection with a certificate gives the same id again; digest adds.
        await bob.auth('x509', 'ignored');
        await bob.auth('digest', 'carol:pw');
        await bob.whoAmI();
        await bob.getData(s.path('/his'));
      },
    );

    scenario(servers, 'the x509 super user passes every check', async s => {
      const alice = await s.connect('alice', {tls: tlsOf(certs.alice)});
      const admin = await s.connect('admin', {tls: tlsOf(certs.admin)});
      await admin.whoAmI();
      await alice.create(s.path(), '');
      await alice.create(s.path('/hers'), 'secret', CreateMode.persistent, [
        {perms: READ, scheme: 'x509', id: ALICE},
      ]);
      await admin.getData(s.path('/hers'));
      await admin.setData(s.path('/hers'), 'admin was here');
      await admin.create(s.path('/hers/child'), '');
      await admin.create(s.path('/mine'), '', CreateMode.persistent, [
        {perms: ALL, scheme: 'auth', id: ''},
      ]);
      await admin.getACL(s.path('/mine'));
      await admin.setACL(s.path('/hers'), [{perms: ALL, scheme: 'x509', id: ADMIN_DN}]);
      await alice.getData(s.path('/hers'));
    });

    scenario(servers, 'addauth x509 on a plain connection fails and closes it', async s => {
      const plain = await s.connect('plain', {port: plainPort(s.target)});
      await plain.auth('x509', ALICE);
      s.note('plain closed by the server within 1 s', await plain.closedWithin(1000));
    });

    it('refuses a client without a certificate, with an untrusted or expired one, and a plaintext client, then serves on', async () => {
      const outcomes = new Map<string, Record<string, string>>();
      const attempt = (target: ZkTarget, options: tls.ConnectionOptions | undefined) =>
        ZooKeeperClient.connect({
          host,
          port: target.port,
          keepAlive: false,
          ...(options === undefined ? {} : {tls: options}),
        }).then(
          async client => {
            const who = await client.whoAmI();
            client.disconnect();
            return who.kind === 'reply' ? 'served' : 'closed after the handshake';
          },
          () => 'refused',
        );
      for (const target of both()) {
        outcomes.set(target.name, {
          'no certificate': await attempt(target, tlsOf(undefined)),
          'a certificate from another CA': await attempt(target, tlsOf(pki.untrusted)),
          'an expired certificate': await attempt(target, tlsOf(pki.expired)),
          'a plaintext ZooKeeper client': await attempt(target, undefined),
          'then a client with a good certificate': await attempt(target, tlsOf(certs.bob)),
        });
      }
      expect(outcomes.get('zookeeper')).toEqual({
        'no certificate': 'refused',
        'a certificate from another CA': 'refused',
        'an expired certificate': 'refused',
        'a plaintext ZooKeeper client': 'refused',
        'then a client with a good certificate': 'served',
      });
      expect(outcomes.get('synod')).toEqual(outcomes.get('zookeeper'));
    });

    it('zkCli over TLS (Netty client socket, PEM stores) sees the same', async () => {
      const keyStore = join(pki.dir, 'bob-keystore.pem');
      writeFileSync(
        keyStore,
        readFileSync(certs.bob.key, 'utf8') + readFileSync(certs.bob.cert, 'utf8'),
      );
      const flags = [
        '-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty',
        '-Dzookeeper.client.secure=true',
        `-Dzookeeper.ssl.keyStore.location=${keyStore}`,
        '-Dzookeeper.ssl.keyStore.type=PEM',
        `-Dzookeeper.ssl.trustStore.location=${pki.ca}`,
        '-Dzookeeper.ssl.trustStore.type=PEM',
      ];
      const commands = [
        'whoami',
        `create /zkcli-tls data x509:${BOB}:cdrwa`,
        'getAcl /zkcli-tls',
        'get /zkcli-tls',
        `create /zkcli-tls-alice data x509:CN=alice:cdrwa`,
        'get /zkcli-tls-alice',
      ];
      const [zookeeper, synodOutput] = await Promise.all(
        both().map(t => runZkCli(t, commands, flags)),
      );
      expect(zookeeper).toContain('x509: CN=bob');
      expect(zookeeper).toContain("'x509,'CN=bob");
      sameTranscript('zkCli over TLS', zookeeper, synodOutput);
    }, 60_000);

    it.skipIf(kazooPython === undefined)(
      'kazoo over TLS sees the same',
      () => {
        const script = [
          'import json, sys',
          'from kazoo.client import KazooClient',
          'from kazoo.security import make_acl',
          'hosts, ca, cert, key, dn = sys.argv[1:]',
          'zk = KazooClient(hosts=hosts, use_ssl=True, ca=ca, certfile=cert, keyfile=key, verify_certs=True)',
          'zk.start(timeout=15)',
          "zk.create('/kazoo-tls', b'k', acl=[make_acl('x509', dn, read=True, write=True, admin=True)])",
          "zk.set('/kazoo-tls', b'changed')",
          "data, stat = zk.get('/kazoo-tls')",
          "acls, _ = zk.get_acls('/kazoo-tls')",
          "print(json.dumps({'data': data.decode(), 'version': stat.version, 'acl': [[a.id.scheme, a.id.id, a.perms] for a in acls]}))",
          'zk.stop()',
        ].join('\n');
        const outputs = both().map(t => {
          const r = spawnSync(
            kazooPython ?? 'python3',
            ['-c', script, `${t.host}:${t.port}`, pki.ca, certs.alice.cert, certs.alice.key, ALICE],
            {encoding: 'utf8', timeout: 30_000},
          );
          return {
            code: r.status,
            stdout: r.status === 0 ? (JSON.parse(r.stdout) as unknown) : r.stderr,
          };
        });
        expect(outputs[0]).toEqual({
          code: 0,
          stdout: {data: 'changed', version: 1, acl: [['x509', ALICE, READ | WRITE | ADMIN]]},
        });
        expect(outputs[1]).toEqual(outputs[0]);
      },
      60_000,
    );
  },
);
