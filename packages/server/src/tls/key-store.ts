import {X509Certificate, createPrivateKey} from 'node:crypto';
import type {KeyObject} from 'node:crypto';
import {extname} from 'node:path';

import {readJksStore} from './jks-store.js';
import {KeyStoreError} from './key-store-error.js';
import {readPkcs12Store} from './pkcs12-store.js';

/** The store types ZooKeeper's `ssl.keyStore.type` and `ssl.trustStore.type` take (but BCFKS). */
export type StoreType = 'JKS' | 'PKCS12' | 'PEM';

/** A key or trust store as its flags give it. */
export interface StoreSettings {
  readonly file: string;
  /** Undefined when no password was given (a JKS trust store is then read unchecked). */
  readonly password: string | undefined;
  readonly type: StoreType;
}

/**
 * ZooKeeper's `KeyStoreFileType.fromPropertyValueOrFileName`: the type given (any case), or
 * else the one the file name ends in (`.jks`, `.pem`, `.p12` or `.pfx`). Returns the reason
 * as a string when neither tells.
 */
export function storeTypeOf(given: string | undefined, file: string): StoreType | {error: string} {
  if (given !== undefined && given !== '') {
    const type = given.toUpperCase();
    if (type === 'JKS' || type === 'PEM' || type === 'PKCS12') return type;
    if (type === 'BCFKS') return {error: 'BCFKS (Bouncy Castle) stores are not supported'};
    return {error: `${given}: expected JKS, PKCS12 or PEM`};
  }
  switch (extname(file).toLowerCase()) {
    case '.jks':
      return 'JKS';
    case '.pem':
      return 'PEM';
    case '.p12':
    case '.pfx':
      return 'PKCS12';
    default:
      return {
        error: `the type of ${file} cannot be told from its name (.jks, .p12, .pfx or .pem): give it`,
      };
  }
}

/** What the first bytes of a file say it is, for a message when the type given is wrong. */
function sniff(data: Buffer): string | undefined {
  if (data.length >= 4 && data.readUInt32BE(0) === 0xfeedfeed) return 'a JKS store';
  if (data.length >= 4 && data.readUInt32BE(0) === 0xcececece) return 'a JCEKS store';
  if (data.subarray(0, 4096).toString('latin1').includes('-----BEGIN ')) return 'a PEM file';
  if (data[0] === 0x30) return 'a DER file (a PKCS#12 store, or a single certificate or key)';
  return undefined;
}

const typeOfSniffed: Readonly<Record<string, StoreType>> = {
  'a JKS store': 'JKS',
  'a PEM file': 'PEM',
  'a DER file (a PKCS#12 store, or a single certificate or key)': 'PKCS12',
};

function mismatch(data: Buffer, type: StoreType, reason: string): KeyStoreError {
  const seen = sniff(data);
  const hint = seen === undefined ? '' : ` (it looks like ${seen}`;
  const suggest =
    seen !== undefined && typeOfSniffed[seen] !== undefined && typeOfSniffed[seen] !== type
      ? `; its type would be ${typeOfSniffed[seen]})`
      : seen === undefined
        ? ''
        : ')';
  return new KeyStoreError('format', `not a ${type} store${hint}${suggest}: ${reason}`);
}

