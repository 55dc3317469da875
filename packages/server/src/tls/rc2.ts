/**
 * RC2's permutation of the byte values, from the digits of pi (RFC 2268 section 2).
 */
const PITABLE = Uint8Array.from([
  0xd9, 0x78, 0xf9, 0xc4, 0x19, 0xdd, 0xb5, 0xed, 0x28, 0xe9, 0xfd, 0x79, 0x4a, 0xa0, 0xd8, 0x9d,
  0xc6, 0x7e, 0x37, 0x83, 0x2b, 0x76, 0x53, 0x8e, 0x62, 0x4c, 0x64, 0x88, 0x44, 0x8b, 0xfb, 0xa2,
  0x17, 0x9a, 0x59, 0xf5, 0x87, 0xb3, 0x4f, 0x13, 0x61, 0x45, 0x6d, 0x8d, 0x09, 0x81, 0x7d, 0x32,
  0xbd, 0x8f, 0x40, 0xeb, 0x86, 0xb7, 0x7b, 0x0b, 0xf0, 0x95, 0x21, 0x22, 0x5c, 0x6b, 0x4e, 0x82,
  0x54, 0xd6, 0x65, 0x93, 0xce, 0x60, 0xb2, 0x1c, 0x73, 0x56, 0xc0, 0x14, 0xa7, 0x8c, 0xf1, 0xdc,
  0x12, 0x75, 0xca, 0x1f, 0x3b, 0xbe, 0xe4, 0xd1, 0x42, 0x3d, 0xd4, 0x30, 0xa3, 0x3c, 0xb6, 0x26,
  0x6f, 0xbf, 0x0e, 0xda, 0x46, 0x69, 0x07, 0x57, 0x27, 0xf2, 0x1d, 0x9b, 0xbc, 0x94, 0x43, 0x03,
  0xf8, 0x11, 0xc7, 0xf6, 0x90, 0xef, 0x3e, 0xe7, 0x06, 0xc3, 0xd5, 0x2f, 0xc8, 0x66, 0x1e, 0xd7,
  0x08, 0xe8, 0xea, 0xde, 0x80, 0x52, 0xee, 0xf7, 0x84, 0xaa, 0x72, 0xac, 0x35, 0x4d, 0x6a, 0x2a,
  0x96, 0x1a, 0xd2, 0x71, 0x5a, 0x15, 0x49, 0x74, 0x4b, 0x9f, 0xd0, 0x5e, 0x04, 0x18, 0xa4, 0xec,
  0xc2, 0xe0, 0x41, 0x6e, 0x0f, 0x51, 0xcb, 0xcc, 0x24, 0x91, 0xaf, 0x50, 0xa1, 0xf4, 0x70, 0x39,
  0x99, 0x7c, 0x3a, 0x85, 0x23, 0xb8, 0xb4, 0x7a, 0xfc, 0x02, 0x36, 0x5b, 0x25, 0x55, 0x97, 0x31,
  0x2d, 0x5d, 0xfa, 0x98, 0xe3, 0x8a, 0x92, 0xae, 0x05, 0xdf, 0x29, 0x10, 0x67, 0x6c, 0xba, 0xc9,
  0xd3, 0x00, 0xe6, 0xcf, 0xe1, 0x9e, 0xa8, 0x2c, 0x63, 0x16, 0x01, 0x3f, 0x58, 0xe2, 0x89, 0xa9,
  0x0d, 0x38, 0x34, 0x1b, 0xab, 0x33, 0xff, 0xb0, 0xbb, 0x48, 0x0c, 0x5f, 0xb9, 0xb1, 0xcd, 0x2e,
  0xc5, 0xf3, 0xdb, 0x47, 0xe5, 0xa5, 0x9c, 0x77, 0x0a, 0xa6, 0x20, 0x68, 0xfe, 0x7f, 0xc1, 0xad,
]);

/**
 * RC2's key expansion (RFC 2268 section 2): 64 16-bit subkeys from `key` with `effectiveBits`
 * bits of effective key length.
 */
function expandKey(key: Uint8Array, effectiveBits: number): Uint16Array {
  const t = key.length;
  if (t < 1 || t > 128) throw new RangeError(`an RC2 key has 1 to 128 bytes, not ${t}`);
  const l = new Uint8Array(128);
  l.set(key);
  for (let i = t; i < 128; i++) l[i] = PITABLE[((l[i - 1] ?? 0) + (l[i - t] ?? 0)) & 0xff] ?? 0;
  const t8 = Math.ceil(effectiveBits / 8);
  const tm = 0xff >> (8 * t8 - effectiveBits);
  l[128 - t8] = PITABLE[(l[128 - t8] ?? 0) & tm] ?? 0;
  for (let i = 127 - t8; i >= 0; i--) l[i] = PITABLE[(l[i + 1] ?? 0) ^ (l[i + t8] ?? 0)] ?? 0;
  const k = new Uint16Array(64);
  for (let i = 0; i < 64; i++) k[i] = (l[2 * i] ?? 0) | ((l[2 * i + 1] ?? 0) << 8);
  return k;
}

