/** A field's type as the gateway's JSON mapping tells them apart (proto3's JSON mapping). */
export type JsonFieldType =
  | 'int64'
  | 'uint64'
  | 'int32'
  | 'uint32'
  | 'bool'
  | 'string'
  | 'bytes'
  | 'enum'
  | 'message';

/**
 * One field: number, name as written in the .proto (what the gateway writes), its lowerCamel
 * JSON name (also accepted on input), type, whether it repeats or belongs to a oneof (whose
 * members are sent even when zero: their presence says which case is set), and the full name
 * of its message or enum type.
 */
export type JsonField = readonly [
  number: number,
  protoName: string,
  jsonName: string,
  type: JsonFieldType,
  label: 'single' | 'repeated' | 'oneof',
  typeName?: string,
];

/**
 * The messages, enums and methods of a set of gRPC services, derived from their .proto sources
 * by tools/codegen.mjs (see `etcd-json-schema.ts`).
 *
 * Example: `messages['etcdserverpb.RangeRequest'][0]` is `[1, 'key', 'key', 'bytes', 'single']`;
 * `enums['etcdserverpb.RangeRequest.SortOrder']` is `['etcdserverpb.RangeRequest_SortOrder',
 * [['NONE', 0], ['ASCEND', 1], ['DESCEND', 2]]]`; `methods['/etcdserverpb.KV/Range']` is
 * `['etcdserverpb.RangeRequest', 'etcdserverpb.RangeResponse']`.
 */
export interface JsonSchema {
  /** By full protobuf name: the fields in declaration order. */
  readonly messages: Readonly<Record<string, readonly JsonField[]>>;
  /** By full protobuf name: the Go type name etcd's errors quote, and the values by name. */
  readonly enums: Readonly<
    Record<string, readonly [goName: string, values: readonly (readonly [string, number])[]]>
  >;
  /** By gRPC path: the full names of the request and the response message. */
  readonly methods: Readonly<Record<string, readonly [request: string, response: string]>>;
}
