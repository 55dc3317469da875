const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const sextets = new Int8Array(128).fill(-1);
for (let i = 0; i < alphabet.length; i++) sextets[alphabet.charCodeAt(i)] = i;
const wellFormed = /^[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes standard base64 as Go's `base64.StdEncoding` does for `encoding/json`'s `[]byte`:
 * padding required, line breaks skipped, and any other fault refused with Go's message,
 * which names the offset where Go's decoder stopped: `illegal base64 data at input byte 4`.
 *
 * Example: `Zm9v` is `foo`; `Zm9vYg` is refused at byte 4 (a quantum cut short without its
 * padding), `Zm9v==` at byte 4 (padding where a quantum starts).
 */
export function decodeGoBase64(text: string): Buffer {
  // Well-formed input (the usual case) decodes the same in Node's decoder, much faster.
  if (text.length % 4 === 0 && wellFormed.test(text)) return Buffer.from(text, 'base64');
  const out: number[] = [];
  const corrupt = (at: number): never => {
    throw new GoBase64Error(`illegal base64 data at input byte ${at}`);
  };
  const isLineBreak = (i: number) => text[i] === '\n' || text[i] === '\r';
  let si = 0;
  while (si < text.length) {
    const quantum: number[] = [];
    let ended = false;
    while (quantum.length < 4) {
      if (si === text.length) {
        if (quantum.length === 0) break;
        corrupt(si - quantum.length);
      }
      const code = text.charCodeAt(si);
      si++;
      const value = code < 128 ? (sextets[code] ?? -1) : -1;
      if (value >= 0) {
        quantum.push(value);
        continue;
      }
      if (code === 0x0a || code === 0x0d) continue;
      if (code !== 0x3d) corrupt(si - 1);
      // Padding: only after two or three sextets, and then "==" or "=" ends the input.
      if (quantum.length < 2) corrupt(si - 1);
      if (quantum.length === 2) {
        while (si < text.length && isLineBreak(si)) si++;
        if (si === text.length) corrupt(text.length);
        if (text[si] !== '=') corrupt(si - 1);
        si++;
      }
      while (si < text.length && isLineBreak(si)) si++;
      if (si < text.length) corrupt(si);
      ended = true;
      break;
    }
    if (quantum.length === 0) break;
    const [a = 0, b = 0, c = 0, d = 0] = quantum;
    const bits = (a << 18) | (b << 12) | (c << 6) | d;
    out.push((bits >> 16) & 0xff);
    if (quantum.length > 2) out.push((bits >> 8) & 0xff);
    if (quantum.length > 3) out.push(bits & 0xff);
    if (ended) break;
  }
  return Buffer.from(out);
}

/** Base64 that Go's standard decoder refuses, with its message. */
export class GoBase64Error extends Error {}
