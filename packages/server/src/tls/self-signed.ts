import {createHash, generateKeyPairSync, randomBytes, sign} from 'node:crypto';
import {existsSync, mkdirSync, writeFileSync} from 'node:fs';
import {isIP} from 'node:net';
import {dirname} from 'node:path';

import type {TlsSettings} from './tls-settings.js';

/**
 * For a side on auto-TLS: makes its self-signed certificate and key in the data directory
 * unless both files are there from an earlier start (etcd keeps them the same way).
 */
export function ensureSelfSignedFiles(settings: TlsSettings): void {
  const {selfSigned, certFile, keyFile} = settings;
  if (selfSigned === undefined || certFile === undefined || keyFile === undefined) return;
  if (existsSync(certFile) && existsSync(keyFile)) return;
  const made = makeSelfSignedCertificate(selfSigned.hosts, selfSigned.validityYears);
  mkdirSync(dirname(certFile), {recursive: true, mode: 0o700});
  writeFileSync(keyFile, made.keyPem, {mode: 0o600});
  writeFileSync(certFile, made.certPem, {mode: 0o644});
}

/**
 * A self-signed certificate for `--auto-tls` and `--peer-auto-tls`, as etcd makes one: an
 * ECDSA P-256 key, organisation "etcd", valid for the listen URLs' hosts from now for the
 * given number of years, for server and client use.
 *
 * The certificate is written in DER by hand (X.509, RFC 5280): Node can sign but has no
 * API that issues certificates, and this one needs only a few fixed fields.
 */
export interface SelfSignedCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

/** Makes a certificate for `hosts` (IP addresses or DNS names). */
export function makeSelfSignedCertificate(
  hosts: readonly string[],
  validityYears: number,
  now: Date = new Date(),
): SelfSignedCertificate {
  const {privateKey, publicKey} = generateKeyPairSync('ec', {namedCurve: 'P-256'});
  const spki = publicKey.export({type: 'spki', format: 'der'});
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + validityYears);
  const name = seq(set(seq(oid('2.5.4.10'), utf8('etcd'))));
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const names = hosts.map(host =>
    isIP(host) === 0 ? tagged(0x82, Buffer.from(host, 'ascii')) : tagged(0x87, ipBytes(host)),
  );
  const extensions = [
    // keyUsage: digitalSignature, keyEncipherment (critical)
    seq(oid('2.5.29.15'), bool(true), octets(bitString(Buffer.from([0xa0]), 5))),
    // extKeyUsage: serverAuth, clientAuth
    seq(oid('2.5.29.37'), octets(seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2')))),
    // basicConstraints: not a CA (critical)
    seq(oid('2.5.29.19'), bool(true), octets(seq())),
    // subjectKeyIdentifier
    seq(oid('2.5.29.14'), octets(tagged(0x04, createHash('sha1').update(spki).digest()))),
    ...(names.length > 0 ? [seq(oid('2.5.29.17'), octets(seq(...names)))] : []),
  ];
  const tbs = seq(
    tagged(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    ecdsaWithSha256,
    name,
    seq(time(now), time(notAfter)),
    name,
    spki,
    tagged(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, privateKey);
  const cert = seq(tbs, ecdsaWithSha256, bitString(signature, 0));
  return {
    certPem: toPem('CERTIFICATE', cert),
    keyPem: privateKey.export({type: 'pkcs8', format: 'pem'}).toString(),
  };
}

function ipBytes(host: string): Buffer {
  if (isIP(host) === 4) return Buffer.from(host.split('.').map(Number));
  // IPv6: expand '::' and write eight 16-bit groups.
  const [head = '', tail = ''] = host.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = host.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), 2 * i));
  return out;
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tagged(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), length(content.length), content]);
}

function seq(...items: Buffer[]): Buffer {
  return tagged(0x30, Buffer.concat(items));
}

function set(...items: Buffer[]): Buffer {
  return tagged(0x31, Buffer.concat(items));
}

function octets(content: Buffer): Buffer {
  return tagged(0x04, content);
}

function bool(value: boolean): Buffer {
  return tagged(0x01, Buffer.from([value ? 0xff : 0]));
}

function utf8(text: string): Buffer {
  return tagged(0x0c, Buffer.from(text, 'utf8'));
}

function integer(bytes: Buffer): Buffer {
  // DER's INTEGER is minimal: no leading zero byte before one whose top bit is clear (OpenSSL
  // refuses a certificate whose random serial began 00 0x), and one before a top bit that is
  // set, so the number stays positive.
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0 && ((bytes[start + 1] ?? 0) & 0x80) === 0) {
    start++;
  }
  const trimmed = bytes.subarray(start);
  const body = (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
  return tagged(0x02, body);
}

function bitString(bytes: Buffer, unusedBits: number): Buffer {
  return tagged(0x03, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out: number[] = [40 * (parts[0] ?? 0) + (parts[1] ?? 0)];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [];
    let v = part;
    do {
      chunk.unshift((v & 0x7f) | (chunk.length === 0 ? 0 : 0x80));
      v = Math.floor(v / 128);
    } while (v > 0);
    out.push(...chunk);
  }
  return tagged(0x06, Buffer.from(out));
}

/** UTCTime up to 2049, GeneralizedTime after, as RFC 5280 requires. */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const year = date.getUTCFullYear();
  return year < 2050
    ? tagged(0x17, Buffer.from(`${iso.slice(2)}Z`, 'ascii'))
    : tagged(0x18, Buffer.from(`${iso}Z`, 'ascii'));
}
