import {createHash, createPrivateKey, timingSafeEqual} from 'node:crypto';
import type {KeyObject} from 'node:crypto';

import {Der, DerError, DerTag} from './der.js';
import {KeyStoreError} from './key-store-error.js';

/** A private key entry of a JKS store: the key and its certificate chain (DER), leaf first. */
export interface JksKeyEntry {
  readonly alias: string;
  readonly key: KeyObject;
  readonly chain: readonly Buffer[];
}

/** A trusted certificate entry of a JKS store (DER). */
export interface JksTrustedEntry {
  readonly alias: string;
  readonly certificate: Buffer;
}

export interface JksContents {
  readonly keys: readonly JksKeyEntry[];
  readonly trusted: readonly JksTrustedEntry[];
}

const MAGIC = 0xfeedfeed;
const PRIVATE_KEY_ENTRY = 1;
const TRUSTED_CERT_ENTRY = 2;
/** Sun's `KeyProtector` algorithm, the one JKS private keys are sealed with. */
const KEY_PROTECTOR_OID = '1.3.6.1.4.1.42.2.17.1.1';
const SHA1_BYTES = 20;

/** The password as JKS hashes it: each UTF-16 code unit as two bytes, high byte first. */
function passwordBytes(password: string): Buffer {
  return Buffer.from(password, 'utf16le').swap16();
}

/** Reads the big-endian fields of a JKS file, naming the offset of whatever runs short. */
class JksReader {
  at = 0;
  constructor(private readonly buf: Buffer) {}

  private need(bytes: number, what: string): void {
    if (this.at + bytes > this.buf.length) {
      throw new KeyStoreError(
        'format',
        `truncated at offset ${this.at}: ${what} needs ${bytes} bytes, ${this.buf.length - this.at} are left`,
      );
    }
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64BE(this.at);
    this.at += 8;
    return v;
  }

  bytes(length: number, what: string): Buffer {
    this.need(length, what);
    const v = this.buf.subarray(this.at, this.at + length);
    this.at += length;
    return v;
  }

  /** Java's `DataOutput.writeUTF`: a 16-bit length, then modified UTF-8. */
  utf(what: string): string {
    this.need(2, what);
    const length = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return this.bytes(length, what).toString('utf8');
  }
}

/**
 * Sun's `KeyProtector.recover`: the sealed key is `salt (20) || key XOR stream || check (20)`,
 * the stream being SHA-1 over the password and the previous block, starting from the salt; the
 * check is SHA-1 over the password and the plain key. A wrong password fails the check.
 */
function recoverKey(sealed: Buffer, password: Buffer, where: string): Buffer {
  if (sealed.length <= 2 * SHA1_BYTES) {
    throw new KeyStoreError('format', `the key at ${where} is too short to be a sealed key`);
  }
  const salt = sealed.subarray(0, SHA1_BYTES);
  const encrypted = sealed.subarray(SHA1_BYTES, sealed.length - SHA1_BYTES);
  const check = sealed.subarray(sealed.length - SHA1_BYTES);
  const plain = Buffer.alloc(encrypted.length);
  let block: Buffer = salt;
  for (let at = 0; at < encrypted.length; at += SHA1_BYTES) {
    block = createHash('sha1').update(password).update(block).digest();
    for (let i = 0; i < SHA1_BYTES && at + i < encrypted.length; i++) {
      plain[at + i] = (encrypted[at + i] ?? 0) ^ (block[i] ?? 0);
    }
  }
  const got = createHash('sha1').update(password).update(plain).digest();
  if (!timingSafeEqual(got, check)) {
    throw new KeyStoreError(
      'password',
      `the key at ${where} cannot be recovered: the password is wrong`,
    );
  }
  return plain;
}

/** The PKCS#8 key inside a JKS private key entry (an EncryptedPrivateKeyInfo). */
function openKey(encoded: Buffer, password: Buffer, where: string): KeyObject {
  let sealed: Buffer;
  try {
    const info = Der.readAll(encoded, DerTag.sequence, `the key at ${where}`);
    const [alg, data] = Der.children(info);
    const [oid] = Der.children(Der.expect(alg, DerTag.sequence, `the key's algorithm at ${where}`));
    const algorithm = Der.oid(oid, `the key's algorithm at ${where}`);
    if (algorithm !== KEY_PROTECTOR_OID) {
      throw new KeyStoreError(
        'unsupported',
        `the key at ${where} is sealed with ${algorithm}, not JKS's key protector`,
      );
    }
    sealed = Der.octets(data, `the sealed key at ${where}`);
  } catch (error) {
    if (error instanceof DerError) throw new KeyStoreError('format', error.message);
    throw error;
  }
  const pkcs8 = recoverKey(sealed, password, where);
  try {
    return createPrivateKey({key: pkcs8, format: 'der', type: 'pkcs8'});
  } catch {
    throw new KeyStoreError('format', `the key at ${where} is no PKCS#8 private key`);
  }
}

