import {describe, expect, it} from 'vitest';

import {decodeGoBase64} from './go-base64.js';
import {goJsonString, goQuoteChar, parseGoJson, readGoJson} from './go-json.js';

/** The words Go gives for each input, as etcd's gateway answers them (checked against etcd 3.4). */
describe('Go-compatible JSON reading', () => {
  it.each([
    ['{bad', "invalid character 'b' looking for beginning of object key string"],
    ['{"a" 1}', "invalid character '1' after object key"],
    ['{"a":1 "b":2}', "invalid character '\"' after object key:value pair"],
    ['[1 2]', "invalid character '2' after array element"],
    ['{"a":tru}', "invalid character '}' in literal true (expecting 'e')"],
    ['{"a":-}', "invalid character '}' in numeric literal"],
    ['{"a":1.}', "invalid character '}' after decimal point in numeric literal"],
    ['{"a":1e}', "invalid character '}' in exponent of numeric literal"],
    ['{"a":"\\q"}', "invalid character 'q' in string escape code"],
    ['{"a":"\\u12G4"}', "invalid character 'G' in \\u hexadecimal character escape"],
    ['{"a":"\t"}', "invalid character '\\t' in string literal"],
    ["{'a':1}", "invalid character '\\'' looking for beginning of object key string"],
  ])('refuses %s', (text, message) => {
    expect(() => readGoJson(text)).toThrow(message);
  });

  it('reads one value from a stream and says where it ended, or that more is needed', () => {
    expect(readGoJson('{"a":1}{"b":2}')).toMatchObject({done: true, end: 7});
    expect(readGoJson('{"a":1}{"b":2}', 7)).toMatchObject({done: true, end: 14});
    expect(readGoJson('{"a":')).toEqual({done: false, empty: false});
    expect(readGoJson('  \n')).toEqual({done: false, empty: true});
  });

  it('keeps the last of repeated keys and the raw text of each value', () => {
    const value = parseGoJson('{"k":1,"k":"x","n":-12e3}');
    if (value.kind !== 'object') throw new Error('not an object');
    expect(value.fields.get('k')).toEqual({kind: 'string', raw: '"x"', value: 'x'});
    expect(value.fields.get('n')).toEqual({kind: 'number', raw: '-12e3'});
  });

  it('parses a whole text as json.Unmarshal does', () => {
    expect(() => parseGoJson('12a')).toThrow("invalid character 'a' after top-level value");
    expect(() => parseGoJson('')).toThrow('unexpected end of JSON input');
    expect(() => parseGoJson('abc')).toThrow(
      "invalid character 'a' looking for beginning of value",
    );
  });

  it('quotes characters and strings as Go does', () => {
    expect(goQuoteChar('a')).toBe("'a'");
    expect(goQuoteChar('\n')).toBe("'\\n'");
    expect(goQuoteChar('\x01')).toBe("'\\x01'");
    expect(goJsonString('<a&b>\u2028"\\')).toBe('"\\u003ca\\u0026b\\u003e\\u2028\\"\\\\"');
    // Role name bytes c0 80 (not UTF-8, kept as escapes): one U+FFFD per byte, as Go.
    expect(goJsonString('r\udcc0\udc80😀')).toBe('"r\\ufffd\\ufffd😀"');
  });
});

describe("Go's standard base64", () => {
  it.each([
    ['Zm9v', 'foo'],
    ['Zm9vYg==', 'foob'],
    ['Zm9vYmE=', 'fooba'],
    ['Zm9v\nYmE=', 'fooba'],
    ['', ''],
  ])('decodes %j', (text, decoded) => {
    expect(decodeGoBase64(text).toString()).toBe(decoded);
  });

  it.each([
    ['Zm9v==', 4],
    ['Zm9vYg', 4],
    ['Zm9vY', 4],
    ['Zm9v_-', 4],
    ['!!', 0],
    ['Zm9vYg=', 7],
    ['Zm9vYg==Zm9v', 8],
    ['Zm=v', 2],
  ])('refuses %j at byte %i', (text, at) => {
    expect(() => decodeGoBase64(text)).toThrow(`illegal base64 data at input byte ${at}`);
  });
});
