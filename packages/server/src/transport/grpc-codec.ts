import {EtcdErrors} from '@synod/proto';
import type {TsProtoServiceDefinition} from 'nice-grpc';
import {ServerError, Status} from 'nice-grpc-common';

import {etcdWireSchema} from './etcd-wire-schema.js';
import {WireValidator} from './wire-validator.js';

/** A method of a ts-proto service definition. */
export type AnyMethod = TsProtoServiceDefinition['methods'][string];

/**
 * Marks fields of a response that are already encoded: the serializer appends these bytes
 * to the encoding of the rest. Protobuf lets a message's fields come in any order and a
 * repeated field's elements in separate records, so a message whose repeated field is left
 * empty and whose elements follow as encoded records decodes as the whole. The watch
 * service uses it to encode an event once for all the watchers it goes to.
 *
 * Example: `{watchId: 7n, events: [], [encodedTail]: [<5a 0c ...>]}` is sent as
 * `<10 07> <5a 0c ...>`: field 2 (watch_id), then field 11 (one event) as encoded earlier.
 */
export const encodedTail = Symbol('encodedTail');

/** A response carrying {@link encodedTail}: whole field records, tag included. */
export interface WithEncodedTail {
  readonly [encodedTail]?: readonly Uint8Array[];
}

/** The etcd API's requests are checked before decoding: see {@link WireValidator}. */
const strictValidators = WireValidator.forMethods(etcdWireSchema);

/**
 * A request whose bytes etcd would refuse to decode, with etcd's reason. The deserializer
 * returns it rather than throwing, because grpc-js answers a throwing deserializer with its own
 * message; the handler turns it into etcd's status instead.
 */
export class UndecodableRequest {
  /** @param refusal etcd's answer when it is not a decoding error (the request decodes there). */
  constructor(
    readonly reason: string,
    private readonly refusal?: ServerError,
  ) {}

  /** grpc-go's status for a unary call's request (`processUnaryRPC`). */
  unaryError(): ServerError {
    if (this.refusal !== undefined) return this.refusal;
    return new ServerError(Status.INTERNAL, `grpc: error unmarshalling request: ${this.reason}`);
  }

  /** grpc-go's status for a message read from a stream (`RecvMsg`), without a colon. */
  streamError(): ServerError {
    if (this.refusal !== undefined) return this.refusal;
    return new ServerError(
      Status.INTERNAL,
      `grpc: failed to unmarshal the received message ${this.reason}`,
    );
  }
}

/**
 * A request's message from its bytes, checked first as etcd's decoder would
 * ({@link WireValidator}); bytes etcd refuses come back as an {@link UndecodableRequest}.
 */
export function decodeRequest(method: AnyMethod, path: string, bytes: Uint8Array): unknown {
  const validator = strictValidators.get(path);
  const reason = validator?.check(bytes);
  if (reason !== undefined) return new UndecodableRequest(reason);
  try {
    return method.requestType.decode(bytes);
  } catch (error) {
    // Well-formed bytes nested deeper than the decoders go (see tools/codegen.mjs). Only a txn
    // nests; etcd decodes it and refuses it for its op budget, which runs out by level 130.
    if (path === txnPath) {
      const {code, message} = EtcdErrors.tooManyOps;
      return new UndecodableRequest('', new ServerError(code, message));
    }
    return new UndecodableRequest(error instanceof Error ? error.message : String(error));
  }
}

const txnPath = '/etcdserverpb.KV/Txn';

/**
 * A handler's response as bytes. Handlers may return partial messages, as nice-grpc allows,
 * and fields already encoded ({@link encodedTail}).
 */
export function encodeResponse(method: AnyMethod, value: unknown): Buffer {
  const {responseType} = method;
  const tail = (value as WithEncodedTail)[encodedTail];
  const full: unknown =
    responseType.fromPartial === undefined ? value : responseType.fromPartial(value);
  const head = responseType.encode(full).finish();
  return tail === undefined ? Buffer.from(head) : Buffer.concat([head, ...tail]);
}
