import type {WireKind, WireSchema} from './wire-schema.js';

/**
 * Checks a request's bytes against its message schema the way etcd's decoder does (the
 * `Unmarshal` that gogo-protobuf generates), and names the first fault in etcd's words, so
 * that Synod refuses exactly the requests etcd refuses, with the same message. ts-proto's
 * decoder is lenient: it skips a field number 0 or a known field of the wrong wire type as
 * unknown, and the request would then run with that field left at its default.
 *
 * What gogo refuses, in the order it looks:
 * - a truncated tag, value or length prefix: `unexpected EOF`;
 * - a varint longer than 10 bytes: `proto: integer overflow`;
 * - wire type 4 (end group) as a field's tag: `proto: <Message>: wiretype end group for
 *   non-group`;
 * - field number 0, or one that is negative as a Go int32: `proto: <Message>: illegal tag
 *   <n> (wire type <tag>)` (etcd prints the whole tag where it says wire type);
 * - a known field with another wire type: `proto: wrong wireType = <w> for field <GoName>`;
 * - a length with bit 63 set: `proto: negative length found during unmarshaling`;
 * - an unknown field of wire type 6 or 7: `proto: illegal wireType <w>`.
 * Unknown fields that are well formed are skipped, groups included; nested messages are
 * checked field by field; bytes and strings are not checked for UTF-8.
 *
 * Where etcd 3.4 crashes (a length so large that adding it to the offset overflows an int64
 * panics its decoder), Synod answers `proto: negative length found during unmarshaling`, as
 * later gogo-protobuf releases do.
 *
 * Example: `0a 01 61 08 01` for RangeRequest is `key = "a"`, then field 1 again as a varint:
 * refused with `proto: wrong wireType = 0 for field Key`.
 */
export class WireValidator {
  private bytes: Uint8Array = new Uint8Array(0);
  private pos = 0;

  private constructor(private readonly root: CheckedMessage) {}

  /** A validator per gRPC path in `schema`, built once (messages are shared between them). */
  static forMethods(schema: WireSchema): Map<string, WireValidator> {
    const compiled = new Map<string, CheckedMessage>();
    const compile = (name: string): CheckedMessage => {
      const known = compiled.get(name);
      if (known !== undefined) return known;
      const entry = schema.messages[name];
      if (entry === undefined) throw new Error(`wire schema: no message ${name}`);
      const [goName, fields] = entry;
      const message: CheckedMessage = {goName, fields: []};
      compiled.set(name, message);
      for (const [number, fieldGoName, kind, messageType] of fields) {
        message.fields[number] = {
          goName: fieldGoName,
          wireType: wireTypeOf(kind),
          packed: kind.startsWith('packed-'),
          message: messageType === undefined ? undefined : compile(messageType),
        };
      }
      return message;
    };
    const out = new Map<string, WireValidator>();
    for (const [path, request] of Object.entries(schema.methods)) {
      out.set(path, new WireValidator(compile(request)));
    }
    return out;
  }

  /** Why etcd would refuse `bytes` as this request, or undefined when it would decode them. */
  check(bytes: Uint8Array): string | undefined {
    this.bytes = bytes;
    this.pos = 0;
    try {
      this.checkMessage(this.root, bytes.length);
      return undefined;
    } catch (error) {
      if (error instanceof WireFault) return error.reason;
      throw error;
    } finally {
      this.bytes = empty;
    }
  }

  private checkMessage(message: CheckedMessage, end: number): void {
    while (this.pos < end) {
      let fieldNumber: number;
      let wireType: number;
      let tagText: string | undefined;
      const tag = this.varint(end);
      if (tag >= 0) {
        fieldNumber = tag >>> 3;
        wireType = tag & 7;
      } else {
        const wide = this.varint64(end);
        // Go reads the field number as int32(tag >> 3): large tags wrap, some to negative.
        fieldNumber = Number(BigInt.asIntN(32, wide >> 3n));
        wireType = Number(wide & 7n);
        tagText = wide.toString();
      }
      if (wireType === 4) {
        throw new WireFault(`proto: ${message.goName}: wiretype end group for non-group`);
      }
      if (fieldNumber <= 0) {
        const shown = tagText ?? String(tag);
        throw new WireFault(
          `proto: ${message.goName}: illegal tag ${fieldNumber} (wire type ${shown})`,
        );
      }
      const field = message.fields[fieldNumber];
      if (field === undefined) {
        this.skipValue(wireType, end);
        continue;
      }
      if (wireType === field.wireType) {
        if (wireType === 2) this.checkLengthDelimited(field, end);
        else this.skipScalar(wireType, end);
      } else if (field.packed && wireType === 2) {
        this.checkPacked(field.wireType, end);
      } else {
        throw new WireFault(`proto: wrong wireType = ${wireType} for field ${field.goName}`);
      }
    }
    if (this.pos > end) throw new WireFault(unexpectedEof);
  }

  private checkLengthDelimited(field: CheckedField, end: number): void {
    const valueEnd = this.lengthPrefixed(end);
    if (field.message !== undefined) this.checkMessage(field.message, valueEnd);
    this.pos = valueEnd;
  }

