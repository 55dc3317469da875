import {gzipSync} from 'node:zlib';

import {AuthRoleAddRequest, AuthUserAddRequest} from '@synod/proto';
import {grpcFrame} from '@synod/testing';

import type {FuzzMethod} from './methods.js';
import {fuzzMethods, methodByLabel} from './methods.js';
import {mutateOnce} from './mutate.js';
import {FuzzRandom} from './prng.js';

/** How an input was made; the summary counts by it. */
export type InputKind = 'regression' | 'valid' | 'mutated' | 'random bytes' | 'framing';

/** One request to send to both servers. Everything in it follows from (seed, index). */
export interface FuzzInput {
  readonly index: number;
  readonly method: FuzzMethod;
  readonly kind: InputKind;
  /** What was done, in words: "field 1 claims 1000 bytes, 3 follow". */
  readonly what: string;
  /** The HTTP/2 request body, exactly as sent. */
  readonly body: Buffer;
  /** Request headers to add or replace. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Every message a server could decode from the body, however it reads the framing
   * (including payloads a correct server must refuse): the safety guard checks them all.
   */
  readonly payloads: readonly Buffer[];
  /** Which member receives it, as a number to take modulo the member count. */
  readonly memberPick: number;
}

/**
 * Inputs that once broke Synod, sent first in every run (indices 0, 1, ...): a user or
 * role name of 4,000 bytes, longer than LMDB's largest key, crashed every member on apply,
 * and again on every restart.
 */
const regressions: readonly {method: string; what: string; payload: () => Buffer}[] = [
  {
    method: 'Auth/RoleAdd',
    what: 'role name of 4,000 bytes',
    payload: () => Buffer.from(AuthRoleAddRequest.encode({name: 'r'.repeat(4000)}).finish()),
  },
  {
    method: 'Auth/UserAdd',
    what: 'user name of 4,000 bytes',
    payload: () =>
      Buffer.from(
        AuthUserAddRequest.encode({
          name: 'u'.repeat(4000),
          password: 'p',
          options: undefined,
          hashedPassword: '',
        }).finish(),
      ),
  },
];

/** How many inputs at the start of every run are {@link regressions}. */
export const regressionCount = regressions.length;

/** No mutated message grows past this: twice gRPC's receive limit on both servers. */
const maxMutatedBytes = 4 * 1024 * 1024;

/** Input `index` of the run with `seed`. */
export function generateInput(seed: number, index: number): FuzzInput {
  const rng = FuzzRandom.forInput(seed, index);
  const memberPick = rng.int(0, 1 << 20);
  const regression = regressions[index];
  if (regression !== undefined) {
    const payload = regression.payload();
    return {
      index,
      method: methodByLabel(regression.method),
      kind: 'regression',
      what: regression.what,
      body: grpcFrame(payload),
      headers: {},
      payloads: [payload],
      memberPick,
    };
  }
  const method = rng.pick(fuzzMethods);
  const kind = rng.weighted<InputKind>([
    [30, 'valid'],
    [40, 'mutated'],
    [12, 'random bytes'],
    [18, 'framing'],
  ]);
  const base = {index, method, kind, memberPick};
  if (kind === 'random bytes') {
    const length = rng.weighted([
      [6, rng.int(0, 16)],
      [3, rng.int(17, 256)],
      [1, rng.int(257, 8192)],
    ]);
    const payload = rng.bytes(length);
    if (rng.chance(0.15)) {
      // Not even framed: whatever the bytes say the flag and length are.
      return {
        ...base,
        what: `${length} random body bytes, unframed`,
        body: payload,
        headers: {},
        payloads: [payload],
      };
    }
    return {
      ...base,
      what: `${length} random bytes`,
      body: grpcFrame(payload),
      headers: {},
      payloads: [payload],
    };
  }
  const messages = method.template(rng);
  if (kind === 'valid') {
    return {
      ...base,
      what: `well-formed, ${describeSize(messages)}`,
      body: Buffer.concat(messages.map(m => grpcFrame(m))),
      headers: {},
      payloads: messages,
    };
  }
  if (kind === 'mutated') {
    const which = rng.int(0, messages.length - 1);
    let message = messages[which]!;
    const steps: string[] = [];
    const count = rng.weighted([
      [6, 1],
      [3, 2],
      [1, 3],
    ]);
    for (let i = 0; i < count; i++) {
      const m = mutateOnce(rng, message);
      message = m.bytes;
      steps.push(m.what);
      if (message.length > maxMutatedBytes) {
        // Past any server's limit already; more bytes only cost time.
        message = message.subarray(0, maxMutatedBytes);
        steps.push(`cut to ${maxMutatedBytes} bytes`);
        break;
      }
    }
    const mutated = messages.map((m, i) => (i === which ? message : m));
    return {
      ...base,
      what: (messages.length > 1 ? `message ${which + 1}: ` : '') + steps.join('; '),
      body: Buffer.concat(mutated.map(m => grpcFrame(m))),
      headers: {},
      payloads: mutated,
    };
  }
  return {...base, ...framingVariant(rng, method, messages)};
}

