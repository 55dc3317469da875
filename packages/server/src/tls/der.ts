/** Thrown for bytes that are not the DER a key store reader expected. */
export class DerError extends Error {}

/**
 * One DER element: its tag byte, its content, and where it sits in the buffer it was read
 * from (`offset`, the tag's position), so that an error can say where a file went wrong.
 *
 * Worked example: `30 06 02 01 03 04 01 ff` is a SEQUENCE (tag 0x30) of 6 content bytes
 * holding the INTEGER 3 and the one-byte OCTET STRING `ff`; `Der.read(buf)` gives the
 * sequence, and `Der.children(seq)` its two elements.
 */
export interface DerElement {
  readonly tag: number;
  readonly content: Buffer;
  readonly offset: number;
  /** The whole element, tag and length included. */
  readonly raw: Buffer;
}

/** Universal tags the key store readers meet. */
export const DerTag = {
  integer: 0x02,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  sequence: 0x30,
  set: 0x31,
  bmpString: 0x1e,
  /** `[0]` constructed: an EXPLICIT tag 0, or an IMPLICIT constructed one. */
  context0: 0xa0,
  /** `[0]` primitive: an IMPLICIT OCTET STRING, as an encrypted content may be. */
  context0Primitive: 0x80,
} as const;

/** Names of the DER tags, for messages. */
function tagName(tag: number): string {
  const names: Record<number, string> = {
    0x02: 'INTEGER',
    0x04: 'OCTET STRING',
    0x05: 'NULL',
    0x06: 'OBJECT IDENTIFIER',
    0x30: 'SEQUENCE',
    0x31: 'SET',
  };
  return names[tag] ?? `tag 0x${tag.toString(16).padStart(2, '0')}`;
}

/**
 * A small DER reader: definite lengths only, one-byte tags only (all that PKCS#12, PKCS#8 and
 * X.509 envelopes use), every length checked against what is left.
 */
export const Der = {
  /** The element at `at` of `buf` (its offset in the file is `base + at`). */
  read(buf: Buffer, at = 0, base = 0): DerElement {
    if (at + 2 > buf.length) throw new DerError(`truncated DER at offset ${base + at}`);
    const tag = buf[at] ?? 0;
    if ((tag & 0x1f) === 0x1f) {
      throw new DerError(`multi-byte DER tag at offset ${base + at}`);
    }
    let length = buf[at + 1] ?? 0;
    let start = at + 2;
    if (length === 0x80) throw new DerError(`indefinite DER length at offset ${base + at}`);
    if (length > 0x80) {
      const bytes = length & 0x7f;
      if (bytes > 4 || start + bytes > buf.length) {
        throw new DerError(`bad DER length at offset ${base + at}`);
      }
      length = 0;
      for (let i = 0; i < bytes; i++) length = length * 256 + (buf[start + i] ?? 0);
      start += bytes;
    }
    if (start + length > buf.length) {
      throw new DerError(
        `DER element at offset ${base + at} runs ${start + length - buf.length} bytes past its end`,
      );
    }
    return {
      tag,
      content: buf.subarray(start, start + length),
      offset: base + at,
      raw: buf.subarray(at, start + length),
    };
  },

  /** A whole buffer that must be exactly one element. */
  readAll(buf: Buffer, expectedTag: number, what: string, base = 0): DerElement {
    const e = Der.read(buf, 0, base);
    Der.expect(e, expectedTag, what);
    if (e.raw.length !== buf.length) {
      throw new DerError(`${what}: ${buf.length - e.raw.length} bytes after its end`);
    }
    return e;
  },

  /** The elements inside a constructed element. */
  children(e: DerElement): DerElement[] {
    const out: DerElement[] = [];
    const contentBase = e.offset + (e.raw.length - e.content.length);
    let at = 0;
    while (at < e.content.length) {
      const child = Der.read(e.content, at, contentBase);
      out.push(child);
      at += child.raw.length;
    }
    return out;
  },

  /** Throws unless `e` has `tag`. */
  expect(e: DerElement | undefined, tag: number, what: string): DerElement {
    if (e === undefined) throw new DerError(`${what} is missing`);
    if (e.tag !== tag) {
      throw new DerError(
        `${what} at offset ${e.offset} is a ${tagName(e.tag)}, not a ${tagName(tag)}`,
      );
    }
    return e;
  },

  /** An OBJECT IDENTIFIER's dotted form. */
  oid(e: DerElement | undefined, what: string): string {
    const c = Der.expect(e, DerTag.oid, what).content;
    if (c.length === 0) throw new DerError(`${what}: empty object identifier`);
    const first = c[0] ?? 0;
    const parts = [
      Math.min(2, Math.floor(first / 40)),
      first - 40 * Math.min(2, Math.floor(first / 40)),
    ];
    let value = 0;
    for (let i = 1; i < c.length; i++) {
      const b = c[i] ?? 0;
      value = value * 128 + (b & 0x7f);
      if ((b & 0x80) === 0) {
        parts.push(value);
        value = 0;
      }
    }
    return parts.join('.');
  },

  /** A non-negative INTEGER that fits a JavaScript number. */
  int(e: DerElement | undefined, what: string): number {
    const c = Der.expect(e, DerTag.integer, what).content;
    if (c.length === 0 || c.length > 6 || ((c[0] ?? 0) & 0x80) !== 0) {
      throw new DerError(`${what}: not a small non-negative integer`);
    }
    return c.reduce((v, b) => v * 256 + b, 0);
  },

  /** An OCTET STRING's bytes, also when it comes as a constructed string of pieces. */
  octets(e: DerElement | undefined, what: string): Buffer {
    if (e === undefined) throw new DerError(`${what} is missing`);
    if (e.tag === (DerTag.octetString | 0x20)) {
      return Buffer.concat(Der.children(e).map(piece => Der.octets(piece, what)));
    }
    return Der.expect(e, DerTag.octetString, what).content;
  },
} as const;