const SHIFTS = [1, 2, 3, 5] as const;

/** One 8-byte block, decrypted in place (RFC 2268 section 4). */
function decryptBlock(k: Uint16Array, block: Uint8Array): void {
  const r = new Uint16Array(4);
  for (let i = 0; i < 4; i++) r[i] = (block[2 * i] ?? 0) | ((block[2 * i + 1] ?? 0) << 8);
  let j = 63;
  const word = (i: number): number => r[i & 3] ?? 0;
  const rMix = (): void => {
    for (let i = 3; i >= 0; i--) {
      const s = SHIFTS[i] ?? 0;
      const v = word(i);
      r[i] = (v >>> s) | (v << (16 - s));
      r[i] = word(i) - (k[j--] ?? 0) - (word(i - 1) & word(i - 2)) - (~word(i - 1) & word(i - 3));
    }
  };
  const rMash = (): void => {
    for (let i = 3; i >= 0; i--) r[i] = word(i) - (k[word(i - 1) & 63] ?? 0);
  };
  for (const [step, times] of [
    [rMix, 5],
    [rMash, 1],
    [rMix, 6],
    [rMash, 1],
    [rMix, 5],
  ] as const) {
    for (let n = 0; n < times; n++) step();
  }
  for (let i = 0; i < 4; i++) {
    block[2 * i] = word(i) & 0xff;
    block[2 * i + 1] = word(i) >> 8;
  }
}

/** One 8-byte block, encrypted in place (RFC 2268 section 3); tests check vectors with it. */
export function rc2EncryptBlock(key: Uint8Array, effectiveBits: number, block: Uint8Array): void {
  const k = expandKey(key, effectiveBits);
  const r = new Uint16Array(4);
  for (let i = 0; i < 4; i++) r[i] = (block[2 * i] ?? 0) | ((block[2 * i + 1] ?? 0) << 8);
  let j = 0;
  const word = (i: number): number => r[i & 3] ?? 0;
  const mix = (): void => {
    for (let i = 0; i < 4; i++) {
      const s = SHIFTS[i] ?? 0;
      r[i] = word(i) + (k[j++] ?? 0) + (word(i - 1) & word(i - 2)) + (~word(i - 1) & word(i - 3));
      const v = word(i);
      r[i] = (v << s) | (v >>> (16 - s));
    }
  };
  const mash = (): void => {
    for (let i = 0; i < 4; i++) r[i] = word(i) + (k[word(i - 1) & 63] ?? 0);
  };
  for (const [step, times] of [
    [mix, 5],
    [mash, 1],
    [mix, 6],
    [mash, 1],
    [mix, 5],
  ] as const) {
    for (let n = 0; n < times; n++) step();
  }
  for (let i = 0; i < 4; i++) {
    block[2 * i] = word(i) & 0xff;
    block[2 * i + 1] = word(i) >> 8;
  }
}

/**
 * RC2-CBC decryption with PKCS#7 padding removed, for the legacy PKCS#12 schemes
 * (`pbeWithSHA1And40BitRC2-CBC`, which OpenSSL 1.x and older JDKs used for certificates).
 * OpenSSL 3 keeps RC2 in its legacy provider, which Node does not load. Throws on a bad
 * padding, which is what a wrong password gives.
 */
export function rc2CbcDecrypt(
  key: Uint8Array,
  effectiveBits: number,
  iv: Uint8Array,
  data: Uint8Array,
): Buffer {
  if (data.length === 0 || data.length % 8 !== 0) {
    throw new Error('RC2-CBC data is not a whole number of blocks');
  }
  const k = expandKey(key, effectiveBits);
  const out = Buffer.alloc(data.length);
  let previous = Uint8Array.from(iv);
  for (let at = 0; at < data.length; at += 8) {
    const cipher = data.subarray(at, at + 8);
    const block = Uint8Array.from(cipher);
    decryptBlock(k, block);
    for (let i = 0; i < 8; i++) out[at + i] = (block[i] ?? 0) ^ (previous[i] ?? 0);
    previous = Uint8Array.from(cipher);
  }
  const pad = out[out.length - 1] ?? 0;
  if (pad < 1 || pad > 8 || out.subarray(out.length - pad).some(b => b !== pad)) {
    throw new Error('bad RC2-CBC padding');
  }
  return out.subarray(0, out.length - pad);
}
