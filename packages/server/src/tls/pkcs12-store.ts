import {
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  pbkdf2Sync,
  timingSafeEqual,
} from 'node:crypto';
import type {KeyObject} from 'node:crypto';

import {Der, DerError, DerTag} from './der.js';
import type {DerElement} from './der.js';
import {KeyStoreError} from './key-store-error.js';
import {rc2CbcDecrypt} from './rc2.js';

/** A private key of a PKCS#12 store, with the attributes that tie it to its certificate. */
export interface Pkcs12Key {
  readonly key: KeyObject;
  readonly localKeyId: Buffer | undefined;
  readonly friendlyName: string | undefined;
}

/** A certificate of a PKCS#12 store (DER), with its bag's attributes. */
export interface Pkcs12Certificate {
  readonly der: Buffer;
  readonly localKeyId: Buffer | undefined;
  readonly friendlyName: string | undefined;
  /**
   * Whether the bag carries the JDK's trusted-key-usage attribute, which `keytool -importcert`
   * writes (`openssl pkcs12 -export -jdktrust` too): only such certificates are trust anchors
   * to Java, and so to ZooKeeper's trust managers.
   */
  readonly trusted: boolean;
}

export interface Pkcs12Contents {
  readonly keys: readonly Pkcs12Key[];
  readonly certificates: readonly Pkcs12Certificate[];
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  encryptedData: '1.2.840.113549.1.7.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  jdkTrustedKeyUsage: '2.16.840.1.113894.746875.1.1',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
} as const;

/** Digests by OID: MAC digests, and PBKDF2's HMAC PRFs. */
const digests: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const prfs: Readonly<Record<string, string>> = {
  '1.2.840.113549.2.7': 'sha1',
  '1.2.840.113549.2.8': 'sha224',
  '1.2.840.113549.2.9': 'sha256',
  '1.2.840.113549.2.10': 'sha384',
  '1.2.840.113549.2.11': 'sha512',
};
/** PBES2 ciphers by OID: Node's name and key length. */
const pbes2Ciphers: Readonly<Record<string, {name: string; keyBytes: number}>> = {
  '2.16.840.1.101.3.4.1.2': {name: 'aes-128-cbc', keyBytes: 16},
  '2.16.840.1.101.3.4.1.22': {name: 'aes-192-cbc', keyBytes: 24},
  '2.16.840.1.101.3.4.1.42': {name: 'aes-256-cbc', keyBytes: 32},
  '1.2.840.113549.3.7': {name: 'des-ede3-cbc', keyBytes: 24},
};
/** PKCS#12's own password-based schemes (RFC 7292 appendix C), all over SHA-1. */
const pkcs12Pbes: Readonly<Record<string, {name: string; keyBytes: number}>> = {
  '1.2.840.113549.1.12.1.3': {name: 'des-ede3-cbc', keyBytes: 24},
  '1.2.840.113549.1.12.1.4': {name: 'des-ede-cbc', keyBytes: 16},
  '1.2.840.113549.1.12.1.5': {name: 'rc2-cbc', keyBytes: 16},
  '1.2.840.113549.1.12.1.6': {name: 'rc2-cbc', keyBytes: 5},
};

/** SHA-384 and SHA-512 hash 128-byte blocks; the others 64. */
function blockBytes(hash: string): number {
  return hash === 'sha384' || hash === 'sha512' ? 128 : 64;
}

/** The password as PKCS#12's KDF takes it: UTF-16BE with a two-byte terminator. */
function bmpPassword(password: string): Buffer {
  const le = Buffer.from(`${password}\u0000`, 'utf16le');
  return le.swap16();
}

/**
 * PKCS#12's key derivation (RFC 7292 appendix B.2): `id` 1 makes a cipher key, 2 an IV, 3 a
 * MAC key.
 */
