import {X509Certificate} from 'node:crypto';
import {once} from 'node:events';
import {copyFileSync, existsSync, readFileSync, writeFileSync} from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import {join} from 'node:path';
import tls from 'node:tls';

import {
  etcdSkipReason,
  makeTestPki,
  mutualTlsOptions,
  opensslSkipReason,
  runSynodCommand,
  startEtcd,
  startSynod,
  waitFor,
} from '@synod/testing';
import type {EtcdCluster, EtcdClusterOptions, TestPki} from '@synod/testing';
import {KVDefinition} from '@synod/proto';
import {ChannelCredentials, ClientError, createChannel, createClient, Status} from 'nice-grpc';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {etcdctlSkipReason, runCtl} from './etcdctl.js';

/**
 * TLS with etcd's flags and files: the same certificates and flags start an etcd member and
 * a Synod member, and etcdctl must see the same on both — the same output for every
 * command over mutual TLS, and the same refusal for every way a client can get TLS wrong.
 * What is normalised: the `took = ...` timing of `endpoint health`, and etcdctl's own JSON
 * retry warnings on stderr (timestamps and generated client ids); its `Error:` line is
 * compared as is.
 */
const skip = etcdSkipReason ?? opensslSkipReason ?? etcdctlSkipReason;

/** The lines etcdctl printed that say what happened, without its retry logging. */
function errorLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter(line => line !== '' && !line.startsWith('{'))
    .map(line =>
      line.replace(/took = [^\s]+/, 'took = <t>').replace(/^https:\/\/[^ ]+ /, '<url> '),
    );
}

