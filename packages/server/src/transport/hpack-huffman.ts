import {HpackError} from './hpack-cursor.js';

/**
 * The length in bits of every symbol's code in HPACK's Huffman code (RFC 7541 Appendix B):
 * octets 0-255, then EOS (256).
 *
 * The code is canonical: sorting the symbols by (length, symbol) and counting up from 0,
 * shifting left whenever the length grows, gives each symbol its code. So the lengths are
 * the whole table. For example the shortest codes, 5 bits, go to '0' 00000, '1' 00001,
 * '2' 00010, 'a' 00011, ... and EOS is the last code, thirty 1 bits (0x3fffffff).
 */
const codeLengthsBits: readonly number[] = [
  // 0x00-0x1f: control characters
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
  28, 28, 28, 28, 28, 28, 28, 28,
  // 0x20-0x3f: ' ' to '?'
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6,
  12, 10,
  // 0x40-0x5f: '@' to '_'
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14,
  6,
  // 0x60-0x7f: '`' to DEL
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13,
  28,
  // 0x80-0xff
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23,
  23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25,
  26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27,
  27, 28, 27, 27, 27, 27, 27, 26,
  // EOS
  30,
];

const eos = 256;
const longestCodeBits = 30;

/**
 * The canonical code as decoding tables: for each length, the first code of that length,
 * how many codes have it, and where its symbols start in `symbols` (sorted by length, then
 * value).
 */
interface CanonicalCode {
  readonly firstCode: readonly number[];
  readonly count: readonly number[];
  readonly firstSymbol: readonly number[];
  readonly symbols: readonly number[];
}

function buildCanonicalCode(lengths: readonly number[]): CanonicalCode {
  const symbols = lengths.map((_, symbol) => symbol);
  symbols.sort((a, b) => (lengths[a] ?? 0) - (lengths[b] ?? 0) || a - b);
  const firstCode = new Array<number>(longestCodeBits + 1).fill(0);
  const count = new Array<number>(longestCodeBits + 1).fill(0);
  const firstSymbol = new Array<number>(longestCodeBits + 1).fill(0);
  let code = 0;
  let length = 0;
  symbols.forEach((symbol, position) => {
    const bits = lengths[symbol] ?? 0;
    if (bits !== length) {
      code <<= bits - length;
      length = bits;
      firstCode[bits] = code;
      firstSymbol[bits] = position;
    }
    count[bits] = (count[bits] ?? 0) + 1;
    code++;
  });
  return {firstCode, count, firstSymbol, symbols};
}

const canonical = buildCanonicalCode(codeLengthsBits);

/**
 * Decodes an HPACK Huffman-coded string (RFC 7541 §5.2). Throws {@link HpackError} for what
 * the RFC makes a decoding error: EOS inside the string, padding longer than 7 bits, or
 * padding that is not the most significant bits of EOS (all ones).
 *
 * Example: `f1e3 c2e5 f23a 6ba0 ab90 f4ff` decodes to `www.example.com`.
 */
export function decodeHpackHuffman(encoded: Uint8Array): Buffer {
  // Every code is at least 5 bits long.
  const out = Buffer.allocUnsafe(Math.floor((encoded.length * 8) / 5));
  let written = 0;
  let code = 0;
  let length = 0;
  for (const byte of encoded) {
    for (let bit = 7; bit >= 0; bit--) {
      code = (code << 1) | ((byte >> bit) & 1);
      length++;
      const offset = code - (canonical.firstCode[length] ?? 0);
      if (offset >= 0 && offset < (canonical.count[length] ?? 0)) {
        const symbol = canonical.symbols[(canonical.firstSymbol[length] ?? 0) + offset] ?? eos;
        if (symbol === eos) throw new HpackError('Huffman-coded string contains EOS');
        out[written++] = symbol;
        code = 0;
        length = 0;
      } else if (length >= longestCodeBits) {
        throw new HpackError('invalid Huffman code');
      }
    }
  }
  if (length > 7) throw new HpackError('Huffman padding longer than 7 bits');
  if (code !== (1 << length) - 1) throw new HpackError('Huffman padding is not a prefix of EOS');
  return out.subarray(0, written);
}
