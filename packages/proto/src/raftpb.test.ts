/**
 * The Raft protocol is generated with 64-bit fields as JavaScript numbers
 * (ts-proto `forceLong=number`). These tests pin down what that means at the
 * edges, since the consensus core relies on it.
 */
import {describe, expect, it} from 'vitest';
import {ConfChange, ConfChangeType, EntryType, Message, MessageType} from './raftpb.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

function fromHex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

describe('raftpb', () => {
  it('round-trips a MsgApp with entries and a MsgSnap with a snapshot', () => {
    const conf = ConfChange.encode({
      type: ConfChangeType.ConfChangeAddLearnerNode,
      nodeId: 4,
      context: bytes('http://127.0.0.1:2380'),
      id: 9,
    }).finish();
    const app: Message = {
      type: MessageType.MsgApp,
      to: 2,
      from: 1,
      term: 7,
      logTerm: 6,
      index: 41,
      entries: [
        {term: 7, index: 42, type: EntryType.EntryNormal, data: bytes('put a=1')},
        {term: 7, index: 43, type: EntryType.EntryConfChange, data: conf},
      ],
      commit: 40,
      snapshot: undefined,
      reject: false,
      rejectHint: 0,
      context: new Uint8Array(0),
      commitOnly: false,
    };
    const decodedApp = Message.decode(Message.encode(app).finish());
    expect(decodedApp).toEqual(app);
    expect(ConfChange.decode(decodedApp.entries[1]?.data ?? new Uint8Array(0))).toEqual({
      type: ConfChangeType.ConfChangeAddLearnerNode,
      nodeId: 4,
      context: bytes('http://127.0.0.1:2380'),
      id: 9,
    });

    const snap: Message = {
      type: MessageType.MsgSnap,
      to: 3,
      from: 1,
      term: 7,
      logTerm: 0,
      index: 0,
      entries: [],
      commit: 0,
      snapshot: {
        data: bytes('state machine image'),
        metadata: {
          confState: {voters: [1, 2, 3], learners: [4]},
          // The largest value a number field may carry.
          index: Number.MAX_SAFE_INTEGER,
          term: 7,
        },
      },
      reject: true,
      rejectHint: 12,
      context: bytes('ctx'),
      commitOnly: false,
    };
    expect(Message.decode(Message.encode(snap).finish())).toEqual(snap);
  });

  it('decodes 2^53 - 1 and throws on 2^53 and 2^53 + 1 rather than lose precision', () => {
    // 20 = field 4 (term), varint. 2^53 - 1: seven 0xff groups (49 bits), then 0x0f.
    expect(Message.decode(fromHex('20 ffffffffffffff0f')).term).toBe(2 ** 53 - 1);
    // 2^53: bit 53 is bit 4 of the eighth group.
    expect(() => Message.decode(fromHex('20 8080808080808010'))).toThrow(
      /larger than Number.MAX_SAFE_INTEGER/,
    );
    // 2^53 + 1, which a double cannot hold.
    expect(() => Message.decode(fromHex('20 8180808080808010'))).toThrow(
      /larger than Number.MAX_SAFE_INTEGER/,
    );
    // A member id with all 64 bits set, in a repeated field (ConfState.voters
    // inside the snapshot's metadata).
    expect(() =>
      Message.decode(
        fromHex(
          '4a 0f' + // 9 snapshot, LEN 15
            '12 0d' + //   2 metadata, LEN 13
            '0a 0b' + //     1 conf_state, LEN 11
            '08 ffffffffffffffffff01', //       1 voters, one unpacked value 2^64 - 1
        ),
      ),
    ).toThrow(/larger than Number.MAX_SAFE_INTEGER/);
  });

  it('encodes an unsafe number that its own decoder then refuses', () => {
    // The encoder does not check the 2^53 bound: it writes 2^53 exactly, and
    // the decoder throws on it. Callers must keep values below 2^53 themselves.
    const encoded = Message.encode(Message.fromPartial({term: 2 ** 53})).finish();
    expect(Buffer.from(encoded).toString('hex')).toBe('208080808080808010');
    expect(() => Message.decode(encoded)).toThrow(/MAX_SAFE_INTEGER/);
    // Values no uint64 can hold are refused on encode.
    expect(() => Message.encode(Message.fromPartial({term: -1})).finish()).toThrow(/uint64/);
    expect(() => Message.encode(Message.fromPartial({term: 2 ** 64})).finish()).toThrow(/uint64/);
  });
});