function pemBlocks(text: string, label: RegExp): string[] {
  const out: string[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;
  for (const m of text.matchAll(re)) if (label.test(m[1] ?? '')) out.push(m[0]);
  return out;
}

function parseCertificate(encoded: Buffer, where: string): X509Certificate {
  try {
    return new X509Certificate(encoded);
  } catch {
    throw new KeyStoreError('format', `${where} is no X.509 certificate`);
  }
}

function certificatePem(encoded: Buffer, where: string): string {
  return parseCertificate(encoded, where).toString();
}

/** Orders certificates from `leaf` up to its root, as far as `pool` holds the issuers. */
function chainFrom(leaf: X509Certificate, pool: readonly X509Certificate[]): X509Certificate[] {
  const chain = [leaf];
  for (let current = leaf; chain.length <= pool.length; ) {
    if (current.checkIssued(current)) break;
    const issuer = pool.find(c => !chain.includes(c) && current.checkIssued(c));
    if (issuer === undefined) break;
    chain.push(issuer);
    current = issuer;
  }
  return chain;
}

/**
 * Which binary format a store given as JKS or PKCS12 is in. The JDK (9 and later, with its
 * default `keystore.type.compat=true`) opens either format under either type, and ZooKeeper
 * opens its stores through the JDK, so Synod goes by the content too; a PEM file or anything
 * else under those types is refused, as Java refuses it ("Invalid keystore format").
 */
function binaryFormat(data: Buffer, type: StoreType): 'JKS' | 'PKCS12' {
  if (data.length >= 4 && data.readUInt32BE(0) === 0xfeedfeed) return 'JKS';
  if (data[0] === 0x30) return 'PKCS12';
  throw mismatch(data, type, 'neither the JKS magic 0xfeedfeed nor DER');
}

/** This member's key and certificate chain (leaf first), as PEM. */
export interface KeyStoreIdentity {
  readonly key: string;
  readonly cert: string;
}

function identity(
  key: KeyObject,
  chain: readonly X509Certificate[],
  where: string,
): KeyStoreIdentity {
  const [leaf] = chain;
  if (leaf === undefined) throw new KeyStoreError('format', `${where} has no certificate`);
  if (!leaf.checkPrivateKey(key)) {
    throw new KeyStoreError('format', `${where}: the key does not match its certificate`);
  }
  return {
    key: key.export({format: 'pem', type: 'pkcs8'}).toString(),
    cert: chain.map(c => c.toString()).join(''),
  };
}

/**
 * The private key and certificate chain of a key store, as ZooKeeper's key manager takes them
 * from `ssl.keyStore.*`: the first private key entry (JKS, PKCS#12) or the one private key of a
 * PEM file with its certificates. Throws a {@link KeyStoreError}.
 */
export function readKeyStore(data: Buffer, s: StoreSettings): KeyStoreIdentity {
  switch (s.type === 'PEM' ? 'PEM' : binaryFormat(data, s.type)) {
    case 'JKS': {
      const store = readJksStore(data, s.password ?? '');
      const [entry] = store.keys;
      if (entry === undefined) {
        throw new KeyStoreError('format', 'holds no private key entry (only trusted certificates)');
      }
      const chain = entry.chain.map((der, i) =>
        parseCertificate(der, `certificate ${i} of the key entry ${entry.alias}`),
      );
      return identity(entry.key, chain, `the key entry ${entry.alias}`);
    }
    case 'PKCS12': {
      const store = readPkcs12Store(data, s.password ?? '');
      const [entry] = store.keys;
      if (entry === undefined) throw new KeyStoreError('format', 'holds no private key');
      const certs = store.certificates.map((c, i) => ({
        c,
        x: parseCertificate(c.der, `certificate ${i}`),
      }));
      const leaf =
        certs.find(
          ({c}) =>
            entry.localKeyId !== undefined &&
            c.localKeyId !== undefined &&
            c.localKeyId.equals(entry.localKeyId),
        ) ?? certs.find(({x}) => x.checkPrivateKey(entry.key));
      if (leaf === undefined) throw new KeyStoreError('format', 'holds no certificate for its key');
      const chain = chainFrom(
        leaf.x,
        certs.map(({x}) => x),
      );
      return identity(entry.key, chain, 'its key');
    }
    case 'PEM': {
      const text = data.toString('utf8');
      if (!text.includes('-----BEGIN ')) throw mismatch(data, s.type, 'no PEM block in it');
      const keys = pemBlocks(text, /PRIVATE KEY$/);
      const [keyPem] = keys;
      if (keyPem === undefined || keys.length > 1) {
        throw new KeyStoreError('format', `holds ${keys.length} private keys, not one`);
      }
      let key: KeyObject;
      try {
        key = createPrivateKey({
          key: keyPem,
          ...(s.password === undefined ? {} : {passphrase: s.password}),
        });
      } catch (error) {
        const encrypted = keyPem.includes('ENCRYPTED');
        throw new KeyStoreError(
          encrypted ? 'password' : 'format',
          encrypted
            ? `its private key does not decrypt: the password is wrong (${(error as Error).message})`
            : `its private key cannot be read (${(error as Error).message})`,
        );
      }
      const certs = pemBlocks(text, /^CERTIFICATE$/).map((pem, i) =>
        parseCertificate(Buffer.from(pem), `certificate ${i}`),
      );
      const leaf = certs.find(c => c.checkPrivateKey(key));
      if (leaf === undefined) throw new KeyStoreError('format', 'holds no certificate for its key');
      return identity(key, chainFrom(leaf, certs), 'its key');
    }
  }
}

/**
 * The trusted certificates of a trust store, as PEM, as ZooKeeper's trust manager takes them
 * from `ssl.trustStore.*`: JKS trusted certificate entries, PKCS#12 certificates marked trusted
 * for the JDK, or every certificate of a PEM file. A store with none is refused: it would
 * refuse every client.
 */
export function readTrustStore(data: Buffer, s: StoreSettings): string[] {
  let pems: string[];
  switch (s.type === 'PEM' ? 'PEM' : binaryFormat(data, s.type)) {
    case 'JKS':
      pems = readJksStore(data, s.password).trusted.map(t =>
        certificatePem(t.certificate, `the certificate ${t.alias}`),
      );
      break;
    case 'PKCS12': {
      const store = readPkcs12Store(data, s.password ?? '');
      const trusted = store.certificates.filter(c => c.trusted);
      if (trusted.length === 0 && store.certificates.length > 0) {
        throw new KeyStoreError(
          'format',
          "holds certificates but none marked trusted for the JDK, so ZooKeeper's trust manager would trust none: import them with keytool -importcert, or export them with openssl pkcs12 -export -jdktrust anyExtendedKeyUsage",
        );
      }
      pems = trusted.map((c, i) => certificatePem(c.der, `certificate ${i}`));
      break;
    }
    case 'PEM': {
      const text = data.toString('utf8');
      if (!text.includes('-----BEGIN ')) throw mismatch(data, s.type, 'no PEM block in it');
      pems = pemBlocks(text, /^CERTIFICATE$/).map((pem, i) =>
        certificatePem(Buffer.from(pem), `certificate ${i}`),
      );
      break;
    }
  }
  if (pems.length === 0) throw new KeyStoreError('format', 'holds no trusted certificate');
  return pems;
}
