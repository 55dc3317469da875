import {displayText, hexDump, strictText} from './bytes.js';

/** How a value is shown: as text, as pretty-printed JSON, or as a hex dump. */
export type ValueFormat = 'text' | 'json' | 'hex';

/** The format that suits the bytes: JSON if they parse as a JSON object or array, text if UTF-8, else hex. */
export function guessFormat(bytes: Uint8Array): ValueFormat {
  const text = strictText(bytes);
  if (text === undefined) return 'hex';
  const trimmed = text.trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      JSON.parse(trimmed);
      return 'json';
    } catch {
      return 'text';
    }
  }
  return 'text';
}

/** The value rendered in `format`, with a note when that format does not fit the bytes. */
export function formatValue(
  bytes: Uint8Array,
  format: ValueFormat,
): {readonly text: string; readonly note?: string} {
  if (format === 'hex') return {text: hexDump(bytes)};
  const text = strictText(bytes);
  if (text === undefined) {
    return {text: displayText(bytes), note: 'not valid UTF-8: invalid bytes are shown as \uFFFD'};
  }
  if (format === 'json') {
    try {
      return {text: JSON.stringify(JSON.parse(text), null, 2)};
    } catch (error) {
      return {text, note: `not JSON: ${(error as Error).message}`};
    }
  }
  return {text};
}
