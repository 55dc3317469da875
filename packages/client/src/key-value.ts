/**
 * A key-value as stored by etcd. Keys and values are raw bytes; `keyString` and
 * `valueString` decode them as UTF-8. Revisions, version and lease are `bigint`, as on
 * the wire.
 */
export class KeyValue {
  constructor(
    readonly key: Buffer,
    readonly value: Buffer,
    /** Revision of the put that created the key (since its last deletion). */
    readonly createRevision: bigint,
    /** Revision of the last put to the key (or, in a delete event, of the deletion). */
    readonly modRevision: bigint,
    /** Number of puts since creation: 1 after creation, 0 once deleted. */
    readonly version: bigint,
    /** The lease the key is attached to, 0n for none. */
    readonly lease: bigint,
  ) {}

  /** The key decoded as UTF-8. */
  get keyString(): string {
    return this.key.toString('utf8');
  }

  /** The value decoded as UTF-8. */
  get valueString(): string {
    return this.value.toString('utf8');
  }
}
