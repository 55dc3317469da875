/**
 * Keys and values travel through etcd's JSON gateway as base64 of arbitrary bytes: they need
 * not be UTF-8. The console keeps the bytes and decides per view how to show them.
 */

const utf8 = new TextDecoder('utf-8', {fatal: true});
const lenientUtf8 = new TextDecoder('utf-8');
const encoder = new TextEncoder();

export function bytesFromBase64(base64: string | undefined): Uint8Array {
  if (base64 === undefined || base64 === '') return new Uint8Array(0);
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export function base64FromBytes(bytes: Uint8Array): string {
  let binary = '';
  // Chunked: String.fromCharCode takes its arguments on the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export function bytesFromText(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The bytes as UTF-8 text, or undefined when they are not valid UTF-8. */
export function strictText(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The bytes as text for display: invalid UTF-8 sequences become U+FFFD. */
export function displayText(bytes: Uint8Array): string {
  return lenientUtf8.decode(bytes);
}

/**
 * The end of the range of every key that starts with `prefix`, as etcd's clients compute it:
 * the prefix with its last byte below 0xff incremented and what follows dropped; `\0` (every
 * key) when the prefix is empty or all 0xff.
 */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    const byte = end[i] ?? 0;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  return new Uint8Array([0]);
}

/** `00 1f 7a ...` with an ASCII column, 16 bytes a line, like `hexdump -C`. */
export function hexDump(bytes: Uint8Array, maxBytes = 64 * 1024): string {
  const lines: string[] = [];
  const shown = bytes.subarray(0, maxBytes);
  for (let offset = 0; offset < shown.length; offset += 16) {
    const row = shown.subarray(offset, offset + 16);
    const hex = Array.from(row, b => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = Array.from(row, b => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join(
      '',
    );
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  |${ascii}|`);
  }
  if (bytes.length > shown.length) lines.push(`... ${bytes.length - shown.length} more bytes`);
  return lines.join('\n');
}
