import type {KeyValue as ProtoKeyValue} from '@synod/proto';

import {prefixEnd, toBuffer} from './bytes.js';
import type {Bytes} from './bytes.js';
import {KeyValue} from './key-value.js';

/**
 * Which keys an operation covers:
 * - a key (`'a'`): that key only;
 * - `{prefix: 'a/'}`: every key starting with `a/` (`{prefix: ''}` is every key);
 * - `{fromKey: 'a'}`: every key `>= 'a'`;
 * - `{key: 'a', end: 'c'}`: keys in `['a', 'c')`, with etcd's raw conventions (`end: '\0'`
 *   means "to the end of the keyspace").
 */
export type KeySelector =
  | Bytes
  | {readonly key: Bytes; readonly end?: Bytes}
  | {readonly prefix: Bytes}
  | {readonly fromKey: Bytes};

/** A key and range end as sent on the wire. */
export interface WireRange {
  readonly key: Buffer;
  readonly rangeEnd: Buffer;
}

const zero = Buffer.from([0]);
const empty = Buffer.alloc(0);

function isZero(bytes: Buffer): boolean {
  return bytes.length === 1 && bytes[0] === 0;
}

/**
 * Maps the caller's keys to the server's under a key prefix (the namespace), and back.
 * The root key space has an empty prefix and maps keys unchanged.
 *
 * Ranges stay inside the namespace: `{prefix: ''}` in namespace `app/` is `[app/, app0)`,
 * and a range end of `\0` ("to the end") becomes the end of the namespace, `app0`.
 */
export class KeySpace {
  /** The root key space: no prefix. */
  static readonly root = new KeySpace(empty);

  private constructor(readonly prefix: Buffer) {}

  /** A key space nested in this one, under `prefix` (relative to this one). */
  child(prefix: Bytes): KeySpace {
    const added = toBuffer(prefix);
    if (added.length === 0) return this;
    return new KeySpace(Buffer.concat([this.prefix, added]));
  }

  /** The server's key for the caller's key. */
  key(key: Bytes): Buffer {
    const bytes = toBuffer(key);
    return this.prefix.length === 0 ? bytes : Buffer.concat([this.prefix, bytes]);
  }

  /** The end of this namespace's keys (etcd's `\0` at the root). */
  private end(): Buffer {
    return this.prefix.length === 0 ? zero : prefixEnd(this.prefix);
  }

  /** The server's key and range end for a selector. */
  range(selector: KeySelector): WireRange {
    if (typeof selector === 'string' || selector instanceof Uint8Array) {
      return {key: this.key(selector), rangeEnd: empty};
    }
    if ('prefix' in selector) {
      const full = this.key(selector.prefix);
      return full.length === 0
        ? {key: zero, rangeEnd: zero}
        : {key: full, rangeEnd: prefixEnd(full)};
    }
    if ('fromKey' in selector) {
      const full = this.key(selector.fromKey);
      return {key: full.length === 0 ? zero : full, rangeEnd: this.end()};
    }
    const end = selector.end === undefined ? empty : toBuffer(selector.end);
    let rangeEnd: Buffer;
    if (end.length === 0) rangeEnd = empty;
    else if (isZero(end)) rangeEnd = this.end();
    else rangeEnd = this.key(end);
    return {key: this.key(selector.key), rangeEnd};
  }

  /** Whether a server key lies inside this namespace. */
  contains(key: Buffer): boolean {
    return (
      key.length >= this.prefix.length && key.subarray(0, this.prefix.length).equals(this.prefix)
    );
  }

  /** The caller's key for a server key inside this namespace. */
  strip(key: Buffer): Buffer {
    if (this.prefix.length === 0) return key;
    return key.subarray(Math.min(this.prefix.length, key.length));
  }

  /** A stored key-value as the caller sees it, with the namespace stripped from the key. */
  keyValue(kv: ProtoKeyValue): KeyValue {
    return new KeyValue(
      this.strip(kv.key),
      kv.value,
      kv.createRevision,
      kv.modRevision,
      kv.version,
      kv.lease,
    );
  }
}
