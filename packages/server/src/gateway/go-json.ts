/**
 * A JSON value as the gateway reads it: the parsed value together with the span of source
 * text it came from, because etcd's gateway (golang/protobuf's `jsonpb`) hands each field's
 * raw text to Go's `encoding/json` and its errors quote that text.
 */
export type GoJsonValue =
  | {readonly kind: 'object'; readonly raw: string; readonly fields: Map<string, GoJsonValue>}
  | {readonly kind: 'array'; readonly raw: string; readonly items: readonly GoJsonValue[]}
  | {readonly kind: 'string'; readonly raw: string; readonly value: string}
  | {readonly kind: 'number'; readonly raw: string}
  | {readonly kind: 'bool'; readonly raw: string; readonly value: boolean}
  | {readonly kind: 'null'; readonly raw: string};

/** Input Go's JSON decoder refuses, with Go's message (`invalid character 'x' ...`). */
export class GoJsonError extends Error {}

/** The outcome of reading one value from the front of a text. */
export type GoJsonRead =
  | {readonly done: true; readonly value: GoJsonValue; readonly end: number}
  /** The text ends inside a value (or holds only white space): more may come. */
  | {readonly done: false; readonly empty: boolean};

const whiteSpace = new Set([' ', '\t', '\n', '\r']);

/**
 * Go's `quoteChar`: a character as its syntax errors show it, `'a'`, `'\n'`, `'\''`.
 *
 * Example: `goQuoteChar('\t')` is `'\t'` (backslash, t, between single quotes).
 */
export function goQuoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return "'\"'";
  const code = c.charCodeAt(0);
  const named: Record<number, string> = {
    7: 'a',
    8: 'b',
    12: 'f',
    10: 'n',
    13: 'r',
    9: 't',
    11: 'v',
  };
  if (c === '\\') return "'\\\\'";
  const name = named[code];
  if (name !== undefined) return `'\\${name}'`;
  if (code < 0x20 || code === 0x7f) return `'\\x${code.toString(16).padStart(2, '0')}'`;
  if ((code >= 0x80 && code <= 0xa0) || code === 0xad) {
    return `'\\u${code.toString(16).padStart(4, '0')}'`;
  }
  return `'${c}'`;
}

/** Thrown inside the reader when the text ends before the value does. */
class EndOfText extends Error {}

/**
 * Reads JSON text the way Go's `encoding/json` does, so that what the gateway refuses it
 * refuses with the same words as etcd. Two uses: {@link readGoJson} takes one value from
 * the front of a stream (`json.Decoder`, where what follows the value is left unread), and
 * {@link parseGoJson} a whole text (`json.Unmarshal`, which also refuses anything after it).
 *
 * Strings are taken as JavaScript strings (UTF-16), and Go's byte-level quirks for invalid
 * UTF-8 are not reproduced: text arrives here already decoded as UTF-8.
 */
class GoJsonReader {
  private pos = 0;

  constructor(private readonly text: string) {}

  get offset(): number {
    return this.pos;
  }

