import {X509Certificate, createPrivateKey} from 'node:crypto';
import {readFileSync, statSync} from 'node:fs';
import tls from 'node:tls';

import {ConfigError} from '../errors/config-error.js';
import {readKeyStore, readTrustStore} from './key-store.js';
import type {StoreSettings} from './key-store.js';
import {KeyStoreError} from './key-store-error.js';
import type {TlsSettings} from './tls-settings.js';
import {tlsFlag} from './tls-settings.js';

/** What identifies a file's content cheaply: a rewrite or a rename over it changes one of these. */
interface FileStamp {
  readonly path: string;
  readonly stamp: string;
}

/** ALPN protocols a member offers: gRPC needs h2; `/health` and friends are HTTP/1.1. */
const alpnProtocols = ['h2', 'http/1.1'];

/**
 * The certificates of one side of a member (client or peer port), loaded from the files its
 * flags name, checked at start-up, and read again whenever one of the files changes: every
 * new connection asks for {@link secureContext}, which compares the files' stamps first, as
 * etcd reads its files per handshake, so certificates can be rotated without a restart.
 *
 * A rotation caught half-way (a key that no longer matches its certificate, a file being
 * written) keeps the previous context and reports the problem once to `onReloadError`.
 */
export class TlsCredentials {
  private context: tls.SecureContext;
  private options: tls.SecureContextOptions;
  private stamps: readonly FileStamp[];
  private lastReloadError = '';

  private constructor(
    readonly settings: TlsSettings,
    loaded: Loaded,
    private readonly onReloadError: (message: string) => void,
  ) {
    this.context = loaded.context;
    this.options = loaded.options;
    this.stamps = loaded.stamps;
  }

  /**
   * Loads and checks every file now: a file that is missing, is not PEM, or a key that does
   * not match its certificate throws a {@link ConfigError} naming the flag and the file.
   */
  static load(
    settings: TlsSettings,
    onReloadError: (message: string) => void = () => undefined,
  ): TlsCredentials {
    return new TlsCredentials(settings, loadContext(settings), onReloadError);
  }

  /**
   * Reads the files again if any changed since they were last read; true when the
   * certificates in use changed. A set of files that cannot be used keeps the old ones.
   */
  refresh(): boolean {
    const now = stampsOf(this.settings);
    if (sameStamps(now, this.stamps)) return false;
    try {
      const loaded = loadContext(this.settings);
      this.context = loaded.context;
      this.options = loaded.options;
      this.stamps = loaded.stamps;
      this.lastReloadError = '';
      return true;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (message !== this.lastReloadError) {
        this.lastReloadError = message;
        this.onReloadError(message);
      }
      return false;
    }
  }

  /** The current context: the files as they are now, or the last good ones. */
  secureContext(): tls.SecureContext {
    this.refresh();
    return this.context;
  }

  /** What {@link secureContext} was made from, for a `tls.Server`'s `setSecureContext`. */
  contextOptions(): tls.SecureContextOptions {
    return this.options;
  }

  /** Options for a TLS server that accepts this side's connections. */
  serverOptions(): tls.TlsOptions {
    return {
      ...this.options,
      requestCert: this.settings.clientCertAuth,
      rejectUnauthorized: this.settings.clientCertAuth,
      ALPNProtocols: alpnProtocols,
    };
  }

  /**
   * Options for dialling `host` as a TLS client (a member calling a peer): this member's
   * certificate goes along; the server's is checked against the trusted CA when one is given.
   */
  clientOptions(host: string): tls.ConnectionOptions {
    return {
      secureContext: this.secureContext(),
      rejectUnauthorized:
        this.settings.trustedCaFile !== undefined || this.settings.trustStore !== undefined,
      ALPNProtocols: alpnProtocols,
      ...(isIp(host) ? {} : {servername: host}),
    };
  }

  /**
   * Why a connection whose handshake passed is still refused (a certificate outside the
   * allowed Common Name or host name), or undefined to accept it.
   */
  refusal(socket: tls.TLSSocket): string | undefined {
    const {allowedCn, allowedHostname} = this.settings;
    if (allowedCn === undefined && allowedHostname === undefined) return undefined;
    const cert = socket.getPeerCertificate();
    if (Object.keys(cert).length === 0) return 'no certificate was presented';
    const cn = commonNameOf(cert);
    if (allowedCn !== undefined && cn !== allowedCn) {
      return `certificate CN ${JSON.stringify(cn)} is not the allowed CN ${JSON.stringify(allowedCn)}`;
    }
    if (allowedHostname !== undefined) {
      const mismatch = tls.checkServerIdentity(allowedHostname, cert);
      if (mismatch !== undefined) {
        return `certificate is not valid for the allowed host name ${allowedHostname}`;
      }
    }
    return undefined;
  }
}

/** The Common Name of a verified peer certificate, or '' when it has none. */
export function commonNameOf(cert: tls.PeerCertificate): string {
  const cn: string | string[] | undefined = cert.subject.CN;
  if (cn === undefined) return '';
  return Array.isArray(cn) ? (cn[0] ?? '') : cn;
}

function isIp(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':');
}

function filesOf(s: TlsSettings): [string, string][] {
  const files: [string, string][] = [];
  if (s.keyStore !== undefined) files.push([KEYSTORE_FLAG, s.keyStore.file]);
  if (s.trustStore !== undefined) files.push([TRUSTSTORE_FLAG, s.trustStore.file]);
  if (s.certFile !== undefined) files.push([tlsFlag(s.side, 'cert'), s.certFile]);
  if (s.keyFile !== undefined) files.push([tlsFlag(s.side, 'key'), s.keyFile]);
  if (s.trustedCaFile !== undefined) files.push([tlsFlag(s.side, 'ca'), s.trustedCaFile]);
  if (s.crlFile !== undefined) files.push([tlsFlag(s.side, 'crl'), s.crlFile]);
  return files;
}

