import {decodeUtf8KeepingBytes} from '@synod/proto';

import {decodeGoBase64, GoBase64Error} from './go-base64.js';
import {GoJsonError, goJsonString, parseGoJson} from './go-json.js';
import type {GoJsonValue} from './go-json.js';
import type {JsonField, JsonFieldType, JsonSchema} from './json-schema.js';
import {ProtoReader, ProtoWriter} from './proto-wire.js';

/** A request body the gateway cannot turn into its message, with etcd's gateway's words. */
export class JsonRequestError extends Error {}

interface CompiledField {
  readonly number: number;
  readonly protoName: string;
  readonly jsonName: string;
  readonly type: JsonFieldType;
  readonly label: JsonField[4];
  readonly typeName: string | undefined;
}

interface CompiledMessage {
  readonly fields: readonly CompiledField[];
  /** The order jsonpb reads fields in: plain ones as declared, then the members of oneofs. */
  readonly readOrder: readonly CompiledField[];
  readonly byNumber: ReadonlyMap<number, CompiledField>;
}

interface CompiledEnum {
  readonly goName: string;
  readonly byName: ReadonlyMap<string, number>;
  readonly byNumber: ReadonlyMap<number, string>;
}

/** The Go type each scalar is decoded into, as `encoding/json`'s errors name it. */
const goTypeNames: Record<Exclude<JsonFieldType, 'enum' | 'message'>, string> = {
  int64: 'int64',
  uint64: 'uint64',
  int32: 'int32',
  uint32: 'uint32',
  bool: 'bool',
  string: 'string',
  bytes: '[]uint8',
};

const integerRanges: Record<'int64' | 'uint64' | 'int32' | 'uint32', readonly [bigint, bigint]> = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
};

/** What a JSON value is called in `encoding/json`'s "cannot unmarshal X" errors. */
function goKind(value: GoJsonValue): string {
  return value.kind === 'bool' ? 'bool' : value.kind;
}

function typeError(what: string, goType: string): JsonRequestError {
  return new JsonRequestError(`json: cannot unmarshal ${what} into Go value of type ${goType}`);
}

/**
 * Translates between the etcd API's messages in protobuf and the JSON of etcd's HTTP gateway
 * (grpc-gateway with golang/protobuf's `jsonpb`, `OrigName: true`), driven by a schema
 * generated from the .proto sources. The gateway turns a request body into protobuf bytes and
 * decodes them as a gRPC request would be, and turns the bytes of a response into JSON: both
 * directions go through the same bytes a gRPC client sees, as etcd's gateway, which is a
 * gRPC client of its own server, does.
 *
 * Reading JSON (`jsonpb.Unmarshal`): fields by their .proto name or their lowerCamel name (the
 * latter wins when both are given), unknown fields ignored, `null` as absent, 64-bit integers
 * as numbers or strings, bytes as padded standard base64, enums by name or number. The first
 * fault found, in field declaration order with oneof members last, is refused with the error
 * etcd's gateway gives.
 *
 * Writing JSON (`jsonpb.Marshal`): fields by .proto name in declaration order, zero values
 * left out (except a set oneof member), 64-bit integers as strings, bytes as base64, enums by
 * name, strings escaped as Go's `encoding/json` does.
 *
 * Example: `{"key":"Zm9v","limit":"10","sort_order":"DESCEND"}` as an
 * `etcdserverpb.RangeRequest` is `0a 03 66 6f 6f 18 0a 28 02`.
 */
export class JsonTranscoder {
  private readonly messages = new Map<string, CompiledMessage>();
  private readonly enums = new Map<string, CompiledEnum>();

  constructor(schema: JsonSchema) {
    for (const [name, fields] of Object.entries(schema.messages)) {
      const compiled = fields.map(([number, protoName, jsonName, type, label, typeName]) => ({
        number,
        protoName,
        jsonName,
        type,
        label,
        typeName,
      }));
      this.messages.set(name, {
        fields: compiled,
        readOrder: [
          ...compiled.filter(f => f.label !== 'oneof'),
          ...compiled.filter(f => f.label === 'oneof'),
        ],
        byNumber: new Map(compiled.map(f => [f.number, f])),
      });
    }
    for (const [name, [goName, values]] of Object.entries(schema.enums)) {
      this.enums.set(name, {
        goName,
        byName: new Map(values),
        byNumber: new Map(values.map(([n, v]) => [v, n])),
      });
    }
  }

  private message(name: string): CompiledMessage {
    const message = this.messages.get(name);
    if (message === undefined) throw new Error(`json transcoder: no message ${name}`);
    return message;
  }

  private enumType(name: string | undefined): CompiledEnum {
    const found = name === undefined ? undefined : this.enums.get(name);
    if (found === undefined) throw new Error(`json transcoder: no enum ${String(name)}`);
    return found;
  }

  /**
   * The protobuf encoding of a request body read as `messageType`; `undefined` (an empty
   * body) is the empty message. Throws {@link JsonRequestError}.
   */
  toProto(messageType: string, value: GoJsonValue | undefined): Uint8Array {
    const out = new ProtoWriter();
    if (value !== undefined) this.writeMessage(out, messageType, value);
    return out.finish();
  }