  /**
   * A packed repeated scalar. gogo bounds each element by the enclosing message rather than
   * by the packed run, and carries on from wherever the last element ended.
   */
  private checkPacked(elementWireType: number, end: number): void {
    const runEnd = this.lengthPrefixed(end);
    while (this.pos < runEnd) this.skipScalar(elementWireType, end);
  }

  /** Reads a length prefix and returns where the value ends; `pos` is left at its start. */
  private lengthPrefixed(end: number): number {
    let length = this.varint(end);
    if (length < 0) {
      const wide = BigInt.asIntN(64, this.varint64(end));
      if (wide < 0n || wide + BigInt(this.pos) > maxInt64) throw new WireFault(negativeLength);
      length = wide > BigInt(end) ? end + 1 : Number(wide);
    }
    const valueEnd = this.pos + length;
    if (valueEnd > end) throw new WireFault(unexpectedEof);
    return valueEnd;
  }

  private skipScalar(wireType: number, end: number): void {
    if (wireType === 0) {
      this.skipVarint(end);
      return;
    }
    const size = wireType === 1 ? 8 : 4;
    if (this.pos + size > end) throw new WireFault(unexpectedEof);
    this.pos += size;
  }

  /** Skips an unknown field's value as gogo's `skip` does, groups (wire type 3) included. */
  private skipValue(wireType: number, end: number): void {
    let depth = 0;
    for (;;) {
      switch (wireType) {
        case 0:
          this.skipVarint(end);
          break;
        case 1:
          this.pos += 8;
          break;
        case 2:
          this.pos = this.lengthPrefixedUnchecked(end);
          break;
        case 3:
          depth++;
          break;
        case 4:
          depth--;
          break;
        case 5:
          this.pos += 4;
          break;
        default:
          throw new WireFault(`proto: illegal wireType ${wireType}`);
      }
      if (depth === 0) {
        if (this.pos > end) throw new WireFault(unexpectedEof);
        return;
      }
      if (this.pos >= end) throw new WireFault(unexpectedEof);
      const tag = this.varint(end);
      wireType = tag >= 0 ? tag & 7 : Number(this.varint64(end) & 7n);
    }
  }

  /** Like {@link lengthPrefixed}, but a value past `end` is left for the caller to find. */
  private lengthPrefixedUnchecked(end: number): number {
    const length = this.varint(end);
    if (length >= 0) return this.pos + length;
    const wide = BigInt.asIntN(64, this.varint64(end));
    if (wide < 0n || wide + BigInt(this.pos) > maxInt64) throw new WireFault(negativeLength);
    return wide > BigInt(end) ? end + 1 : this.pos + Number(wide);
  }

  /**
   * Reads a varint of up to 4 bytes (below 2^28) and returns it; for a longer one returns -1
   * and leaves `pos` at its start for {@link varint64}.
   */
  private varint(end: number): number {
    const bytes = this.bytes;
    let pos = this.pos;
    let value = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= end) throw new WireFault(unexpectedEof);
      const byte = bytes[pos++] as number;
      value |= (byte & 0x7f) << shift;
      if (byte < 0x80) {
        this.pos = pos;
        return value;
      }
    }
    return -1;
  }

  /** Reads a varint as Go's uint64: at most 10 bytes, the bits past 64 dropped. */
  private varint64(end: number): bigint {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (shift >= 64n) throw new WireFault(integerOverflow);
      if (this.pos >= end) throw new WireFault(unexpectedEof);
      const byte = this.bytes[this.pos++] as number;
      value |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return BigInt.asUintN(64, value);
    }
  }

  private skipVarint(end: number): void {
    const bytes = this.bytes;
    for (let shift = 0; ; shift += 7) {
      if (shift >= 64) throw new WireFault(integerOverflow);
      if (this.pos >= end) throw new WireFault(unexpectedEof);
      if ((bytes[this.pos++] as number) < 0x80) return;
    }
  }
}

interface CheckedMessage {
  readonly goName: string;
  /** By field number; holes are fields the message does not have. */
  readonly fields: (CheckedField | undefined)[];
}

interface CheckedField {
  readonly goName: string;
  /** The wire type of one value (of one element, for a packed field). */
  readonly wireType: number;
  readonly packed: boolean;
  readonly message: CheckedMessage | undefined;
}

/** A fault in the request's encoding, worded as etcd words it. */
class WireFault extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const empty = new Uint8Array(0);
const maxInt64 = (1n << 63n) - 1n;
const unexpectedEof = 'unexpected EOF';
const integerOverflow = 'proto: integer overflow';
const negativeLength = 'proto: negative length found during unmarshaling';

function wireTypeOf(kind: WireKind): number {
  switch (kind) {
    case 'varint':
    case 'packed-varint':
      return 0;
    case 'fixed64':
    case 'packed-fixed64':
      return 1;
    case 'fixed32':
    case 'packed-fixed32':
      return 5;
    case 'bytes':
    case 'message':
      return 2;
  }
}