function stampsOf(s: TlsSettings): FileStamp[] {
  return filesOf(s).map(([, path]) => {
    try {
      const st = statSync(path);
      return {path, stamp: `${st.ino}:${st.size}:${st.mtimeMs}`};
    } catch {
      return {path, stamp: 'missing'};
    }
  });
}

function sameStamps(a: readonly FileStamp[], b: readonly FileStamp[]): boolean {
  return a.length === b.length && a.every((x, i) => x.stamp === b[i]?.stamp);
}

function describeReadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT'
    ? 'no such file'
    : code === 'EACCES'
      ? 'permission denied'
      : code === 'EISDIR'
        ? 'is a directory'
        : String(error);
}

function readPem(flag: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(flag, `cannot read ${path}: ${describeReadError(error)}`);
  }
  if (!text.includes('-----BEGIN ')) throw new ConfigError(flag, `${path} is not a PEM file`);
  return text;
}

function certificatesIn(flag: string, path: string, pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(flag, `${path} holds no PEM certificate`);
  return blocks.map(block => {
    try {
      return new X509Certificate(block);
    } catch {
      throw new ConfigError(flag, `${path} holds a certificate that cannot be parsed`);
    }
  });
}

interface Loaded {
  readonly context: tls.SecureContext;
  readonly options: tls.SecureContextOptions;
  readonly stamps: readonly FileStamp[];
}

/** The flags of key and trust stores (only the ZooKeeper port takes them). */
const KEYSTORE_FLAG = 'zk-keystore-file';
const TRUSTSTORE_FLAG = 'zk-truststore-file';

/**
 * Reads a key or trust store with `read`; whatever is wrong with it becomes one line naming
 * the flag, the file, its type and, for a password that does not open it, the password flag.
 */
function readStore<T>(
  flag: typeof KEYSTORE_FLAG | typeof TRUSTSTORE_FLAG,
  store: StoreSettings,
  read: (data: Buffer, store: StoreSettings) => T,
): T {
  let data: Buffer;
  try {
    data = readFileSync(store.file);
  } catch (error) {
    throw new ConfigError(flag, `cannot read ${store.file}: ${describeReadError(error)}`);
  }
  try {
    return read(data, store);
  } catch (error) {
    if (!(error instanceof KeyStoreError)) throw error;
    const passwordFlag = flag.replace(/-file$/, '-password');
    throw new ConfigError(
      flag,
      error.reason === 'password'
        ? `${store.file}: wrong --${passwordFlag} for this ${store.type} store (${error.message})`
        : `${store.file} (${store.type}): ${error.message}`,
    );
  }
}

/** This member's key and certificate: from PEM files, or from a key store. */
function ownIdentity(s: TlsSettings): {cert: string; key: string} {
  if (s.keyStore !== undefined) return readStore(KEYSTORE_FLAG, s.keyStore, readKeyStore);
  const certFlag = tlsFlag(s.side, 'cert');
  const keyFlag = tlsFlag(s.side, 'key');
  if (s.certFile === undefined || s.keyFile === undefined) {
    const missing = s.certFile === undefined ? certFlag : keyFlag;
    const store = s.side === 'zk' ? ` (or a key store, --${KEYSTORE_FLAG})` : '';
    throw new ConfigError(missing, `TLS needs both --${certFlag} and --${keyFlag}${store}`);
  }
  const certPem = readPem(certFlag, s.certFile);
  const [leaf] = certificatesIn(certFlag, s.certFile, certPem);
  const keyPem = readPem(keyFlag, s.keyFile);
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new ConfigError(keyFlag, `${s.keyFile} holds no PEM private key that can be read`);
  }
  if (leaf === undefined || !leaf.checkPrivateKey(key)) {
    throw new ConfigError(keyFlag, `${s.keyFile} does not match the certificate in ${s.certFile}`);
  }
  return {cert: certPem, key: keyPem};
}

function loadContext(s: TlsSettings): Loaded {
  const stamps = stampsOf(s);
  const certFlag = s.keyStore === undefined ? tlsFlag(s.side, 'cert') : KEYSTORE_FLAG;
  const identity = ownIdentity(s);
  const caFlag = tlsFlag(s.side, 'ca');
  let caPem: string | string[] | undefined =
    s.trustedCaFile === undefined ? undefined : readPem(caFlag, s.trustedCaFile);
  if (caPem !== undefined && s.trustedCaFile !== undefined) {
    certificatesIn(caFlag, s.trustedCaFile, caPem);
  }
  if (s.trustStore !== undefined) caPem = readStore(TRUSTSTORE_FLAG, s.trustStore, readTrustStore);
  const crlFlag = tlsFlag(s.side, 'crl');
  const crlPem = s.crlFile === undefined ? undefined : readPem(crlFlag, s.crlFile);
  const base = {
    ...identity,
    minVersion: s.minVersion,
    maxVersion: s.maxVersion,
    ...(s.cipherSuites.length > 0 ? {ciphers: s.cipherSuites.join(':')} : {}),
  };
  const withCa: tls.SecureContextOptions = {...base, ...(caPem === undefined ? {} : {ca: caPem})};
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext(withCa);
  } catch (error) {
    throw new ConfigError(
      certFlag,
      `${s.keyStore?.file ?? s.certFile}: ${(error as Error).message}`,
    );
  }
  if (crlPem === undefined) return {context, options: withCa, stamps};
  const options = {...withCa, crl: crlPem};
  try {
    context = tls.createSecureContext(options);
  } catch {
    throw new ConfigError(crlFlag, `${s.crlFile ?? ''} holds no PEM revocation list`);
  }
  return {context, options, stamps};
}
