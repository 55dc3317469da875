import {execFile, spawnSync} from 'node:child_process';
import {X509Certificate, createPrivateKey} from 'node:crypto';
import {copyFileSync, readFileSync, writeFileSync} from 'node:fs';
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

import {readKeyStore, readTrustStore} from '../../src/tls/key-store.js';
import {TlsCredentials} from '../../src/tls/tls-credentials.js';
import type {TlsSettings} from '../../src/tls/tls-settings.js';
import {kazooPython} from './support/real-clients.js';

/**
 * The ZooKeeper TLS port's key and trust stores in the formats ZooKeeper's `ssl.keyStore.type`
 * and `ssl.trustStore.type` take, made by the JDK's own `keytool` (a JKS key store, a PKCS#12
 * key store in JDK 17's AES-256 and HmacSHA256 form, JKS and PKCS#12 trust stores) from the
 * test PKI. Two pairings are served side by side by ZooKeeper 3.8 and by Synod:
 * - `jks-key`: key store JKS, trust store PKCS#12;
 * - `p12-key`: key store PKCS#12, trust store JKS.
 * On each, a client must see the key store's certificate, and kazoo over mutual TLS must meet
 * the same x509 ACL: the creator's certificate reads its node, another certificate gets
 * NoAuth. Bad stores (wrong password, a damaged file, a wrong type) must stop Synod at
 * start-up with one line naming the flag and the file.
 */

const host = '127.0.0.1';
const PASSWORD = 'store-secret';

const keytoolSkipReason = ((): string | undefined => {
  if (spawnSync('keytool', ['-help'], {stdio: 'ignore'}).status === 0) return undefined;
  const why = 'no keytool: install default-jdk-headless';
  if (process.env.CI !== undefined && process.env.CI !== '') throw new Error(why);
  return why;
})();

function run(file: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, {timeout: 60_000}, (error, _stdout, stderr) => {
      if (error === null) resolve();
      else reject(new Error(`${file} ${args.join(' ')}: ${stderr}`));
    });
  });
}

type Pairing = 'jks-key' | 'p12-key';
const pairings: readonly Pairing[] = ['jks-key', 'p12-key'];