describe.skipIf(skip !== undefined)('client TLS: etcd and Synod with the same certificates', () => {
  let pki: TestPki;
  let etcd: EtcdCluster;
  let synod: EtcdCluster;

  beforeAll(async () => {
    pki = makeTestPki();
    const options = mutualTlsOptions(pki, {crl: true});
    [etcd, synod] = await Promise.all([startEtcd(options), startSynod(options)]);
  });

  afterAll(async () => {
    await Promise.all([etcd.stop(), synod.stop()]);
    pki.remove();
  });

  const endpoint = (c: EtcdCluster) => c.endpoints[0] ?? '';

  /** etcdctl against one side with a client's files (the root client by default). */
  async function ctl(c: EtcdCluster, args: readonly string[], files?: readonly string[]) {
    const root = pki.client('root');
    const tlsArgs = files ?? [`--cacert=${pki.ca}`, `--cert=${root.cert}`, `--key=${root.key}`];
    return runCtl(endpoint(c), [...tlsArgs, '--dial-timeout=1s', '--command-timeout=3s', ...args]);
  }

  async function sameOnBoth(args: readonly string[], files?: readonly string[]) {
    const [e, s] = await Promise.all([ctl(etcd, args, files), ctl(synod, args, files)]);
    expect({code: s.code, out: s.stdout, err: errorLines(s.stderr)}, args.join(' ')).toEqual({
      code: e.code,
      out: e.stdout,
      err: errorLines(e.stderr),
    });
    return s;
  }

  it('runs etcdctl commands over mutual TLS with the same results', async () => {
    expect((await sameOnBoth(['put', 'tls/a', '1'])).stdout).toBe('OK\n');
    await sameOnBoth(['put', 'tls/b', '2']);
    await sameOnBoth(['get', 'tls/', '--prefix']);
    await sameOnBoth(['get', 'tls/a', '-w', 'json', '--print-value-only']);
    await sameOnBoth(['del', 'tls/b']);
    await sameOnBoth(['role', 'add', 'reader']);
    await sameOnBoth(['role', 'grant-permission', 'reader', 'read', 'tls/', '--prefix']);
    await sameOnBoth(['user', 'add', 'alice', '--no-password']);
    await sameOnBoth(['user', 'grant-role', 'alice', 'reader']);
    await sameOnBoth(['user', 'get', 'alice']);
    await sameOnBoth(['role', 'get', 'reader']);
    const health = await sameOnBoth(['endpoint', 'health']);
    expect(health.code).toBe(0);
    for (const args of [
      ['member', 'list'],
      ['endpoint', 'status'],
      ['lease', 'grant', '30'],
    ]) {
      const [e, s] = await Promise.all([ctl(etcd, args), ctl(synod, args)]);
      expect([e.code, s.code], args.join(' ')).toEqual([0, 0]);
    }
  });

  /** A put with `cn`'s certificate whose `:authority` is the endpoint URL: 'OK' or the error. */
  async function putWithUrlAuthority(c: EtcdCluster, cn: string): Promise<string> {
    const files = pki.client(cn);
    const channel = createChannel(
      new URL(endpoint(c)).host,
      ChannelCredentials.createSsl(
        readFileSync(pki.ca),
        readFileSync(files.key),
        readFileSync(files.cert),
      ),
      {'grpc.default_authority': endpoint(c), 'grpc.ssl_target_name_override': 'localhost'},
    );
    try {
      await createClient(KVDefinition, channel).put({
        key: Buffer.from('tls/by-url'),
        value: Buffer.from(cn),
      });
      return 'OK';
    } catch (error) {
      if (error instanceof ClientError) return `${Status[error.code]}: ${error.details}`;
      throw error;
    } finally {
      channel.close();
    }
  }

  it("authenticates a request without a token as its certificate's Common Name", async () => {
    const as = (cn: string) => {
      const files = pki.client(cn);
      return [`--cacert=${pki.ca}`, `--cert=${files.cert}`, `--key=${files.key}`];
    };
    await sameOnBoth(['user', 'add', 'root:rootpw']);
    await sameOnBoth(['user', 'grant-role', 'root', 'root']);
    await sameOnBoth(['auth', 'enable']);
    try {
      // root by certificate: may write and read anything, and manage users.
      await sameOnBoth(['put', 'tls/by-cert', 'root'], as('root'));
      await sameOnBoth(['user', 'list'], as('root'));
      // alice holds read on tls/ only.
      await sameOnBoth(['get', 'tls/by-cert', '--print-value-only'], as('alice'));
      await sameOnBoth(['put', 'tls/by-cert', 'alice'], as('alice'));
      // A certificate naming no user, and a token that wins over the certificate.
      await sameOnBoth(['get', 'tls/by-cert'], as('nobody'));
      await sameOnBoth(['--user=root:rootpw', 'put', 'tls/by-token', 'x'], as('alice'));
      await sameOnBoth(['--user=root:wrong', 'put', 'tls/by-token', 'x'], as('root'));
      // With the endpoint URL as :authority (as etcdctl 3.4 sends it in plaintext), Synod
      // reads the connection through its rewriter: the certificate must still name the user.
      for (const cn of ['root', 'alice', 'nobody']) {
        const [e, s] = await Promise.all([
          putWithUrlAuthority(etcd, cn),
          putWithUrlAuthority(synod, cn),
        ]);
        expect(s, cn).toBe(e);
      }
      expect(await putWithUrlAuthority(synod, 'root')).toBe('OK');
    } finally {
      await sameOnBoth(['auth', 'disable'], as('root'));
    }
    await sameOnBoth(['user', 'delete', 'root']);
  });

  it.each([
    [
      'a CA that did not sign the server certificate',
      (p: TestPki) => [
        `--cacert=${p.otherCa}`,
        `--cert=${p.client('root').cert}`,
        `--key=${p.client('root').key}`,
      ],
    ],
    ['no client certificate', (p: TestPki) => [`--cacert=${p.ca}`]],
    [
      'an expired client certificate',
      (p: TestPki) => [`--cacert=${p.ca}`, `--cert=${p.expired.cert}`, `--key=${p.expired.key}`],
    ],
    [
      'a revoked client certificate',
      (p: TestPki) => [`--cacert=${p.ca}`, `--cert=${p.revoked.cert}`, `--key=${p.revoked.key}`],
    ],
    [
      'a client certificate from an untrusted CA',
      (p: TestPki) => [
        `--cacert=${p.ca}`,
        `--cert=${p.untrusted.cert}`,
        `--key=${p.untrusted.key}`,
      ],
    ],
  ])('refuses %s as etcd does, and keeps serving', async (_label, files) => {
    const s = await sameOnBoth(['get', 'tls/a'], files(pki));
    expect(s.code).not.toBe(0);
    await sameOnBoth(['get', 'tls/a', '--print-value-only']);
  });

  it('refuses a plaintext client on the TLS port as etcd does', async () => {
    const plain = (c: EtcdCluster) =>
      runCtl(endpoint(c).replace('https://', 'http://'), ['--dial-timeout=1s', 'get', 'tls/a']);
    const [e, s] = await Promise.all([plain(etcd), plain(synod)]);
    expect(s.code).not.toBe(0);
    expect({code: s.code, err: errorLines(s.stderr)}).toEqual({
      code: e.code,
      err: errorLines(e.stderr),
    });
    await sameOnBoth(['get', 'tls/a', '--print-value-only']);
  });

  it('serves /health over TLS to HTTP/2 clients beside gRPC, as curl asks by default', async () => {
    const root = pki.client('root');
    const session = http2.connect(endpoint(synod), {
      ca: readFileSync(pki.ca),
      cert: readFileSync(root.cert),
      key: readFileSync(root.key),
    });
    try {
      const answer = await new Promise<{status: number; body: string}>((resolve, reject) => {
        const stream = session.request({':method': 'GET', ':path': '/health'});
        let status = 0;
        let body = '';
        stream.on('response', headers => {
          status = Number(headers[':status']);
        });
        stream.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        stream.on('end', () => {
          resolve({status, body});
        });
        stream.on('error', reject);
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({health: 'true', reason: ''});
    } finally {
      session.close();
    }
  });

  it('serves /health over TLS to HTTP/1.1 clients', async () => {
    const root = pki.client('root');
    const body = await new Promise<string>((resolve, reject) => {
      const url = new URL(`${endpoint(synod)}/health`);
      const socket = tls.connect({
        host: url.hostname,
        port: Number(url.port),
        ca: readFileSync(pki.ca),
        cert: readFileSync(root.cert),
        key: readFileSync(root.key),
        ALPNProtocols: ['http/1.1'],
      });
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      socket.on('end', () => {
        resolve(text);
      });
      socket.on('error', reject);
      socket.write(`GET /health HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
    });
    expect(body).toMatch(/^HTTP\/1.1 200/);
    expect(body).toContain('"health":"true"');
  });
});

describe.skipIf(opensslSkipReason !== undefined || etcdctlSkipReason !== undefined)(
  'peer TLS: three members',
  () => {
    let pki: TestPki;
    let cluster: EtcdCluster;

    beforeAll(async () => {
      pki = makeTestPki();
      cluster = await startSynod({
        members: 3,
        peerScheme: 'https',
        extraArgs: [
          `--peer-cert-file=${pki.server.cert}`,
          `--peer-key-file=${pki.server.key}`,
          `--peer-trusted-ca-file=${pki.ca}`,
          '--peer-client-cert-auth',
          '--log-level=warn',
        ],
      });
    });

    afterAll(async () => {
      await cluster.stop();
      pki.remove();
    });

    it('replicates over TLS and keeps going when the leader is killed', async () => {
      const all = cluster.endpoints.join(',');
      expect((await runCtl(all, ['put', 'peer/a', '1'])).stdout).toBe('OK\n');
      for (const m of cluster.members) {
        // A serializable read answers from the member's own state: a follower may be a
        // moment behind the leader that acknowledged the put.
        await waitFor(
          async () => {
            const got = await runCtl(m.clientUrl, [
              'get',
              'peer/a',
              '--consistency=s',
              '--print-value-only',
            ]);
            return got.stdout === '1\n';
          },
          5000,
          `peer/a on ${m.name}`,
        );
      }
      const status = await runCtl(all, ['endpoint', 'status', '-w', 'json']);
      const statuses = JSON.parse(status.stdout) as {
        Endpoint: string;
        Status: {leader: number; header: {member_id: number}};
      }[];
      const leaderEndpoint = statuses.find(e => e.Status.leader === e.Status.header.member_id);
      const victim = cluster.members.find(m => m.clientUrl === leaderEndpoint?.Endpoint);
      if (victim === undefined) throw new Error(`no leader in ${status.stdout}`);
      await victim.kill('SIGKILL');
      const rest = cluster.members
        .filter(m => m !== victim)
        .map(m => m.clientUrl)
        .join(',');
      // A put sent while the survivors elect a leader may time out; etcd's clients retry it.
      let put = await runCtl(rest, ['put', 'peer/b', '2'], {timeoutMs: 15_000});
      for (let attempt = 0; attempt < 3 && put.stdout !== 'OK\n'; attempt++) {
        put = await runCtl(rest, ['put', 'peer/b', '2'], {timeoutMs: 15_000});
      }
      expect(put.stdout, put.stderr).toBe('OK\n');
      await victim.restart();
    }, 60_000);

    it('refuses a plaintext peer and one with an untrusted certificate', async () => {
      const peer = new URL(cluster.members[0]?.peerUrl ?? '');
      const plaintext = await new Promise<string>(resolve => {
        const socket = net.connect({host: peer.hostname, port: Number(peer.port)});
        let got = '';
        socket.on('data', (chunk: Buffer) => (got += chunk.toString('latin1')));
        socket.on('error', () => undefined);
        socket.on('close', () => {
          resolve(got);
        });
        // The Raft stream's preface, as a member without TLS would send it.
        socket.write('SYNOD-RAFT-STREAM\n');
      });
      // Whatever came back is a TLS alert, never a Raft frame or a refusal in the clear.
      expect(plaintext).not.toContain('SYNOD');
      const untrusted = await new Promise<string>(resolve => {
        const socket = tls.connect({
          host: peer.hostname,
          port: Number(peer.port),
          ca: readFileSync(pki.ca),
          cert: readFileSync(pki.untrusted.cert),
          key: readFileSync(pki.untrusted.key),
        });
        socket.on('secureConnect', () => {
          socket.write('x');
        });
        socket.on('error', (error: Error) => {
          resolve(error.message);
        });
        socket.on('close', () => {
          resolve('closed');
        });
      });
      expect(untrusted).not.toBe('');
      const output = cluster.members[0]?.output ?? '';
      expect(output).toContain('rejected TLS connection');
      expect((await runCtl(cluster.endpoints.join(','), ['put', 'peer/c', '3'])).stdout).toBe(
        'OK\n',
      );
    });
  },
);

describe.skipIf(opensslSkipReason !== undefined)('certificate files that cannot be used', () => {
  let pki: TestPki;

  beforeAll(() => {
    pki = makeTestPki();
  });

  afterAll(() => {
    pki.remove();
  });

  it.each([
    [
      'a missing file',
      (p: TestPki) => ['--cert-file', join(p.dir, 'nope.pem'), '--key-file', p.server.key],
      /^synod: invalid --cert-file: cannot read .*nope\.pem: no such file$/,
    ],
    [
      'a file that is not PEM',
      (p: TestPki) => {
        const junk = join(p.dir, 'junk.pem');
        writeFileSync(junk, 'not a certificate\n');
        return ['--cert-file', junk, '--key-file', p.server.key];
      },
      /^synod: invalid --cert-file: .*junk\.pem is not a PEM file$/,
    ],
    [
      'a key that does not match',
      (p: TestPki) => ['--cert-file', p.server.cert, '--key-file', p.expired.key],
      /^synod: invalid --key-file: .*expired-key\.pem does not match the certificate in .*server\.pem$/,
    ],
    [
      'an https URL without a certificate',
      () => [],
      /^synod: invalid --listen-client-urls: TLS key\/cert \(--cert-file, --key-file\) must be provided for client url https:\/\/127\.0\.0\.1:1 with HTTPS scheme$/,
    ],
  ])(
    'stops synod at start-up on %s, naming the flag and the file, before creating anything',
    async (_label, flags, message) => {
      const dataDir = join(pki.dir, `data-${Math.random().toString(16).slice(2)}`);
      const r = await runSynodCommand([
        `--data-dir=${dataDir}`,
        '--listen-client-urls=https://127.0.0.1:1',
        '--advertise-client-urls=https://127.0.0.1:1',
        '--listen-peer-urls=http://127.0.0.1:0',
        '--initial-advertise-peer-urls=http://127.0.0.1:2',
        ...flags(pki),
      ]);
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(message);
      expect(existsSync(dataDir)).toBe(false);
    },
  );
});

describe.skipIf(skip !== undefined)(
  'auto-TLS: etcd and Synod with --auto-tls and --peer-auto-tls',
  () => {
    let etcd: EtcdCluster;
    let synod: EtcdCluster;

    beforeAll(async () => {
      const options: EtcdClusterOptions = {
        clientScheme: 'https',
        peerScheme: 'https',
        extraArgs: ['--auto-tls', '--peer-auto-tls'],
      };
      // etcd 3.4 has no --self-signed-cert-validity (3.5 has): its certificates last a year.
      const synodOptions: EtcdClusterOptions = {
        ...options,
        extraArgs: ['--auto-tls', '--peer-auto-tls', '--self-signed-cert-validity=2'],
      };
      [etcd, synod] = await Promise.all([startEtcd(options), startSynod(synodOptions)]);
    });

    afterAll(async () => {
      await Promise.all([etcd.stop(), synod.stop()]);
    });

    it('serves etcdctl --insecure-skip-tls-verify with certificates made in the data directory', async () => {
      for (const c of [etcd, synod]) {
        const url = c.endpoints[0] ?? '';
        const put = await runCtl(url, [
          '--insecure-skip-tls-verify',
          '--insecure-transport=false',
          'put',
          'auto',
          'tls',
        ]);
        expect(put.stdout, `${c === etcd ? 'etcd' : 'synod'}: ${put.stderr}`).toBe('OK\n');
        const get = await runCtl(url, [
          '--insecure-skip-tls-verify',
          '--insecure-transport=false',
          'get',
          'auto',
          '--print-value-only',
        ]);
        expect(get.stdout).toBe('tls\n');
        const dir = c.members[0]?.dataDir ?? '';
        for (const side of ['client', 'peer']) {
          const pem = readFileSync(join(dir, 'fixtures', side, 'cert.pem'), 'utf8');
          const years =
            (Date.parse(new X509Certificate(pem).validTo) - Date.now()) / (365.25 * 864e5);
          expect(Math.round(years)).toBe(c === synod ? 2 : 1);
        }
      }
    });
  },
);

describe.skipIf(opensslSkipReason !== undefined)('certificate rotation without a restart', () => {
  let pki: TestPki;
  let cluster: EtcdCluster;
  let certFile: string;
  let keyFile: string;

  beforeAll(async () => {
    pki = makeTestPki();
    certFile = join(pki.dir, 'live.pem');
    keyFile = join(pki.dir, 'live-key.pem');
    copyFileSync(pki.server.cert, certFile);
    copyFileSync(pki.server.key, keyFile);
    cluster = await startSynod({
      clientScheme: 'https',
      healthTls: {ca: pki.ca},
      extraArgs: [`--cert-file=${certFile}`, `--key-file=${keyFile}`, '--log-level=warn'],
    });
  });

  afterAll(async () => {
    await cluster.stop();
    pki.remove();
  });

  async function servedFingerprint(): Promise<string> {
    const url = new URL(cluster.endpoints[0] ?? '');
    const socket = tls.connect({
      host: url.hostname,
      port: Number(url.port),
      ca: readFileSync(pki.ca),
    });
    await once(socket, 'secureConnect');
    const fingerprint = socket.getPeerX509Certificate()?.fingerprint256 ?? '';
    socket.destroy();
    return fingerprint;
  }

  it('serves new connections with the new certificate, and keeps the old ones', async () => {
    const kvOver = () => {
      const channel = createChannel(
        cluster.endpoints[0] ?? '',
        ChannelCredentials.createSsl(readFileSync(pki.ca)),
      );
      return {
        kv: createClient(KVDefinition, channel),
        close: () => {
          channel.close();
        },
      };
    };
    const client = kvOver();
    const value = Buffer.from('v');
    try {
      await client.kv.put({key: Buffer.from('rotate'), value});
      const before = await servedFingerprint();
      expect(before).toBe(new X509Certificate(readFileSync(pki.server.cert)).fingerprint256);
      const next = pki.issue('rotated');
      // The key first, then the certificate: in between, the pair does not match and the
      // member keeps serving the old one.
      copyFileSync(next.key, keyFile);
      expect(await servedFingerprint()).toBe(before);
      copyFileSync(next.cert, certFile);
      const after = await servedFingerprint();
      expect(after).toBe(new X509Certificate(readFileSync(next.cert)).fingerprint256);
      // The connection opened before the rotation goes on working.
      await client.kv.put({key: Buffer.from('rotate'), value: Buffer.from('after')});
      const fresh = kvOver();
      try {
        const got = await fresh.kv.range({key: Buffer.from('rotate')});
        expect(got.kvs[0]?.value.toString()).toBe('after');
      } finally {
        fresh.close();
      }
      expect(cluster.members[0]?.output).toContain('kept the previous certificates');
    } finally {
      client.close();
    }
  });
});

describe.skipIf(skip !== undefined)('client TLS mistakes that etcd and Synod refuse alike', () => {
  let pki: TestPki;
  let servers: {etcd: EtcdCluster; synod: EtcdCluster}[];

  beforeAll(async () => {
    pki = makeTestPki();
    const otherHost: EtcdClusterOptions = {
      clientScheme: 'https',
      extraArgs: [`--cert-file=${pki.otherHost.cert}`, `--key-file=${pki.otherHost.key}`],
    };
    const [etcdOther, synodOther, etcdPlain, synodPlain] = await Promise.all([
      startEtcd(otherHost),
      startSynod(otherHost),
      startEtcd(),
      startSynod(),
    ]);
    servers = [
      {etcd: etcdOther, synod: synodOther},
      {etcd: etcdPlain, synod: synodPlain},
    ];
  });

  afterAll(async () => {
    await Promise.all(servers.flatMap(s => [s.etcd.stop(), s.synod.stop()]));
    pki.remove();
  });

  async function sameRefusal(endpointOf: (c: EtcdCluster) => string, pair: number): Promise<void> {
    const pairOf = servers[pair];
    if (pairOf === undefined) throw new Error('servers not started');
    const run = (c: EtcdCluster) =>
      runCtl(endpointOf(c), [`--cacert=${pki.ca}`, '--dial-timeout=1s', 'get', 'k']);
    const [e, s] = await Promise.all([run(pairOf.etcd), run(pairOf.synod)]);
    expect(s.code).not.toBe(0);
    expect({code: s.code, err: errorLines(s.stderr)}).toEqual({
      code: e.code,
      err: errorLines(e.stderr),
    });
  }

  it('refuses a server certificate made for another host', async () => {
    await sameRefusal(c => c.endpoints[0] ?? '', 0);
  });

  it('refuses a TLS client on a plaintext port', async () => {
    await sameRefusal(c => (c.endpoints[0] ?? '').replace('http://', 'https://'), 1);
  });
});

describe.skipIf(opensslSkipReason !== undefined)('--peer-cert-allowed-cn', () => {
  let pki: TestPki;
  let cluster: EtcdCluster;

  beforeAll(async () => {
    pki = makeTestPki();
    const member = pki.issue('member', 'member');
    cluster = await startSynod({
      peerScheme: 'https',
      extraArgs: [
        `--peer-cert-file=${member.cert}`,
        `--peer-key-file=${member.key}`,
        `--peer-trusted-ca-file=${pki.ca}`,
        '--peer-client-cert-auth',
        '--peer-cert-allowed-cn=member',
        '--log-level=warn',
      ],
    });
  });

  afterAll(async () => {
    await cluster.stop();
    pki.remove();
  });

  it('refuses a peer whose certificate has another Common Name, and says so', async () => {
    const peer = new URL(cluster.members[0]?.peerUrl ?? '');
    const socket = tls.connect({
      host: peer.hostname,
      port: Number(peer.port),
      ca: readFileSync(pki.ca),
      cert: readFileSync(pki.server.cert),
      key: readFileSync(pki.server.key),
    });
    socket.on('error', () => undefined);
    await once(socket, 'close');
    const refusal = 'certificate CN \\"server\\" is not the allowed CN \\"member\\"';
    await waitFor(
      () => (cluster.members[0]?.output ?? '').includes(refusal),
      5000,
      'the refusal log',
    );
    expect((await runCtl(cluster.endpoints[0] ?? '', ['put', 'cn', 'ok'])).stdout).toBe('OK\n');
  });
});

/**
 * etcd takes one address with both schemes too, but Debian's etcd 3.4 then refuses plaintext
 * gRPC on it in most runs (etcdctl: context deadline exceeded), so Synod is checked alone.
 */
describe.skipIf(opensslSkipReason !== undefined || etcdctlSkipReason !== undefined)(
  'one client address with both schemes',
  () => {
    let pki: TestPki;
    let synod: EtcdCluster;

    beforeAll(async () => {
      pki = makeTestPki();
      synod = await startSynod({
        bothSchemesOnClientPort: true,
        extraArgs: [`--cert-file=${pki.server.cert}`, `--key-file=${pki.server.key}`],
      });
    });

    afterAll(async () => {
      await synod.stop();
      pki.remove();
    });

    it('serves plaintext and TLS clients, gRPC and HTTP, on the same port', async () => {
      const plain = synod.endpoints[0] ?? '';
      const secure = plain.replace('http://', 'https://');
      const put = await runCtl(plain, ['put', 'both', 'plain']);
      expect(put.stdout, put.stderr).toBe('OK\n');
      const overTls = await runCtl(secure, [
        `--cacert=${pki.ca}`,
        'get',
        'both',
        '--print-value-only',
      ]);
      expect(overTls.stdout, overTls.stderr).toBe('plain\n');
      expect((await fetch(`${plain}/health`)).status).toBe(200);
      const url = new URL(secure);
      const socket = tls.connect({
        host: url.hostname,
        port: Number(url.port),
        ca: readFileSync(pki.ca),
        ALPNProtocols: ['http/1.1'],
      });
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      socket.write(`GET /health HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
      await once(socket, 'end');
      expect(text).toMatch(/^HTTP\/1.1 200/);
    });
  },
);
