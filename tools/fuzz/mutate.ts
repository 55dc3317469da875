import type {FuzzRandom} from './prng.js';
import {maxRequestBytes} from './values.js';
import type {WireField} from './wire.js';
import {WireType, encodeFields, parseFields, parseNested, tag, varint} from './wire.js';

/** A mutated message and what was done to it, in words for the summary. */
export interface Mutation {
  readonly bytes: Buffer;
  readonly what: string;
}

type Operator = (rng: FuzzRandom, message: Buffer, fields: WireField[] | undefined) => Mutation;

/** Varints worth putting in any varint field: int64/uint64 edges and out-of-range enums. */
const extremeVarints: readonly (readonly [string, Buffer])[] = [
  ['0', varint(0)],
  ['-1', varint(-1n)],
  ['2^63-1', varint((1n << 63n) - 1n)],
  ['2^64-1', varint((1n << 64n) - 1n)],
  ['-2^63', varint(-(1n << 63n))],
  ['2^31', varint(1n << 31n)],
  ['2^32', varint(1n << 32n)],
  ['99', varint(99)],
  ['5', varint(5)],
  // Not canonical but legal: 1 padded to 10 bytes.
  ['1 in 10 bytes', Buffer.from([0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00])],
  // Illegal: an 11-byte varint, and a 10th byte with more than one bit.
  ['11-byte varint', Buffer.from([...Array<number>(10).fill(0xff), 0x01])],
  ['varint overflow', Buffer.from([...Array<number>(9).fill(0xff), 0x7f])],
];

const invalidUtf8: readonly (readonly [string, Buffer])[] = [
  ['0xff', Buffer.from([0xff])],
  ['0xc0 0x80 (overlong NUL)', Buffer.from([0x61, 0xc0, 0x80, 0x62])],
  ['lone surrogate', Buffer.from([0xed, 0xa0, 0x80])],
  ['cut 3-byte sequence', Buffer.from([0x66, 0x7a, 0xe2, 0x82])],
  ['0xfe 0xfe', Buffer.from([0xfe, 0xfe, 0x61])],
];

function pickField(rng: FuzzRandom, fields: WireField[], wireType?: number): number | undefined {
  const candidates = fields.flatMap((f, i) =>
    wireType === undefined || f.wireType === wireType ? [i] : [],
  );
  return candidates.length === 0 ? undefined : rng.pick(candidates);
}

function replaced(fields: WireField[], index: number, field: WireField): Buffer {
  return encodeFields(fields.map((f, i) => (i === index ? field : f)));
}

const truncate: Operator = (rng, message) => {
  if (message.length < 2) return {bytes: Buffer.alloc(0), what: 'truncated to 0 bytes'};
  const at = rng.int(1, message.length - 1);
  return {bytes: message.subarray(0, at), what: `truncated to ${at} of ${message.length} bytes`};
};

const flipBytes: Operator = (rng, message) => {
  if (message.length === 0)
    return {bytes: rng.bytes(rng.int(1, 4)), what: 'random bytes for an empty message'};
  const out = Buffer.from(message);
  const count = rng.int(1, 3);
  const at: number[] = [];
  for (let i = 0; i < count; i++) {
    const p = rng.int(0, out.length - 1);
    out[p]! ^= rng.int(1, 255);
    at.push(p);
  }
  return {bytes: out, what: `flipped byte${count > 1 ? 's' : ''} ${at.join(', ')}`};
};

const wrongWireType: Operator = (rng, message, fields) => {
  const i = fields === undefined ? undefined : pickField(rng, fields);
  if (fields === undefined || i === undefined) return fieldZero(rng, message, fields);
  const field = fields[i]!;
  const others = [0, 1, 2, 3, 4, 5, 6, 7].filter(w => w !== field.wireType);
  const wireType = rng.pick(others);
  // Keep the old value bytes (and the old length prefix for a length-delimited value), so
  // the server reads the same bytes under the wrong type.
  const value =
    field.wireType === WireType.lengthDelimited
      ? Buffer.concat([varint(field.value.length), field.value])
      : field.value;
  const before = encodeFields(fields.slice(0, i));
  const after = encodeFields(fields.slice(i + 1));
  return {
    bytes: Buffer.concat([before, tag(field.fieldNo, wireType), value, after]),
    what: `field ${field.fieldNo} sent as wire type ${wireType} (was ${field.wireType})`,
  };
};

const fieldZero: Operator = (rng, message, fields) => {
  const wireType = rng.pick([0, 1, 2, 5]);
  const body =
    wireType === 0
      ? varint(rng.int(0, 300))
      : wireType === 1
        ? rng.bytes(8)
        : wireType === 5
          ? rng.bytes(4)
          : Buffer.from([1, 0x61]);
  const inserted = Buffer.concat([tag(0, wireType), body]);
  const at = fields === undefined || fields.length === 0 ? 0 : rng.int(0, fields.length);
  const bytes =
    fields === undefined
      ? Buffer.concat([inserted, message])
      : Buffer.concat([
          encodeFields(fields.slice(0, at)),
          inserted,
          encodeFields(fields.slice(at)),
        ]);
  return {bytes, what: `field number 0 (wire type ${wireType}) inserted`};
};

const extremeVarint: Operator = (rng, message, fields) => {
  const [name, value] = rng.pick(extremeVarints);
  const i = fields === undefined ? undefined : pickField(rng, fields, WireType.varint);
  if (fields === undefined || i === undefined) {
    const fieldNo = rng.int(1, 6);
    return {
      bytes: Buffer.concat([message, tag(fieldNo, WireType.varint), value]),
      what: `varint field ${fieldNo} = ${name} appended`,
    };
  }
  const field = fields[i]!;
  return {
    bytes: replaced(fields, i, {...field, value}),
    what: `varint field ${field.fieldNo} = ${name}`,
  };
};

