import {configureTextEncoding} from '@bufbuild/protobuf/wire';

/**
 * UTF-8 for protobuf `string` fields that keeps every byte, as Go does. etcd's strings are
 * Go strings, byte sequences that need not be UTF-8: two role names `c0 80` and `fe fe` are
 * two roles. A decoder that puts U+FFFD in place of bad bytes makes both one name.
 *
 * Valid UTF-8 decodes as usual. Each byte that does not start a valid sequence (as Go's
 * `utf8.DecodeRune` reads it: no overlong forms, no surrogates, nothing above U+10FFFF)
 * becomes the lone low surrogate U+DC00 + byte, which no valid UTF-8 can produce (the same
 * escape as Python's `surrogateescape`). Encoding turns each such surrogate back into its
 * byte, so bytes → string → bytes is the identity. Any other lone surrogate, which only a
 * caller's own string can hold, encodes as U+FFFD, as `TextEncoder` does.
 *
 * Example: `61 c0 80 62` decodes to "a\udcc0\udc80b" and encodes back to `61 c0 80 62`.
 */
const escapeBase = 0xdc00;

const strictDecoder = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true});
const encoder = new TextEncoder();

/** `bytes` as text, each byte outside a valid UTF-8 sequence escaped as U+DC00 + byte. */
export function decodeUtf8KeepingBytes(bytes: Uint8Array): string {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return decodeEscaping(bytes);
  }
}

/** The bytes of `text` in UTF-8, escaped bytes (U+DC80–U+DCFF) restored. */
export function encodeUtf8KeepingBytes(text: string): Uint8Array<ArrayBuffer> {
  if (!hasSurrogate(text)) return encoder.encode(text);
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        pushCodePoint(out, 0x10000 + ((unit - 0xd800) << 10) + (next - 0xdc00));
        i++;
        continue;
      }
      pushCodePoint(out, 0xfffd);
    } else if (unit >= 0xdc80 && unit <= 0xdcff) {
      out.push(unit - escapeBase);
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      pushCodePoint(out, 0xfffd);
    } else {
      pushCodePoint(out, unit);
    }
  }
  return Uint8Array.from(out);
}

/** {@link encodeUtf8KeepingBytes} into `dest`, which is long enough (3 bytes per unit). */
function encodeUtf8KeepingBytesInto(text: string, dest: Uint8Array): {written: number} {
  if (!hasSurrogate(text)) return {written: encoder.encodeInto(text, dest).written};
  const bytes = encodeUtf8KeepingBytes(text);
  dest.set(bytes);
  return {written: bytes.length};
}

/** Whether `text` holds a UTF-16 surrogate unit, paired or not. */
function hasSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdfff) return true;
  }
  return false;
}

/** Whether every surrogate in `text` is half of a pair: text that is valid UTF-8 as it is. */
function isWellFormed(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = text.charCodeAt(i + 1);
    if (unit > 0xdbff || next < 0xdc00 || next > 0xdfff) return false;
    i++;
  }
  return true;
}

function decodeEscaping(bytes: Uint8Array): string {
  let text = '';
  let i = 0;
  while (i < bytes.length) {
    const length = validSequenceLength(bytes, i);
    if (length === 0) {
      text += String.fromCharCode(escapeBase + (bytes[i] ?? 0));
      i++;
    } else {
      text += strictDecoder.decode(bytes.subarray(i, i + length));
      i += length;
    }
  }
  return text;
}

/**
 * The length of the valid UTF-8 sequence at `i` (1–4), or 0 when the byte there does not
 * start one. The ranges of the second byte are those of RFC 3629 §4, which exclude overlong
 * forms, surrogates and code points above U+10FFFF; later bytes are 80–BF.
 */
function validSequenceLength(bytes: Uint8Array, i: number): number {
  const first = bytes[i] ?? 0;
  if (first < 0x80) return 1;
  let length: number;
  let secondLow = 0x80;
  let secondHigh = 0xbf;
  if (first >= 0xc2 && first <= 0xdf) length = 2;
  else if (first >= 0xe0 && first <= 0xef) {
    length = 3;
    if (first === 0xe0) secondLow = 0xa0;
    if (first === 0xed) secondHigh = 0x9f;
  } else if (first >= 0xf0 && first <= 0xf4) {
    length = 4;
    if (first === 0xf0) secondLow = 0x90;
    if (first === 0xf4) secondHigh = 0x8f;
  } else return 0;
  if (i + length > bytes.length) return 0;
  const second = bytes[i + 1] ?? 0;
  if (second < secondLow || second > secondHigh) return 0;
  for (let k = 2; k < length; k++) {
    const next = bytes[i + k] ?? 0;
    if (next < 0x80 || next > 0xbf) return 0;
  }
  return length;
}

function pushCodePoint(out: number[], codePoint: number): void {
  if (codePoint < 0x80) out.push(codePoint);
  else if (codePoint < 0x800) out.push(0xc0 | (codePoint >> 6), 0x80 | (codePoint & 0x3f));
  else if (codePoint < 0x10000) {
    out.push(0xe0 | (codePoint >> 12), 0x80 | ((codePoint >> 6) & 0x3f), 0x80 | (codePoint & 0x3f));
  } else {
    out.push(
      0xf0 | (codePoint >> 18),
      0x80 | ((codePoint >> 12) & 0x3f),
      0x80 | ((codePoint >> 6) & 0x3f),
      0x80 | (codePoint & 0x3f),
    );
  }
}

/**
 * Makes the protobuf runtime's `string` fields use {@link decodeUtf8KeepingBytes} and
 * {@link encodeUtf8KeepingBytes}: every message of this package, on both ends. Done once,
 * when the package is loaded.
 */
export function keepBytesInProtobufStrings(): void {
  // Deprecated in favour of replacing TextDecoder on globalThis, which would change every
  // decoder in the process, not only this copy of the protobuf runtime.
  // eslint-disable-next-line @typescript-eslint/no-deprecated
  configureTextEncoding({
    encodeUtf8: encodeUtf8KeepingBytes,
    encodeUtf8Into: encodeUtf8KeepingBytesInto,
    decodeUtf8: (bytes, strict) =>
      strict === true ? strictDecoder.decode(bytes) : decodeUtf8KeepingBytes(bytes),
    checkUtf8: isWellFormed,
  });
}
