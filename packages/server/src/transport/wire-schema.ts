/**
 * How a field travels on the wire, as far as checking a request's encoding needs to know:
 * the wire types it may arrive with, and whether its bytes are a nested message to check.
 * `packed-*` is a repeated scalar, which proto3 sends packed (wire type 2) and a decoder must
 * also take one element at a time.
 */
export type WireKind =
  | 'varint'
  | 'fixed64'
  | 'fixed32'
  | 'bytes'
  | 'message'
  | 'packed-varint'
  | 'packed-fixed64'
  | 'packed-fixed32';

/** One field: number, the Go name etcd's errors quote, kind, and the message type of a `message`. */
export type WireField = readonly [
  number: number,
  goName: string,
  kind: WireKind,
  messageType?: string,
];

/**
 * The request messages of a set of gRPC services, derived from their .proto sources by
 * tools/codegen.mjs (see `etcd-wire-schema.ts`).
 *
 * Example: `messages['etcdserverpb.RangeRequest']` is `['RangeRequest', [[1, 'Key',
 * 'bytes'], ...]]` and `methods['/etcdserverpb.KV/Range']` is `'etcdserverpb.RangeRequest'`.
 */
export interface WireSchema {
  /** By full protobuf name: the message's Go name and its fields. */
  readonly messages: Readonly<
    Record<string, readonly [goName: string, fields: readonly WireField[]]>
  >;
  /** By gRPC path: the full name of the method's request message. */
  readonly methods: Readonly<Record<string, string>>;
}