describe.skipIf(
  zookeeperSkipReason !== undefined ||
    opensslSkipReason !== undefined ||
    keytoolSkipReason !== undefined,
)('ZooKeeper TLS with JKS and PKCS#12 stores made by keytool: Synod against ZooKeeper 3.8', () => {
  let pki: TestPki;
  const files = {
    opensslP12: '',
    legacyP12: '',
    keyJks: '',
    keyP12: '',
    trustJks: '',
    trustP12: '',
    opensslTrustP12: '',
  };
  const zookeepers = new Map<Pairing, ZooKeeperEnsemble>();
  const synods = new Map<Pairing, EtcdCluster>();
  const ports = new Map<string, number>();

  /** The store flags of a pairing, as ZooKeeper's zoo.cfg and as Synod's flags. */
  const storesOf = (p: Pairing) =>
    p === 'jks-key'
      ? {key: files.keyJks, keyType: 'JKS', trust: files.trustP12, trustType: 'PKCS12'}
      : {key: files.keyP12, keyType: 'PKCS12', trust: files.trustJks, trustType: 'JKS'};

  beforeAll(async () => {
    pki = makeTestPki();
    for (const name of Object.keys(files) as (keyof typeof files)[]) {
      files[name] = join(
        pki.dir,
        {
          opensslP12: 'server-openssl.p12',
          legacyP12: 'server-legacy.p12',
          keyJks: 'server.jks',
          keyP12: 'server.p12',
          trustJks: 'trust.jks',
          trustP12: 'trust.p12',
          opensslTrustP12: 'trust-openssl.p12',
        }[name],
      );
    }
    const exportP12 = (out: string, extra: readonly string[]) =>
      run('openssl', [
        'pkcs12',
        '-export',
        ...extra,
        '-in',
        pki.server.cert,
        '-inkey',
        pki.server.key,
        '-name',
        'server',
        '-out',
        out,
        '-passout',
        `pass:${PASSWORD}`,
      ]);
    await Promise.all([
      exportP12(files.opensslP12, []),
      // OpenSSL 1.x's defaults: certificates under RC2-40, the key under 3DES, a SHA-1 MAC.
      exportP12(files.legacyP12, ['-legacy']),
      run('openssl', [
        'pkcs12',
        '-export',
        '-nokeys',
        '-in',
        pki.ca,
        '-out',
        files.opensslTrustP12,
        '-passout',
        `pass:${PASSWORD}`,
      ]),
    ]);
    const pass = ['-storepass', PASSWORD];
    const importKeys = (out: string, type: string) =>
      run('keytool', [
        '-importkeystore',
        '-noprompt',
        '-srckeystore',
        files.opensslP12,
        '-srcstoretype',
        'PKCS12',
        '-srcstorepass',
        PASSWORD,
        '-destkeystore',
        out,
        '-deststoretype',
        type,
        '-deststorepass',
        PASSWORD,
        '-destkeypass',
        PASSWORD,
      ]);
    const importCa = (out: string, type: string) =>
      run('keytool', [
        '-importcert',
        '-noprompt',
        '-alias',
        'test-ca',
        '-file',
        pki.ca,
        '-keystore',
        out,
        '-storetype',
        type,
        ...pass,
      ]);
    await Promise.all([
      importKeys(files.keyJks, 'JKS'),
      importKeys(files.keyP12, 'PKCS12'),
      importCa(files.trustJks, 'JKS'),
      importCa(files.trustP12, 'PKCS12'),
    ]);

    const free = await freePorts(4);
    for (const [i, p] of pairings.entries()) {
      ports.set(`zookeeper ${p}`, free[2 * i] ?? 0);
      ports.set(`synod ${p}`, free[2 * i + 1] ?? 0);
    }
    await Promise.all(
      pairings.flatMap(p => {
        const s = storesOf(p);
        return [
          startZooKeeper({
            extraConfig: [
              `secureClientPort=${ports.get(`zookeeper ${p}`) ?? 0}`,
              'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
              `ssl.keyStore.location=${s.key}`,
              `ssl.keyStore.type=${s.keyType}`,
              `ssl.keyStore.password=${PASSWORD}`,
              `ssl.trustStore.location=${s.trust}`,
              `ssl.trustStore.type=${s.trustType}`,
              `ssl.trustStore.password=${PASSWORD}`,
              'ssl.clientAuth=need',
            ],
          }).then(z => zookeepers.set(p, z)),
          startSynod({
            // As long as the ZooKeeper beside it may take: the machine may be busy.
            startTimeoutMs: 60_000,
            extraArgs: [
              `--listen-zk-urls=https://${host}:${ports.get(`synod ${p}`) ?? 0}`,
              `--zk-keystore-file=${s.key}`,
              `--zk-keystore-type=${s.keyType}`,
              `--zk-keystore-password=${PASSWORD}`,
              `--zk-truststore-file=${s.trust}`,
              `--zk-truststore-type=${s.trustType}`,
              `--zk-truststore-password=${PASSWORD}`,
            ],
          }).then(c => synods.set(p, c)),
        ];
      }),
    );
  }, 120_000);

  afterAll(async () => {
    for (const z of zookeepers.values()) await z.stop();
    for (const s of synods.values()) await s.stop();
    pki.remove();
  });

  const clientTls = (name: string): tls.ConnectionOptions => {
    const c = pki.client(name);
    return {ca: readFileSync(pki.ca), cert: readFileSync(c.cert), key: readFileSync(c.key)};
  };

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

  const whoAmI = async (port: number, name: string) => {
    const client = await ZooKeeperClient.connect({host, port, tls: clientTls(name)});
    try {
      const reply = await client.whoAmI();
      return reply.kind === 'reply' ? reply.value?.clientInfo : reply.kind;
    } finally {
      await client.close();
    }
  };

  /**
   * kazoo over mutual TLS: `owner` creates a node only its certificate may touch; `owner`
   * reads it back with its ACL, `other` is refused.
   */
  const kazooAclCheck = (port: number, owner: string, other: string) => {
    const script = [
      'import json, sys',
      'from kazoo.client import KazooClient',
      'from kazoo.exceptions import NoAuthError',
      'from kazoo.security import make_acl',
      'hosts, ca = sys.argv[1:3]',
      'def connect(cert, key):',
      '    zk = KazooClient(hosts=hosts, use_ssl=True, ca=ca, certfile=cert, keyfile=key, verify_certs=True)',
      '    zk.start(timeout=15)',
      '    return zk',
      'owner = connect(*sys.argv[3:5])',
      "owner.create('/stores', b'only carol', acl=[make_acl('x509', 'CN=carol', all=True)])",
      "data, stat = owner.get('/stores')",
      "acls, _ = owner.get_acls('/stores')",
      'other = connect(*sys.argv[5:7])',
      'try:',
      "    other.get('/stores')",
      "    refused = 'read'",
      'except NoAuthError:',
      "    refused = 'NoAuth'",
      "print(json.dumps({'data': data.decode(), 'acl': [[a.id.scheme, a.id.id, a.perms] for a in acls], 'other': refused}))",
      'owner.stop(); other.stop()',
    ].join('\n');
    const [o, x] = [pki.client(owner), pki.client(other)];
    const r = spawnSync(
      kazooPython ?? 'python3',
      ['-c', script, `${host}:${port}`, pki.ca, o.cert, o.key, x.cert, x.key],
      {encoding: 'utf8', timeout: 45_000},
    );
    return r.status === 0 ? (JSON.parse(r.stdout) as unknown) : `exit ${r.status}: ${r.stderr}`;
  };

  it.each(pairings)(
    '%s: both present the key store certificate and meet the same x509 ACL through kazoo',
    async p => {
      const expected = new X509Certificate(readFileSync(pki.server.cert)).fingerprint256;
      const seen = new Map<string, unknown>();
      for (const server of ['zookeeper', 'synod']) {
        const port = ports.get(`${server} ${p}`) ?? 0;
        seen.set(server, {
          presented: await presented(port),
          ids: await whoAmI(port, 'carol'),
          kazoo: kazooPython === undefined ? 'no kazoo' : kazooAclCheck(port, 'carol', 'dave'),
        });
      }
      expect(seen.get('zookeeper')).toEqual({
        presented: {fingerprint: expected, authorized: true},
        ids: expect.arrayContaining([{authScheme: 'x509', user: 'CN=carol'}]) as unknown,
        kazoo:
          kazooPython === undefined
            ? 'no kazoo'
            : {data: 'only carol', acl: [['x509', 'CN=carol', 31]], other: 'NoAuth'},
      });
      expect(seen.get('synod')).toEqual(seen.get('zookeeper'));
    },
    60_000,
  );

  it("reads keytool's stores as the JDK wrote them, OpenSSL 1.x's legacy PKCS#12 and an encrypted PEM key store", () => {
    const serverKey = createPrivateKey(readFileSync(pki.server.key));
    const serverCert = new X509Certificate(readFileSync(pki.server.cert));
    for (const [file, type] of [
      [files.keyJks, 'JKS'],
      [files.keyP12, 'PKCS12'],
      [files.legacyP12, 'PKCS12'],
    ] as const) {
      const identity = readKeyStore(readFileSync(file), {file, password: PASSWORD, type});
      expect(createPrivateKey(identity.key).equals(serverKey), file).toBe(true);
      expect(new X509Certificate(identity.cert).fingerprint256, file).toBe(
        serverCert.fingerprint256,
      );
    }
    const ca = new X509Certificate(readFileSync(pki.ca)).fingerprint256;
    for (const [file, type] of [
      [files.trustJks, 'JKS'],
      [files.trustP12, 'PKCS12'],
    ] as const) {
      const trusted = readTrustStore(readFileSync(file), {file, password: PASSWORD, type});
      expect(trusted.map(pem => new X509Certificate(pem).fingerprint256)).toEqual([ca]);
    }
    // ZooKeeper's PEM key store: an encrypted PKCS#8 key and its certificate in one file.
    const pemStore = join(pki.dir, 'server-store.pem');
    const encrypted = createPrivateKey(readFileSync(pki.server.key)).export({
      format: 'pem',
      type: 'pkcs8',
      cipher: 'aes-256-cbc',
      passphrase: PASSWORD,
    });
    writeFileSync(pemStore, `${encrypted.toString()}${readFileSync(pki.server.cert, 'utf8')}`);
    const pem = {file: pemStore, password: PASSWORD, type: 'PEM'} as const;
    const fromPem = readKeyStore(readFileSync(pemStore), pem);
    expect(createPrivateKey(fromPem.key).equals(serverKey)).toBe(true);
    expect(() => readKeyStore(readFileSync(pemStore), {...pem, password: 'nope'})).toThrow(
      /does not decrypt: the password is wrong/,
    );
    // The JDK opens a JKS store as PKCS12 and a PKCS#12 store as JKS, and so does Synod.
    expect(
      readTrustStore(readFileSync(files.trustJks), {
        file: files.trustJks,
        password: PASSWORD,
        type: 'PKCS12',
      }),
    ).toHaveLength(1);
    expect(
      createPrivateKey(
        readKeyStore(readFileSync(files.keyP12), {
          file: files.keyP12,
          password: PASSWORD,
          type: 'JKS',
        }).key,
      ).equals(serverKey),
    ).toBe(true);
    // JKS's integrity check is skipped without a password, as Java skips it.
    expect(
      readTrustStore(readFileSync(files.trustJks), {
        file: files.trustJks,
        password: undefined,
        type: 'JKS',
      }),
    ).toHaveLength(1);
  });

  /** The start-up error of a ZooKeeper port with these stores, as the member would report it. */
  const startupError = (stores: Partial<TlsSettings>): string => {
    const settings: TlsSettings = {
      side: 'zk',
      certFile: undefined,
      keyFile: undefined,
      keyStore: {file: files.keyJks, password: PASSWORD, type: 'JKS'},
      trustedCaFile: undefined,
      trustStore: {file: files.trustP12, password: PASSWORD, type: 'PKCS12'},
      clientCertAuth: true,
      crlFile: undefined,
      allowedCn: undefined,
      allowedHostname: undefined,
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.3',
      cipherSuites: [],
      ...stores,
    };
    try {
      TlsCredentials.load(settings);
      return 'loaded';
    } catch (error) {
      return (error as Error).message;
    }
  };

  it('refuses bad stores with one line naming the flag, the file and what is wrong', () => {
    const damaged = join(pki.dir, 'damaged.jks');
    const jks = readFileSync(files.keyJks);
    writeFileSync(damaged, jks.subarray(0, jks.length - 30));
    const flipped = join(pki.dir, 'flipped.p12');
    const p12 = Buffer.from(readFileSync(files.trustP12));
    p12[p12.length - 40] = (p12[p12.length - 40] ?? 0) ^ 0xff;
    writeFileSync(flipped, p12);
    const cases = {
      'wrong JKS key store password': startupError({
        keyStore: {file: files.keyJks, password: 'nope', type: 'JKS'},
      }),
      'wrong PKCS#12 trust store password': startupError({
        trustStore: {file: files.trustP12, password: 'nope', type: 'PKCS12'},
      }),
      'truncated JKS': startupError({keyStore: {file: damaged, password: PASSWORD, type: 'JKS'}}),
      'a byte changed in a PKCS#12 store': startupError({
        trustStore: {file: flipped, password: PASSWORD, type: 'PKCS12'},
      }),
      'a PEM file given as JKS': startupError({
        keyStore: {file: pki.server.cert, password: PASSWORD, type: 'JKS'},
      }),
      'a JKS store given as PEM': startupError({
        trustStore: {file: files.trustJks, password: PASSWORD, type: 'PEM'},
      }),
      'a trust store without a JDK-trusted certificate': startupError({
        trustStore: {file: files.opensslTrustP12, password: PASSWORD, type: 'PKCS12'},
      }),
      'a trust store without a key store': startupError({keyStore: undefined}),
      'a missing file': startupError({
        trustStore: {file: join(pki.dir, 'none.jks'), password: PASSWORD, type: 'JKS'},
      }),
    };
    expect(startupError({})).toBe('loaded');
    for (const message of Object.values(cases)) expect(message).not.toContain('\n');
    expect(cases).toEqual({
      'wrong JKS key store password': `invalid --zk-keystore-file: ${files.keyJks}: wrong --zk-keystore-password for this JKS store (its integrity check fails: the password is wrong, or the file was altered)`,
      'wrong PKCS#12 trust store password': `invalid --zk-truststore-file: ${files.trustP12}: wrong --zk-truststore-password for this PKCS12 store (its MAC does not match: the password is wrong, or the file was altered)`,
      'truncated JKS': expect.stringMatching(
        new RegExp(`^invalid --zk-keystore-file: ${damaged} \\(JKS\\): truncated at offset \\d+`),
      ) as unknown,
      'a byte changed in a PKCS#12 store': expect.stringMatching(
        /^invalid --zk-truststore-file: .*flipped\.p12: wrong --zk-truststore-password .*or the file was altered/,
      ) as unknown,
      'a PEM file given as JKS': `invalid --zk-keystore-file: ${pki.server.cert} (JKS): not a JKS store (it looks like a PEM file; its type would be PEM): neither the JKS magic 0xfeedfeed nor DER`,
      'a JKS store given as PEM': `invalid --zk-truststore-file: ${files.trustJks} (PEM): not a PEM store (it looks like a JKS store; its type would be JKS): no PEM block in it`,
      'a trust store without a JDK-trusted certificate': expect.stringMatching(
        /^invalid --zk-truststore-file: .*trust-openssl\.p12 \(PKCS12\): holds certificates but none marked trusted for the JDK/,
      ) as unknown,
      'a trust store without a key store':
        'invalid --zk-cert-file: TLS needs both --zk-cert-file and --zk-key-file (or a key store, --zk-keystore-file)',
      'a missing file': `invalid --zk-truststore-file: cannot read ${join(pki.dir, 'none.jks')}: no such file`,
    });
  });

  it('reads a store again when its file changes, and keeps the last good one over a bad one', () => {
    const trust = join(pki.dir, 'rotating-trust.jks');
    copyFileSync(files.trustJks, trust);
    const errors: string[] = [];
    const credentials = TlsCredentials.load(
      {
        side: 'zk',
        certFile: undefined,
        keyFile: undefined,
        keyStore: {file: files.keyP12, password: PASSWORD, type: 'PKCS12'},
        trustedCaFile: undefined,
        trustStore: {file: trust, password: PASSWORD, type: 'JKS'},
        clientCertAuth: true,
        crlFile: undefined,
        allowedCn: undefined,
        allowedHostname: undefined,
        minVersion: 'TLSv1.2',
        maxVersion: 'TLSv1.3',
        cipherSuites: [],
      },
      message => errors.push(message),
    );
    expect(credentials.refresh()).toBe(false);
    // A PKCS#12 store under the JKS name: the JDK opens it, and so does Synod.
    writeFileSync(trust, readFileSync(files.trustP12));
    expect(credentials.refresh()).toBe(true);
    writeFileSync(trust, 'not a store');
    expect(credentials.refresh()).toBe(false);
    expect(errors).toEqual([
      expect.stringMatching(/^invalid --zk-truststore-file: .*rotating-trust\.jks \(JKS\): /),
    ]);
  });

  it('Synod refuses to start with a wrong trust store password, naming the flag', async () => {
    const [port = 0] = await freePorts(1);
    const started = startSynod({
      startTimeoutMs: 15_000,
      extraArgs: [
        `--listen-zk-urls=https://${host}:${port}`,
        `--zk-keystore-file=${files.keyJks}`,
        `--zk-keystore-password=${PASSWORD}`,
        `--zk-truststore-file=${files.trustJks}`,
        '--zk-truststore-password=not-the-password',
      ],
    });
    await expect(started).rejects.toThrow(
      /--zk-truststore-file: .*trust\.jks: wrong --zk-truststore-password for this JKS store/,
    );
  }, 30_000);
});