/**
 * Reads a JKS key store, the JDK's own format (what `keytool -storetype JKS` writes):
 *
 * ```
 * u32 magic 0xFEEDFEED, u32 version (1 or 2), u32 entry count, then per entry:
 *   u32 tag (1 private key, 2 trusted certificate), UTF alias, u64 date (ms)
 *   tag 1: u32 length + EncryptedPrivateKeyInfo (sealed by KeyProtector),
 *          u32 chain length, per certificate: [v2: UTF type "X.509"], u32 length + DER
 *   tag 2: [v2: UTF type], u32 length + DER
 * 20 bytes: SHA-1 over password (UTF-16BE) || "Mighty Aphrodite" || everything before it
 * ```
 *
 * The integrity check is made when a password is given and skipped without one, as
 * `KeyStore.load(stream, null)` skips it; a key's own password is the store's (ZooKeeper opens
 * both with `ssl.keyStore.password`). Without a password the private keys are not
 * recovered either: `keys` is then empty.
 */
export function readJksStore(file: Buffer, password: string | undefined): JksContents {
  const r = new JksReader(file);
  const magic = r.u32('the magic number');
  if (magic !== MAGIC) {
    throw new KeyStoreError(
      'format',
      `not a JKS store: it starts with 0x${magic.toString(16).padStart(8, '0')}, not 0xfeedfeed`,
    );
  }
  const version = r.u32('the version');
  if (version !== 1 && version !== 2) {
    throw new KeyStoreError('format', `not a JKS store: version ${version} is neither 1 nor 2`);
  }
  const count = r.u32('the entry count');
  const pw = passwordBytes(password ?? '');
  const keys: JksKeyEntry[] = [];
  const trusted: JksTrustedEntry[] = [];
  const certificate = (where: string): Buffer => {
    if (version === 2) {
      const type = r.utf(`the certificate type at ${where}`);
      if (type !== 'X.509') {
        throw new KeyStoreError('unsupported', `a certificate at ${where} is of type ${type}`);
      }
    }
    return Buffer.from(
      r.bytes(r.u32(`a certificate length at ${where}`), `a certificate at ${where}`),
    );
  };
  const sealedKeys: {alias: string; encoded: Buffer; chain: Buffer[]; where: string}[] = [];
  for (let i = 0; i < count; i++) {
    const where = `offset ${r.at}`;
    const tag = r.u32(`entry ${i}'s tag`);
    const alias = r.utf(`entry ${i}'s alias`);
    r.u64(`entry ${i}'s date`);
    if (tag === PRIVATE_KEY_ENTRY) {
      const encoded = Buffer.from(
        r.bytes(r.u32(`the key length at ${where}`), `the key at ${where}`),
      );
      const chainLength = r.u32(`the chain length at ${where}`);
      const chain: Buffer[] = [];
      for (let c = 0; c < chainLength; c++) chain.push(certificate(where));
      sealedKeys.push({alias, encoded, chain, where: `${where} (alias ${alias})`});
    } else if (tag === TRUSTED_CERT_ENTRY) {
      trusted.push({alias, certificate: certificate(where)});
    } else {
      throw new KeyStoreError('format', `entry ${i} at ${where} has tag ${tag}, neither 1 nor 2`);
    }
  }
  const signed = file.subarray(0, r.at);
  const digest = r.bytes(SHA1_BYTES, 'the integrity check');
  if (r.at !== file.length) {
    throw new KeyStoreError('format', `${file.length - r.at} bytes follow the integrity check`);
  }
  if (password !== undefined) {
    const expected = createHash('sha1')
      .update(pw)
      .update('Mighty Aphrodite', 'utf8')
      .update(signed)
      .digest();
    if (!timingSafeEqual(expected, digest)) {
      throw new KeyStoreError(
        'password',
        'its integrity check fails: the password is wrong, or the file was altered',
      );
    }
  }
  // Without a password the keys stay sealed: a trust store needs none of them.
  for (const k of password === undefined ? [] : sealedKeys) {
    keys.push({alias: k.alias, key: openKey(k.encoded, pw, k.where), chain: k.chain});
  }
  return {keys, trusted};
}