  private writeMessage(out: ProtoWriter, messageType: string, value: GoJsonValue): void {
    if (value.kind === 'null') return;
    if (value.kind !== 'object') throw typeError(goKind(value), 'map[string]json.RawMessage');
    const given = value.fields;
    for (const field of this.message(messageType).readOrder) {
      // Both names may be given: the lowerCamel one wins, as in jsonpb.
      const raw = given.get(field.jsonName) ?? given.get(field.protoName);
      if (raw !== undefined) this.writeField(out, field, raw);
    }
  }

  private writeField(out: ProtoWriter, field: CompiledField, value: GoJsonValue): void {
    if (field.label === 'repeated') {
      if (value.kind === 'null') return;
      if (value.kind !== 'array') throw typeError(goKind(value), '[]json.RawMessage');
      for (const item of value.items) this.writeOne(out, field, item, true);
      return;
    }
    this.writeOne(out, field, value, field.label === 'oneof');
  }

  /** Writes one value of a field; `present` writes it even when it is the zero value. */
  private writeOne(out: ProtoWriter, field: CompiledField, value: GoJsonValue, present: boolean) {
    const tag = (wireType: number) => {
      out.varint(field.number * 8 + wireType);
    };
    switch (field.type) {
      case 'message': {
        // A null message is absent, even as a oneof member (jsonpb leaves the pointer nil).
        if (value.kind === 'null') return;
        const nested = new ProtoWriter();
        this.writeMessage(nested, field.typeName ?? '', value);
        tag(2);
        out.varint(nested.size);
        out.bytes(nested.finish());
        return;
      }
      case 'bytes':
      case 'string': {
        // A null oneof member is set, to its zero value (jsonpb sets the wrapper first).
        const bytes =
          (field.type === 'bytes' ? this.readBytes(value) : this.readString(value, 'string')) ??
          new Uint8Array(0);
        if (bytes.length === 0 && !present) return;
        tag(2);
        out.varint(bytes.length);
        out.bytes(bytes);
        return;
      }
      case 'bool': {
        if (value.kind !== 'bool' && value.kind !== 'null') throw typeError(goKind(value), 'bool');
        const on = value.kind === 'bool' && value.value;
        if (!on && !present) return;
        tag(0);
        out.byte(on ? 1 : 0);
        return;
      }
      case 'enum': {
        const n = this.readEnum(field, value) ?? 0;
        if (n === 0 && !present) return;
        tag(0);
        out.varint(n);
        return;
      }
      default: {
        const n = readInteger(value, field.type) ?? 0n;
        if (n === 0n && !present) return;
        tag(0);
        out.varint(n);
      }
    }
  }

  private readBytes(value: GoJsonValue): Uint8Array | undefined {
    if (value.kind === 'null') return undefined;
    if (value.kind === 'string') {
      try {
        return decodeGoBase64(value.value);
      } catch (error) {
        if (error instanceof GoBase64Error) throw new JsonRequestError(error.message);
        throw error;
      }
    }
    if (value.kind === 'array') {
      // encoding/json also fills a []byte from an array of numbers, one byte each.
      return Uint8Array.from(
        value.items.map(item => {
          if (item.kind === 'string') throw typeError('string', 'uint8');
          return Number(readInteger(item, 'uint8') ?? 0n);
        }),
      );
    }
    throw typeError(value.kind === 'number' ? 'number' : goKind(value), goTypeNames.bytes);
  }

  private readString(value: GoJsonValue, goType: string): Uint8Array | undefined {
    if (value.kind === 'null') return undefined;
    if (value.kind !== 'string') throw typeError(goKind(value), goType);
    return Buffer.from(value.value, 'utf8');
  }

  private readEnum(field: CompiledField, value: GoJsonValue): number | undefined {
    const type = this.enumType(field.typeName);
    if (value.kind === 'string') {
      // jsonpb looks the name up between the quotes, escapes and all.
      const name = value.raw.slice(1, -1);
      const n = type.byName.get(name);
      if (n === undefined) {
        throw new JsonRequestError(`unknown value ${goQuote(name)} for enum ${type.goName}`);
      }
      return n;
    }
    const n = readInteger(value, 'int32', type.goName);
    return n === undefined ? undefined : Number(n);
  }

  /** The JSON of a response message, from its protobuf encoding. */
  toJson(messageType: string, bytes: Uint8Array): string {
    return this.readMessage(messageType, bytes, 0, bytes.length);
  }

