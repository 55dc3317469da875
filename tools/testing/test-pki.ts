import {spawnSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import type {EtcdClusterOptions} from './etcd-process.js';

/** Paths of one certificate and its key. */
export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

/**
 * A throw-away certificate authority with the certificates TLS tests need, made with the
 * `openssl` command (Debian package openssl), all on P-256 keys:
 * - `ca`: the trusted CA; `server`: valid for 127.0.0.1 and localhost, for servers and
 *   clients alike (members use one certificate for both ends of a peer connection);
 * - `client(cn)`: client certificates, the Common Name being the user for certificate auth;
 * - `expired`, `revoked` (listed in `crl`), `otherHost` (valid for 10.0.0.1 only), and
 *   `untrusted` (signed by `otherCa`, which nothing trusts).
 */
export interface TestPki {
  readonly dir: string;
  readonly ca: string;
  readonly otherCa: string;
  readonly server: CertFiles;
  readonly expired: CertFiles;
  readonly revoked: CertFiles;
  readonly otherHost: CertFiles;
  readonly untrusted: CertFiles;
  /** A certificate revocation list from `ca` naming `revoked`. */
  readonly crl: string;
  /** A client certificate whose Common Name is `cn`, signed by `ca` (made on first use). */
  client(cn: string): CertFiles;
  /**
   * A client certificate with the whole subject `subject` (openssl's `-subj` form, e.g.
   * `/C=DE/O=Acme/CN=alice`; `+` joins the attributes of one RDN), signed by `ca`.
   */
  clientWithSubject(name: string, subject: string): CertFiles;
  /** A new server-and-client certificate for 127.0.0.1 under `name`, signed by `ca`. */
  issue(name: string, cn?: string): CertFiles;
  /** Deletes the directory. */
  remove(): void;
}

/**
 * Options that start a cluster on mutual TLS with `pki`'s server certificate: clients must
 * show a certificate from its CA (`--client-cert-auth`, the start-up health check shows
 * `root`'s); with `peers`, members talk over mutual TLS too; with `crl`, revoked client
 * certificates are refused.
 */
export function mutualTlsOptions(
  pki: TestPki,
  {peers = false, crl = false}: {readonly peers?: boolean; readonly crl?: boolean} = {},
): EtcdClusterOptions {
  return {
    clientScheme: 'https',
    healthTls: {ca: pki.ca, ...pki.client('root')},
    ...(peers ? {peerScheme: 'https' as const} : {}),
    extraArgs: [
      `--cert-file=${pki.server.cert}`,
      `--key-file=${pki.server.key}`,
      `--trusted-ca-file=${pki.ca}`,
      '--client-cert-auth',
      ...(crl ? [`--client-crl-file=${pki.crl}`] : []),
      ...(peers
        ? [
            `--peer-cert-file=${pki.server.cert}`,
            `--peer-key-file=${pki.server.key}`,
            `--peer-trusted-ca-file=${pki.ca}`,
            '--peer-client-cert-auth',
          ]
        : []),
    ],
  };
}

/** Why TLS suites cannot run here, or undefined when the `openssl` command works. */
export const opensslSkipReason: string | undefined = (() => {
  const probe = spawnSync('openssl', ['version'], {encoding: 'utf8'});
  if (probe.error === undefined && probe.status === 0) return undefined;
  const reason = 'the openssl command is not installed (Debian package openssl)';
  if (process.env.CI !== undefined && process.env.CI !== '') throw new Error(reason);
  return reason;
})();

function openssl(args: readonly string[], cwd: string): void {
  const r = spawnSync('openssl', args, {cwd, encoding: 'utf8'});
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed:\n${r.stderr}`);
}

const keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Makes a new PKI in a fresh temporary directory. */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'synod-pki-'));
  mkdirSync(join(dir, 'issued'));
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  writeFileSync(join(dir, 'crlnumber'), '1000\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = test',
      '[test]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'new_certs_dir = $dir/issued',
      'serial = $dir/serial',
      'crlnumber = $dir/crlnumber',
      'default_md = sha256',
      'default_days = 30',
      'default_crl_days = 30',
      'policy = anything',
      'unique_subject = no',
      '[anything]',
      'commonName = supplied',
      '[server]',
      'subjectAltName = IP:127.0.0.1,DNS:localhost',
      'extendedKeyUsage = serverAuth,clientAuth',
      '[client]',
      'extendedKeyUsage = clientAuth',
      '[elsewhere]',
      'subjectAltName = IP:10.0.0.1',
      'extendedKeyUsage = serverAuth,clientAuth',
      '',
    ].join('\n'),
  );
  const selfSigned = (name: string, cn: string) => {
    openssl(
      [
        'req',
        '-x509',
        ...keyArgs,
        '-keyout',
        `${name}-key.pem`,
        '-out',
        `${name}.pem`,
        '-days',
        '30',
        '-subj',
        `/CN=${cn}`,
      ],
      dir,
    );
    return join(dir, `${name}.pem`);
  };
  const sign = (name: string, cn: string, section: string, dates: readonly string[] = []) => {
    openssl(
      [
        'req',
        '-new',
        ...keyArgs,
        '-keyout',
        `${name}-key.pem`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${cn}`,
      ],
      dir,
    );
    openssl(
      [
        'ca',
        '-batch',
        '-notext',
        '-config',
        'ca.cnf',
        '-cert',
        'ca.pem',
        '-keyfile',
        'ca-key.pem',
        '-extensions',
        section,
        '-in',
        `${name}.csr`,
        '-out',
        `${name}.pem`,
        ...dates,
      ],
      dir,
    );
    return {cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`)};
  };
  const ca = selfSigned('ca', 'synod-test-ca');
  const otherCa = selfSigned('other-ca', 'synod-other-ca');
  const server = sign('server', 'server', 'server');
  const expired = sign('expired', 'server', 'server', [
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20200201000000Z',
  ]);
  const revoked = sign('revoked', 'root', 'server');
  const otherHost = sign('other-host', 'server', 'elsewhere');
  openssl(
    [
      'req',
      '-new',
      ...keyArgs,
      '-keyout',
      'untrusted-key.pem',
      '-out',
      'untrusted.csr',
      '-subj',
      '/CN=root',
    ],
    dir,
  );
  writeFileSync(
    join(dir, 'untrusted.ext'),
    'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth,clientAuth\n',
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'untrusted.csr',
      '-CA',
      'other-ca.pem',
      '-CAkey',
      'other-ca-key.pem',
      '-CAcreateserial',
      '-out',
      'untrusted.pem',
      '-days',
      '30',
      '-extfile',
      'untrusted.ext',
    ],
    dir,
  );
  openssl(
    [
      'ca',
      '-config',
      'ca.cnf',
      '-cert',
      'ca.pem',
      '-keyfile',
      'ca-key.pem',
      '-revoke',
      'revoked.pem',
    ],
    dir,
  );
  openssl(
    [
      'ca',
      '-config',
      'ca.cnf',
      '-cert',
      'ca.pem',
      '-keyfile',
      'ca-key.pem',
      '-gencrl',
      '-out',
      'crl.pem',
    ],
    dir,
  );
  const clients = new Map<string, CertFiles>();
  let issued = 0;
  return {
    dir,
    ca,
    otherCa,
    server,
    expired,
    revoked,
    otherHost,
    untrusted: {cert: join(dir, 'untrusted.pem'), key: join(dir, 'untrusted-key.pem')},
    crl: join(dir, 'crl.pem'),
    client(cn) {
      let files = clients.get(cn);
      if (files === undefined) {
        files = sign(`client-${clients.size}`, cn, 'client');
        clients.set(cn, files);
      }
      return files;
    },
    clientWithSubject(name, subject) {
      // `openssl x509 -req` keeps the request's subject whole; `openssl ca` would keep only
      // what its policy names.
      openssl(
        [
          'req',
          '-new',
          ...keyArgs,
          '-keyout',
          `${name}-key.pem`,
          '-out',
          `${name}.csr`,
          '-subj',
          subject,
        ],
        dir,
      );
      writeFileSync(join(dir, `${name}.ext`), 'extendedKeyUsage = clientAuth\n');
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca-key.pem',
          '-CAcreateserial',
          '-out',
          `${name}.pem`,
          '-days',
          '30',
          '-extfile',
          `${name}.ext`,
        ],
        dir,
      );
      return {cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`)};
    },
    issue(name, cn = 'server') {
      issued++;
      return sign(`${name}-${issued}`, cn, 'server');
    },
    remove() {
      rmSync(dir, {recursive: true, force: true});
    },
  };
}