export function pkcs12Kdf(
  hash: string,
  password: Buffer,
  salt: Buffer,
  id: 1 | 2 | 3,
  iterations: number,
  bytes: number,
): Buffer {
  const v = blockBytes(hash);
  const stretch = (b: Buffer): Buffer => {
    const out = Buffer.alloc(v * Math.ceil(b.length / v));
    for (let i = 0; i < out.length; i++) out[i] = b[i % b.length] ?? 0;
    return out;
  };
  const d = Buffer.alloc(v, id);
  const input = Buffer.concat([stretch(salt), stretch(password)]);
  const out: Buffer[] = [];
  for (let produced = 0; ; ) {
    let a = createHash(hash).update(d).update(input).digest();
    for (let r = 1; r < iterations; r++) a = createHash(hash).update(a).digest();
    out.push(a);
    produced += a.length;
    if (produced >= bytes) break;
    const b = stretch(a).subarray(0, v);
    // Each v-byte block of the input becomes (block + b + 1) mod 2^(8v).
    for (let j = 0; j < input.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = (input[j + k] ?? 0) + (b[k] ?? 0) + carry;
        input[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, bytes);
}

function algorithm(e: DerElement | undefined, what: string): {oid: string; params?: DerElement} {
  const [oid, params] = Der.children(Der.expect(e, DerTag.sequence, what));
  return {oid: Der.oid(oid, what), ...(params === undefined ? {} : {params})};
}

function decipher(name: string, key: Buffer, iv: Buffer, data: Buffer): Buffer {
  if (name === 'rc2-cbc') return rc2CbcDecrypt(key, key.length * 8, iv, data);
  const d = createDecipheriv(name, key, iv);
  return Buffer.concat([d.update(data), d.final()]);
}

/**
 * Decrypts `data` under the password-based scheme `alg` (PBES2 with PBKDF2, or one of
 * PKCS#12's PBE schemes). A failed padding check means the password is wrong.
 */
function decrypt(
  alg: {oid: string; params?: DerElement},
  data: Buffer,
  password: string,
  what: string,
): Buffer {
  let name: string;
  let key: Buffer;
  let iv: Buffer;
  if (alg.oid === OID.pbes2) {
    const [kdf, scheme] = Der.children(Der.expect(alg.params, DerTag.sequence, what));
    const k = algorithm(kdf, `${what}: key derivation`);
    if (k.oid !== OID.pbkdf2) {
      throw new KeyStoreError('unsupported', `${what}: key derivation ${k.oid} is not PBKDF2`);
    }
    const [salt, count, ...rest] = Der.children(Der.expect(k.params, DerTag.sequence, what));
    const keyLength = rest.find(r => r.tag === DerTag.integer);
    const prfAlg = rest.find(r => r.tag === DerTag.sequence);
    const prf = prfAlg === undefined ? 'sha1' : prfs[algorithm(prfAlg, `${what}: PRF`).oid];
    const c = algorithm(scheme, `${what}: cipher`);
    const cipher = pbes2Ciphers[c.oid];
    if (prf === undefined || cipher === undefined) {
      throw new KeyStoreError(
        'unsupported',
        `${what}: PBES2 with cipher ${c.oid} is not supported`,
      );
    }
    name = cipher.name;
    const keyBytes = keyLength === undefined ? cipher.keyBytes : Der.int(keyLength, what);
    const iterations = Der.int(count, `${what}: iterations`);
    key = pbkdf2Sync(
      Buffer.from(password, 'utf8'),
      Der.octets(salt, what),
      iterations,
      keyBytes,
      prf,
    );
    iv = Der.octets(c.params, `${what}: IV`);
  } else {
    const scheme = pkcs12Pbes[alg.oid];
    if (scheme === undefined) {
      throw new KeyStoreError('unsupported', `${what}: encryption ${alg.oid} is not supported`);
    }
    const [salt, count] = Der.children(Der.expect(alg.params, DerTag.sequence, what));
    const s = Der.octets(salt, what);
    const iterations = Der.int(count, `${what}: iterations`);
    const pw = bmpPassword(password);
    name = scheme.name;
    key = pkcs12Kdf('sha1', pw, s, 1, iterations, scheme.keyBytes);
    iv = pkcs12Kdf('sha1', pw, s, 2, iterations, 8);
  }
  try {
    return decipher(name, key, iv, data);
  } catch {
    throw new KeyStoreError('password', `${what} does not decrypt: the password is wrong`);
  }
}

function attributes(set: DerElement | undefined): {
  localKeyId?: Buffer;
  friendlyName?: string;
  trusted: boolean;
} {
  const out: {localKeyId?: Buffer; friendlyName?: string; trusted: boolean} = {trusted: false};
  if (set === undefined) return out;
  for (const attr of Der.children(Der.expect(set, DerTag.set, 'bag attributes'))) {
    const [type, values] = Der.children(Der.expect(attr, DerTag.sequence, 'bag attribute'));
    const oid = Der.oid(type, 'bag attribute type');
    const [first] = Der.children(Der.expect(values, DerTag.set, 'bag attribute values'));
    if (oid === OID.localKeyId && first !== undefined)
      out.localKeyId = Der.octets(first, 'localKeyId');
    if (oid === OID.friendlyName && first?.tag === DerTag.bmpString) {
      out.friendlyName = Buffer.from(first.content).swap16().toString('utf16le');
    }
    if (oid === OID.jdkTrustedKeyUsage) out.trusted = true;
  }
  return out;
}

interface Collected {
  keys: Pkcs12Key[];
  certificates: Pkcs12Certificate[];
}

function privateKey(pkcs8: Buffer, what: string): KeyObject {
  try {
    return createPrivateKey({key: pkcs8, format: 'der', type: 'pkcs8'});
  } catch {
    throw new KeyStoreError('password', `${what} is no private key: the password is wrong`);
  }
}

function readSafeContents(buf: Buffer, base: number, password: string, into: Collected): void {
  const contents = Der.readAll(buf, DerTag.sequence, 'SafeContents', base);
  for (const bag of Der.children(contents)) {
    const [id, value, attrs] = Der.children(Der.expect(bag, DerTag.sequence, 'SafeBag'));
    const bagId = Der.oid(id, 'SafeBag type');
    const [inner] = Der.children(Der.expect(value, DerTag.context0, 'SafeBag value'));
    const a = attributes(attrs);
    const where = `the bag at offset ${bag.offset}`;
    switch (bagId) {
      case OID.keyBag:
        into.keys.push({
          key: privateKey(Der.expect(inner, DerTag.sequence, where).raw, where),
          localKeyId: a.localKeyId,
          friendlyName: a.friendlyName,
        });
        break;
      case OID.shroudedKeyBag: {
        const [alg, data] = Der.children(Der.expect(inner, DerTag.sequence, where));
        const plain = decrypt(
          algorithm(alg, where),
          Der.octets(data, where),
          password,
          `the key at offset ${bag.offset}`,
        );
        into.keys.push({
          key: privateKey(plain, where),
          localKeyId: a.localKeyId,
          friendlyName: a.friendlyName,
        });
        break;
      }
      case OID.certBag: {
        const [certType, certValue] = Der.children(Der.expect(inner, DerTag.sequence, where));
        if (Der.oid(certType, where) !== OID.x509Certificate) break;
        const [octets] = Der.children(Der.expect(certValue, DerTag.context0, where));
        into.certificates.push({
          der: Buffer.from(Der.octets(octets, where)),
          localKeyId: a.localKeyId,
          friendlyName: a.friendlyName,
          trusted: a.trusted,
        });
        break;
      }
      case OID.safeContentsBag:
        readSafeContents(
          Der.expect(inner, DerTag.sequence, where).raw,
          inner?.offset ?? 0,
          password,
          into,
        );
        break;
      default:
        // CRL and secret bags hold nothing a TLS port uses.
        break;
    }
  }
}

function verifyMac(macData: DerElement, authSafe: Buffer, password: string): void {
  const [mac, macSalt, iterations] = Der.children(Der.expect(macData, DerTag.sequence, 'MacData'));
  const [digestAlg, digest] = Der.children(Der.expect(mac, DerTag.sequence, 'MAC'));
  const hash = digests[algorithm(digestAlg, 'MAC digest').oid];
  if (hash === undefined) {
    throw new KeyStoreError(
      'unsupported',
      `its MAC digest ${algorithm(digestAlg, 'MAC').oid} is not supported`,
    );
  }
  const expected = Der.octets(digest, 'MAC');
  const salt = Der.octets(macSalt, 'MAC salt');
  const rounds = iterations === undefined ? 1 : Der.int(iterations, 'MAC iterations');
  const macOf = (pw: Buffer): Buffer => {
    const key = pkcs12Kdf(hash, pw, salt, 3, rounds, createHash(hash).digest().length);
    return createHmac(hash, key).update(authSafe).digest();
  };
  // An empty password is written either as the empty BMPString's terminator or as nothing.
  const candidates = password === '' ? [bmpPassword(''), Buffer.alloc(0)] : [bmpPassword(password)];
  const ok = candidates.some(pw => {
    const got = macOf(pw);
    return got.length === expected.length && timingSafeEqual(got, expected);
  });
  if (!ok)
    throw new KeyStoreError(
      'password',
      'its MAC does not match: the password is wrong, or the file was altered',
    );
}

/**
 * Reads a PKCS#12 store (RFC 7292) as keytool and openssl write them: the MAC checked when
 * there is one, the bags of plain and password-encrypted contents (PBES2 with PBKDF2 and AES or
 * 3DES, or PKCS#12's SHA-1 schemes with 3DES or RC2) collected, shrouded keys decrypted. Node's
 * own PKCS#12 loader (`tls.createSecureContext({pfx})`) refuses a store without a key, which
 * is what a trust store is.
 *
 * Layout: `PFX { version 3, authSafe ContentInfo(data: AuthenticatedSafe), macData }`, the
 * AuthenticatedSafe a sequence of ContentInfos, each `data` (SafeContents in the clear) or
 * `encryptedData` (SafeContents under a password-based scheme); SafeContents a sequence of
 * bags: keys, shrouded keys, certificates, nested SafeContents.
 */
export function readPkcs12Store(file: Buffer, password: string): Pkcs12Contents {
  try {
    return readPfx(file, password);
  } catch (error) {
    if (error instanceof DerError)
      throw new KeyStoreError('format', `not a PKCS#12 store: ${error.message}`);
    throw error;
  }
}

function readPfx(file: Buffer, password: string): Pkcs12Contents {
  const pfx = Der.readAll(file, DerTag.sequence, 'PFX');
  const [version, authSafe, macData] = Der.children(pfx);
  if (Der.int(version, 'PFX version') !== 3) {
    throw new KeyStoreError('format', 'not a PKCS#12 store: its version is not 3');
  }
  const [contentType, content] = Der.children(Der.expect(authSafe, DerTag.sequence, 'authSafe'));
  if (Der.oid(contentType, 'authSafe type') !== OID.data) {
    throw new KeyStoreError(
      'unsupported',
      'its contents are signed with a public key, not protected by a password',
    );
  }
  const [octets] = Der.children(Der.expect(content, DerTag.context0, 'authSafe content'));
  const safe = Der.octets(octets, 'authSafe content');
  if (macData !== undefined) verifyMac(macData, safe, password);
  const safeBase =
    octets?.tag === DerTag.octetString
      ? octets.offset + octets.raw.length - octets.content.length
      : 0;
  const into: Collected = {keys: [], certificates: []};
  for (const info of Der.children(
    Der.readAll(safe, DerTag.sequence, 'AuthenticatedSafe', safeBase),
  )) {
    const [type, body] = Der.children(Der.expect(info, DerTag.sequence, 'ContentInfo'));
    const oid = Der.oid(type, 'ContentInfo type');
    const [inner] = Der.children(Der.expect(body, DerTag.context0, 'ContentInfo content'));
    if (oid === OID.data) {
      const data = Der.octets(inner, 'SafeContents');
      readSafeContents(
        data,
        inner === undefined ? 0 : inner.offset + inner.raw.length - inner.content.length,
        password,
        into,
      );
    } else if (oid === OID.encryptedData) {
      const [, encryptedContentInfo] = Der.children(
        Der.expect(inner, DerTag.sequence, 'EncryptedData'),
      );
      const [, alg, encrypted] = Der.children(
        Der.expect(encryptedContentInfo, DerTag.sequence, 'EncryptedContentInfo'),
      );
      if (encrypted === undefined) continue;
      const data =
        encrypted.tag === DerTag.context0Primitive
          ? encrypted.content
          : Buffer.concat(
              Der.children(Der.expect(encrypted, DerTag.context0, 'encrypted content')).map(p =>
                Der.octets(p, 'encrypted content'),
              ),
            );
      const plain = decrypt(
        algorithm(alg, 'encrypted contents'),
        data,
        password,
        `the encrypted contents at offset ${info.offset}`,
      );
      try {
        readSafeContents(plain, 0, password, into);
      } catch (error) {
        // Garbage that decrypted with valid padding: a wrong password more often than not.
        if (error instanceof DerError && macData === undefined) {
          throw new KeyStoreError(
            'password',
            `the encrypted contents at offset ${info.offset} do not decrypt: the password is wrong`,
          );
        }
        throw error;
      }
    } else {
      throw new KeyStoreError(
        'unsupported',
        `contents of type ${oid} (at offset ${info.offset}) are not supported`,
      );
    }
  }
  return into;
}