  private readMessage(messageType: string, bytes: Uint8Array, start: number, end: number): string {
    const message = this.message(messageType);
    const values = new Map<number, string[]>();
    /** Singular fields whose last value was the zero of their type. */
    const zero = new Set<number>();
    const reader = new ProtoReader(bytes, start, end);
    while (!reader.done()) {
      const key = reader.varint();
      const number = Number(key >> 3n);
      const wireType = Number(key & 7n);
      const field = message.byNumber.get(number);
      if (field === undefined || !wireTypeFits(field, wireType)) {
        reader.skip(wireType);
        continue;
      }
      const texts = values.get(number) ?? [];
      let isZero = false;
      if (wireType === 2 && isNumeric(field.type)) {
        // A packed repeated scalar: its elements one after another.
        const length = Number(reader.varint());
        const packed = new ProtoReader(bytes, reader.position, reader.position + length);
        while (!packed.done()) texts.push(this.scalarJson(field, packed.varint()));
        reader.advance(length);
      } else if (wireType === 2) {
        const length = Number(reader.varint());
        const at = reader.position;
        reader.advance(length);
        isZero = length === 0 && field.type !== 'message';
        texts.push(
          field.type === 'message'
            ? this.readMessage(field.typeName ?? '', bytes, at, at + length)
            : field.type === 'bytes'
              ? `"${Buffer.from(bytes.buffer, bytes.byteOffset + at, length).toString('base64')}"`
              : // Each byte that is not UTF-8 is one U+FFFD, as Go writes it.
                goJsonString(decodeUtf8KeepingBytes(bytes.subarray(at, at + length))),
        );
      } else {
        const raw = reader.varint();
        isZero = raw === 0n;
        texts.push(this.scalarJson(field, raw));
      }
      if (field.label === 'repeated') {
        values.set(number, texts);
        continue;
      }
      values.set(number, texts.slice(-1));
      if (isZero) zero.add(number);
      else zero.delete(number);
    }
    const parts: string[] = [];
    for (const field of message.fields) {
      const texts = values.get(field.number);
      if (texts === undefined) continue;
      if (field.label === 'repeated') {
        parts.push(`"${field.protoName}":[${texts.join(',')}]`);
        continue;
      }
      if (field.label === 'single' && zero.has(field.number)) continue;
      parts.push(`"${field.protoName}":${texts[0] ?? ''}`);
    }
    return `{${parts.join(',')}}`;
  }

  private scalarJson(field: CompiledField, raw: bigint): string {
    switch (field.type) {
      case 'int64':
        return `"${BigInt.asIntN(64, raw)}"`;
      case 'uint64':
        return `"${raw}"`;
      case 'int32':
        return String(BigInt.asIntN(32, raw));
      case 'uint32':
        return String(BigInt.asUintN(32, raw));
      case 'bool':
        return raw === 0n ? 'false' : 'true';
      case 'enum': {
        const n = Number(BigInt.asIntN(32, raw));
        const name = this.enumType(field.typeName).byNumber.get(n);
        return name === undefined ? String(n) : `"${name}"`;
      }
      default:
        throw new Error(`json transcoder: ${field.type} is not a varint`);
    }
  }
}

function isNumeric(type: JsonFieldType): boolean {
  return type !== 'string' && type !== 'bytes' && type !== 'message';
}

function wireTypeFits(field: CompiledField, wireType: number): boolean {
  if (wireType === 2) return !isNumeric(field.type) || field.label === 'repeated';
  return wireType === 0 && isNumeric(field.type);
}

/** Go's `%q` of a string: double quotes, with Go's escapes for what is not printable. */
function goQuote(text: string): string {
  const named: Record<string, string> = {
    '"': '\\"',
    '\\': '\\\\',
    '\x07': '\\a',
    '\b': '\\b',
    '\f': '\\f',
    '\n': '\\n',
    '\r': '\\r',
    '\t': '\\t',
    '\v': '\\v',
  };
  let out = '"';
  for (const c of text) {
    const code = c.codePointAt(0) ?? 0;
    out +=
      named[c] ?? (code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : c);
  }
  return `${out}"`;
}

/**
 * An integer as jsonpb reads it: a JSON number, or the text between a string's quotes read as
 * a JSON number (quotes dropped, escapes not undone), refused with `encoding/json`'s words when
 * it is not an integer of the type's range.
 */
function readInteger(
  value: GoJsonValue,
  type: JsonFieldType | 'uint8',
  goType: string = type === 'uint8' ? 'uint8' : goTypeNames[type as keyof typeof goTypeNames],
): bigint | undefined {
  let number = value;
  if (value.kind === 'string' && type !== 'enum') {
    try {
      number = parseGoJson(value.raw.slice(1, -1));
    } catch (error) {
      if (error instanceof GoJsonError) throw new JsonRequestError(error.message);
      throw error;
    }
  }
  if (number.kind === 'null') return undefined;
  if (number.kind !== 'number') throw typeError(goKind(number), goType);
  if (!/^-?\d+$/.test(number.raw)) throw typeError(`number ${number.raw}`, goType);
  const n = BigInt(number.raw);
  const [min, max] =
    type === 'uint8'
      ? [0n, 255n]
      : type === 'enum'
        ? integerRanges.int32
        : integerRanges[type as keyof typeof integerRanges];
  if (n < min || n > max) throw typeError(`number ${number.raw}`, goType);
  return n;
}
