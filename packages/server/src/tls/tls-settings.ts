import type tls from 'node:tls';

import type {StoreSettings} from './key-store.js';

/**
 * TLS for one side of a member (its client port or its peer port), as etcd's flags set it:
 * `--cert-file`, `--key-file`, `--trusted-ca-file`, `--client-cert-auth`, ... for clients and
 * the same with `--peer-` in front for peers.
 */
export interface TlsSettings {
  /**
   * `client` for the client port's flags, `peer` for the peer port's, `zk` for the ZooKeeper
   * TLS port's own (`--zk-cert-file`, ...).
   */
  readonly side: 'client' | 'peer' | 'zk';
  /** PEM certificate this member presents (`--cert-file`). */
  readonly certFile: string | undefined;
  /** PEM private key of that certificate (`--key-file`). */
  readonly keyFile: string | undefined;
  /**
   * In place of `certFile` and `keyFile`: a JKS, PKCS#12 or PEM key store holding the key and
   * its certificate chain (the ZooKeeper port's `--zk-keystore-file`, `--zk-keystore-password`
   * and `--zk-keystore-type`, ZooKeeper's `ssl.keyStore.*`).
   */
  readonly keyStore?: StoreSettings;
  /** PEM CA bundle that verifies the other side's certificates (`--trusted-ca-file`). */
  readonly trustedCaFile: string | undefined;
  /**
   * In place of `trustedCaFile`: a JKS, PKCS#12 or PEM trust store (the ZooKeeper port's
   * `--zk-truststore-file`, `--zk-truststore-password` and `--zk-truststore-type`, ZooKeeper's
   * `ssl.trustStore.*`).
   */
  readonly trustStore?: StoreSettings;
  /** Ask for, and require, a certificate signed by the trusted CA (`--client-cert-auth`). */
  readonly clientCertAuth: boolean;
  /** PEM certificate revocation list; a revoked certificate is refused (`--client-crl-file`). */
  readonly crlFile: string | undefined;
  /** A verified certificate must have this Common Name (`--peer-cert-allowed-cn`). */
  readonly allowedCn: string | undefined;
  /** A verified certificate must be valid for this host name (`--*-cert-allowed-hostname`). */
  readonly allowedHostname: string | undefined;
  /** TLS versions allowed; etcd's default minimum is TLS 1.2. */
  readonly minVersion: tls.SecureVersion;
  readonly maxVersion: tls.SecureVersion;
  /** OpenSSL names of the TLS 1.2 cipher suites allowed; empty for Node's defaults. */
  readonly cipherSuites: readonly string[];
  /**
   * `--auto-tls` / `--peer-auto-tls` with no certificate given: `certFile` and `keyFile`
   * point into the data directory, where a self-signed certificate for `hosts` is made at
   * start-up unless one is there already.
   */
  readonly selfSigned?: {readonly hosts: readonly string[]; readonly validityYears: number};
}

/** The flag each setting of a side comes from, for messages that name it. */
export function tlsFlag(
  side: TlsSettings['side'],
  setting: 'cert' | 'key' | 'ca' | 'crl' | 'client-cert-auth' | 'allowed-hostname' | 'allowed-cn',
): string {
  if (side === 'zk') return zkTlsFlags[setting];
  const peer = side === 'peer' ? 'peer-' : '';
  switch (setting) {
    case 'cert':
      return `${peer}cert-file`;
    case 'key':
      return `${peer}key-file`;
    case 'ca':
      return `${peer}trusted-ca-file`;
    case 'crl':
      return side === 'peer' ? 'peer-crl-file' : 'client-crl-file';
    case 'client-cert-auth':
      return `${peer}client-cert-auth`;
    case 'allowed-hostname':
      return side === 'peer' ? 'peer-cert-allowed-hostname' : 'client-cert-allowed-hostname';
    case 'allowed-cn':
      return 'peer-cert-allowed-cn';
  }
}

/** The ZooKeeper TLS port's flags; it has no allowed host name or CN of its own. */
const zkTlsFlags = {
  cert: 'zk-cert-file',
  key: 'zk-key-file',
  ca: 'zk-trusted-ca-file',
  crl: 'zk-crl-file',
  'client-cert-auth': 'zk-ssl-client-auth',
  'allowed-hostname': 'client-cert-allowed-hostname',
  'allowed-cn': 'peer-cert-allowed-cn',
} as const;

/**
 * Go's names for the TLS 1.2 cipher suites etcd's `--cipher-suites` takes, with OpenSSL's
 * names for the same suites (TLS 1.3 suites are not configurable, in etcd as here).
 */
export const cipherSuiteNames: Readonly<Record<string, string>> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_RSA_WITH_AES_128_CBC_SHA256: 'AES128-SHA256',
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
};