function describeSize(messages: readonly Buffer[]): string {
  const bytes = messages.reduce((n, m) => n + m.length, 0);
  return messages.length > 1 ? `${messages.length} messages, ${bytes} bytes` : `${bytes} bytes`;
}

/** Well-formed messages in a frame a correct server must refuse, or must decompress first. */
function framingVariant(
  rng: FuzzRandom,
  method: FuzzMethod,
  messages: readonly Buffer[],
): Pick<FuzzInput, 'what' | 'body' | 'headers' | 'payloads'> {
  const first = messages[0]!;
  const payloads = [...messages];
  const variant = rng.int(0, 10);
  switch (variant) {
    case 0:
      return {
        what: 'compressed flag 1, no grpc-encoding',
        body: grpcFrame(first, 1),
        headers: {},
        payloads,
      };
    case 1:
      return {what: 'compressed flag 2', body: grpcFrame(first, 2), headers: {}, payloads};
    case 2:
      return {
        what: 'grpc-encoding gzip, flag 1, payload not gzip',
        body: grpcFrame(first, 1),
        headers: {'grpc-encoding': 'gzip'},
        payloads,
      };
    case 3:
      return {
        what: 'grpc-encoding gzip, flag 1, gzip payload',
        body: grpcFrame(gzipSync(first), 1),
        headers: {'grpc-encoding': 'gzip'},
        payloads,
      };
    case 4:
      return {
        what: 'grpc-encoding snappy (not supported), flag 1',
        body: grpcFrame(first, 1),
        headers: {'grpc-encoding': 'snappy'},
        payloads,
      };
    case 5: {
      const frame = grpcFrame(first);
      const cut = rng.int(5, Math.max(5, frame.length - 1));
      return {
        what: `message cut short: ${cut - 5} of ${first.length} payload bytes`,
        body: frame.subarray(0, cut),
        headers: {},
        payloads: [...payloads, first.subarray(0, cut - 5)],
      };
    }
    case 6: {
      const cut = rng.int(1, 4);
      return {
        what: `length prefix cut to ${cut} bytes`,
        body: grpcFrame(first).subarray(0, cut),
        headers: {},
        payloads,
      };
    }
    case 7: {
      const second = messages[1] ?? first;
      return {
        what: method.requestStream ? 'two messages on a stream' : 'two messages on a unary call',
        body: Buffer.concat([grpcFrame(first), grpcFrame(second)]),
        headers: {},
        payloads,
      };
    }
    case 8:
      return {
        what: 'no message at all',
        body: Buffer.alloc(0),
        headers: {},
        payloads: [Buffer.alloc(0)],
      };
    case 9: {
      const body = grpcFrame(first);
      body.writeUInt32BE(0xffffffff, 1);
      return {what: 'length prefix 0xffffffff', body, headers: {}, payloads};
    }
    default:
      return {
        what: 'trailing bytes after the message',
        body: Buffer.concat([grpcFrame(first), rng.bytes(rng.int(1, 4))]),
        headers: {},
        payloads,
      };
  }
}