const lengthPastEnd: Operator = (rng, message, fields) => {
  const i = fields === undefined ? undefined : pickField(rng, fields, WireType.lengthDelimited);
  const claimed = rng.pick([1n, 1000n, 1n << 31n, 1n << 32n, (1n << 63n) - 1n]);
  if (fields === undefined || i === undefined) {
    return {
      bytes: Buffer.concat([
        message,
        tag(1, WireType.lengthDelimited),
        varint(claimed + 1n),
        Buffer.from([0x61]),
      ]),
      what: `field 1 claims ${claimed + 1n} bytes, 1 follows`,
    };
  }
  const field = fields[i]!;
  const length = BigInt(field.value.length) + claimed;
  return {
    bytes: Buffer.concat([
      encodeFields(fields.filter((_, j) => j !== i)),
      tag(field.fieldNo, WireType.lengthDelimited),
      varint(length),
      field.value,
    ]),
    what: `field ${field.fieldNo} claims ${length} bytes, ${field.value.length} follow`,
  };
};

const oversize: Operator = (rng, message, fields) => {
  const target = rng.pick([
    maxRequestBytes - 1024,
    maxRequestBytes,
    maxRequestBytes + 1024,
    2 * 1024 * 1024 + 1024,
  ]);
  const size = Math.max(1, target - message.length);
  const value = Buffer.alloc(size, 0x78);
  const i = fields === undefined ? undefined : pickField(rng, fields, WireType.lengthDelimited);
  if (fields === undefined || i === undefined) {
    const fieldNo = rng.int(1, 4);
    return {
      bytes: Buffer.concat([message, tag(fieldNo, WireType.lengthDelimited), varint(size), value]),
      what: `field ${fieldNo} of ${size} bytes appended (message ~${target} bytes)`,
    };
  }
  const field = fields[i]!;
  return {
    bytes: replaced(fields, i, {...field, value}),
    what: `field ${field.fieldNo} grown to ${size} bytes (message ~${target} bytes)`,
  };
};

const badUtf8: Operator = (rng, message, fields) => {
  const [name, value] = rng.pick(invalidUtf8);
  const i = fields === undefined ? undefined : pickField(rng, fields, WireType.lengthDelimited);
  if (fields === undefined || i === undefined) {
    const fieldNo = rng.int(1, 4);
    return {
      bytes: Buffer.concat([
        message,
        tag(fieldNo, WireType.lengthDelimited),
        varint(value.length),
        value,
      ]),
      what: `field ${fieldNo} = invalid UTF-8 (${name}) appended`,
    };
  }
  const field = fields[i]!;
  return {
    bytes: replaced(fields, i, {...field, value}),
    what: `field ${field.fieldNo} = invalid UTF-8 (${name})`,
  };
};

const duplicateField: Operator = (rng, message, fields) => {
  const i = fields === undefined ? undefined : pickField(rng, fields);
  if (fields === undefined || i === undefined) return unknownField(rng, message, fields);
  return {
    bytes: Buffer.concat([message, encodeFields([fields[i]!])]),
    what: `field ${fields[i]!.fieldNo} repeated`,
  };
};

const unknownField: Operator = (rng, message) => {
  const fieldNo = rng.pick([999, 19_000, (1 << 29) - 1, 1 << 29, 2 ** 32 - 1]);
  return {
    bytes: Buffer.concat([message, tag(fieldNo, WireType.varint), varint(1)]),
    what: `unknown field ${fieldNo} appended`,
  };
};

const topLevel: readonly (readonly [number, Operator])[] = [
  [3, truncate],
  [3, flipBytes],
  [2, wrongWireType],
  [1, fieldZero],
  [3, extremeVarint],
  [2, lengthPastEnd],
  [1, oversize],
  [2, badUtf8],
  [1, duplicateField],
  [1, unknownField],
];

/** Inside a nested message; no duplication, whose merge rules differ between decoders. */
const nestedOperators = topLevel.filter(([, op]) => op !== duplicateField && op !== oversize);

/**
 * Applies one mutation to a message: at its top level, or inside one of its nested
 * messages (whose length prefix is then rewritten to fit).
 */
export function mutateOnce(rng: FuzzRandom, message: Buffer): Mutation {
  const fields = parseFields(message);
  if (fields !== undefined && rng.chance(0.35)) {
    const nested = fields.flatMap((f, i) =>
      f.wireType === WireType.lengthDelimited && parseNested(f.value) !== undefined ? [i] : [],
    );
    if (nested.length > 0) {
      const i = rng.pick(nested);
      const field = fields[i]!;
      const inner = mutateNested(rng, field.value, 2);
      return {
        bytes: replaced(fields, i, {...field, value: inner.bytes}),
        what: `in field ${field.fieldNo}: ${inner.what}`,
      };
    }
  }
  return rng.weighted(topLevel)(rng, message, fields);
}

function mutateNested(rng: FuzzRandom, message: Buffer, depth: number): Mutation {
  const fields = parseFields(message);
  if (fields !== undefined && depth > 0 && rng.chance(0.3)) {
    const nested = fields.flatMap((f, i) =>
      f.wireType === WireType.lengthDelimited && parseNested(f.value) !== undefined ? [i] : [],
    );
    if (nested.length > 0) {
      const i = rng.pick(nested);
      const field = fields[i]!;
      const inner = mutateNested(rng, field.value, depth - 1);
      return {
        bytes: replaced(fields, i, {...field, value: inner.bytes}),
        what: `in field ${field.fieldNo}: ${inner.what}`,
      };
    }
  }
  return rng.weighted(nestedOperators)(rng, message, fields);
}