  skipSpace(): void {
    while (this.pos < this.text.length && whiteSpace.has(this.text[this.pos] ?? '')) this.pos++;
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  private peek(): string {
    const c = this.text[this.pos];
    if (c === undefined) throw new EndOfText();
    return c;
  }

  private fail(c: string, context: string): never {
    throw new GoJsonError(`invalid character ${goQuoteChar(c)} ${context}`);
  }

  value(): GoJsonValue {
    this.skipSpace();
    const start = this.pos;
    const c = this.peek();
    if (c === '{') return this.object(start);
    if (c === '[') return this.array(start);
    if (c === '"') {
      const value = this.string();
      return {kind: 'string', raw: this.text.slice(start, this.pos), value};
    }
    if (c === '-' || (c >= '0' && c <= '9')) {
      this.number();
      return {kind: 'number', raw: this.text.slice(start, this.pos)};
    }
    if (c === 't') return this.literal('true', {kind: 'bool', raw: 'true', value: true});
    if (c === 'f') return this.literal('false', {kind: 'bool', raw: 'false', value: false});
    if (c === 'n') return this.literal('null', {kind: 'null', raw: 'null'});
    return this.fail(c, 'looking for beginning of value');
  }

  private literal(word: string, value: GoJsonValue): GoJsonValue {
    for (let i = 0; i < word.length; i++) {
      const c = this.peek();
      if (c !== word[i]) {
        this.fail(c, `in literal ${word} (expecting ${goQuoteChar(word[i] ?? '')})`);
      }
      this.pos++;
    }
    return value;
  }

  private object(start: number): GoJsonValue {
    this.pos++;
    const fields = new Map<string, GoJsonValue>();
    this.skipSpace();
    if (this.peek() === '}') {
      this.pos++;
      return {kind: 'object', raw: this.text.slice(start, this.pos), fields};
    }
    for (;;) {
      this.skipSpace();
      const c = this.peek();
      if (c !== '"') this.fail(c, 'looking for beginning of object key string');
      const key = this.string();
      this.skipSpace();
      const colon = this.peek();
      if (colon !== ':') this.fail(colon, 'after object key');
      this.pos++;
      // Go's map decoding keeps the last of repeated keys.
      fields.set(key, this.value());
      this.skipSpace();
      const next = this.peek();
      this.pos++;
      if (next === '}') return {kind: 'object', raw: this.text.slice(start, this.pos), fields};
      if (next !== ',') this.fail(next, 'after object key:value pair');
    }
  }

  private array(start: number): GoJsonValue {
    this.pos++;
    const items: GoJsonValue[] = [];
    this.skipSpace();
    if (this.peek() === ']') {
      this.pos++;
      return {kind: 'array', raw: this.text.slice(start, this.pos), items};
    }
    for (;;) {
      items.push(this.value());
      this.skipSpace();
      const next = this.peek();
      this.pos++;
      if (next === ']') return {kind: 'array', raw: this.text.slice(start, this.pos), items};
      if (next !== ',') this.fail(next, 'after array element');
    }
  }

  private string(): string {
    this.pos++;
    let out = '';
    for (;;) {
      // Copy a run of plain characters at once: values may be megabytes of base64.
      const runStart = this.pos;
      while (this.pos < this.text.length) {
        const code = this.text.charCodeAt(this.pos);
        if (code === 0x22 || code === 0x5c || code < 0x20) break;
        this.pos++;
      }
      if (this.pos > runStart) out += this.text.slice(runStart, this.pos);
      const c = this.peek();
      this.pos++;
      if (c === '"') return out;
      if (c === '\\') {
        const e = this.peek();
        this.pos++;
        const simple: Record<string, string> = {
          '"': '"',
          '\\': '\\',
          '/': '/',
          b: '\b',
          f: '\f',
          n: '\n',
          r: '\r',
          t: '\t',
        };
        const s = simple[e];
        if (s !== undefined) {
          out += s;
          continue;
        }
        if (e !== 'u') this.fail(e, 'in string escape code');
        let hex = '';
        for (let i = 0; i < 4; i++) {
          const h = this.peek();
          if (!/[0-9a-fA-F]/.test(h)) this.fail(h, 'in \\u hexadecimal character escape');
          hex += h;
          this.pos++;
        }
        out += String.fromCharCode(parseInt(hex, 16));
        continue;
      }
      if (c < ' ') this.fail(c, 'in string literal');
      out += c;
    }
  }

  private digits(): number {
    let n = 0;
    while (this.pos < this.text.length && /[0-9]/.test(this.text[this.pos] ?? '')) {
      this.pos++;
      n++;
    }
    return n;
  }

  private number(): void {
    if (this.peek() === '-') {
      this.pos++;
      const c = this.peek();
      if (!(c >= '0' && c <= '9')) this.fail(c, 'in numeric literal');
    }
    if (this.peek() === '0') this.pos++;
    else this.digits();
    // A number may end the text: Go's decoder then takes it as complete only at the end of
    // the stream, which is where these readers are always called.
    if (this.pos < this.text.length && this.text[this.pos] === '.') {
      this.pos++;
      const c = this.peek();
      if (!(c >= '0' && c <= '9')) this.fail(c, 'after decimal point in numeric literal');
      this.digits();
    }
    const e = this.text[this.pos];
    if (e === 'e' || e === 'E') {
      this.pos++;
      let c = this.peek();
      if (c === '+' || c === '-') {
        this.pos++;
        c = this.peek();
      }
      if (!(c >= '0' && c <= '9')) this.fail(c, 'in exponent of numeric literal');
      this.digits();
    }
  }
}

/**
 * Reads the first JSON value of `text`, as Go's `json.Decoder.Decode` reads the next value
 * of a stream. Throws {@link GoJsonError} for a syntax error; answers `done: false` when the
 * text ends first (the caller waits for more, or at the end of the stream reports
 * `unexpected EOF`, or treats an empty stream as no value at all).
 */
export function readGoJson(text: string, from = 0): GoJsonRead {
  const reader = new GoJsonReader(text.slice(from));
  reader.skipSpace();
  if (reader.atEnd()) return {done: false, empty: true};
  try {
    const value = reader.value();
    return {done: true, value, end: from + reader.offset};
  } catch (error) {
    if (error instanceof EndOfText) return {done: false, empty: false};
    throw error;
  }
}

/**
 * Parses a whole text as Go's `json.Unmarshal` does: a syntax error, a text that ends early
 * (`unexpected end of JSON input`) and anything but white space after the value (`invalid
 * character 'x' after top-level value`) throw {@link GoJsonError}.
 */
export function parseGoJson(text: string): GoJsonValue {
  const reader = new GoJsonReader(text);
  let value: GoJsonValue;
  try {
    value = reader.value();
  } catch (error) {
    if (error instanceof EndOfText) throw new GoJsonError('unexpected end of JSON input');
    throw error;
  }
  reader.skipSpace();
  if (!reader.atEnd()) {
    throw new GoJsonError(
      `invalid character ${goQuoteChar(text[reader.offset] ?? '')} after top-level value`,
    );
  }
  return value;
}

/**
 * Go's `json.Marshal` of a string: HTML-safe, with `<`, `>`, `&`, U+2028 and U+2029 escaped.
 * A byte that was not UTF-8 (held as a lone surrogate, see `decodeUtf8KeepingBytes`) is
 * `\ufffd`, as Go writes each invalid byte.
 */
export function goJsonString(value: string): string {
  let out = '"';
  for (const c of value) {
    const code = c.codePointAt(0) ?? 0;
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (
      code < 0x20 ||
      c === '<' ||
      c === '>' ||
      c === '&' ||
      code === 0x2028 ||
      code === 0x2029
    ) {
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else if (code >= 0xd800 && code <= 0xdfff) out += '\\ufffd';
    else out += c;
  }
  return `${out}"`;
}
