/**
 * Just enough of the protobuf wire format to take an encoded message apart field by field
 * and put it back together with one field changed, so mutations can aim at a field's tag,
 * length or value instead of at random bytes.
 *
 * Example: `0a 03 66 6f 6f` is field 1, wire type 2 (length-delimited), value "foo";
 * `parseFields` returns `[{fieldNo: 1, wireType: 2, tag: 0a, value: 66 6f 6f}]` and
 * `encodeFields` of that list gives the same five bytes back.
 */

export const WireType = {varint: 0, fixed64: 1, lengthDelimited: 2, fixed32: 5} as const;

/** One field as it appeared on the wire. */
export interface WireField {
  readonly fieldNo: number;
  readonly wireType: number;
  /** The value's bytes: the varint itself, 8 or 4 fixed bytes, or a length-delimited payload. */
  readonly value: Buffer;
}

/** Encodes `value` (taken modulo 2^64) as a protobuf varint. */
export function varint(value: bigint | number): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return Buffer.from(out);
}

/** A tag without validation: field 0 and wire types 3, 4, 6, 7 are all encodable. */
export function tag(fieldNo: number, wireType: number): Buffer {
  return varint((BigInt(fieldNo) << 3n) | BigInt(wireType & 7));
}

export function lengthDelimited(fieldNo: number, payload: Uint8Array): Buffer {
  return Buffer.concat([tag(fieldNo, WireType.lengthDelimited), varint(payload.length), payload]);
}

export function varintField(fieldNo: number, value: bigint | number): Buffer {
  return Buffer.concat([tag(fieldNo, WireType.varint), varint(value)]);
}

/** Re-encodes fields, each as tag + value (+ length for wire type 2). */
export function encodeFields(fields: readonly WireField[]): Buffer {
  return Buffer.concat(
    fields.map(f =>
      f.wireType === WireType.lengthDelimited
        ? lengthDelimited(f.fieldNo, f.value)
        : Buffer.concat([tag(f.fieldNo, f.wireType), f.value]),
    ),
  );
}

function readVarint(bytes: Buffer, at: number): {value: bigint; next: number} | undefined {
  // Most varints are tags and lengths of one or two bytes: skip the bigint arithmetic.
  const b0 = bytes[at];
  if (b0 !== undefined && b0 < 0x80) return {value: BigInt(b0), next: at + 1};
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    const byte = bytes[at + i];
    if (byte === undefined) return undefined;
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if ((byte & 0x80) === 0) return {value, next: at + i + 1};
  }
  return undefined;
}

const maxFields = 4096;

/**
 * Splits a message into its fields, or returns undefined when the bytes are not a
 * well-formed sequence of fields (groups, wire types 3/4/6/7 and field 0 count as not
 * well-formed: the mutations only start from clean messages).
 */
export function parseFields(bytes: Buffer): WireField[] | undefined {
  const fields: WireField[] = [];
  let at = 0;
  while (at < bytes.length) {
    // Filler read as fields (a megabyte of 0x78 is half a million varint fields) is no
    // message a template made: give up rather than spend the run's time on it.
    if (fields.length > maxFields) return undefined;
    const t = readVarint(bytes, at);
    if (t === undefined) return undefined;
    const fieldNo = Number(t.value >> 3n);
    const wireType = Number(t.value & 7n);
    if (fieldNo === 0) return undefined;
    at = t.next;
    let end: number;
    let valueStart = at;
    if (wireType === WireType.varint) {
      const v = readVarint(bytes, at);
      if (v === undefined) return undefined;
      end = v.next;
    } else if (wireType === WireType.fixed64) {
      end = at + 8;
    } else if (wireType === WireType.fixed32) {
      end = at + 4;
    } else if (wireType === WireType.lengthDelimited) {
      const n = readVarint(bytes, at);
      if (n === undefined) return undefined;
      valueStart = n.next;
      end = n.next + Number(n.value);
    } else {
      return undefined;
    }
    if (end > bytes.length) return undefined;
    fields.push({fieldNo, wireType, value: bytes.subarray(valueStart, end)});
    at = end;
  }
  return fields;
}

/**
 * Like {@link parseFields}, for a length-delimited value that might be a nested message:
 * only a non-empty one, and not a large blob (parsing a megabyte of filler as fields is
 * slow and never what a template nested).
 */
export function parseNested(value: Buffer): WireField[] | undefined {
  if (value.length === 0 || value.length > 64 * 1024) return undefined;
  return parseFields(value);
}
