import {ConfChangeType, EntryType, Message, MessageType} from '@synod/proto/raftpb';
import type {Entry} from '@synod/proto/raftpb';
import {ConfChange} from '@synod/proto/raftpb';
import {InternalRequest} from '@synod/proto/synodpb';
import {MemoryStorage, RawNode, SeededRng} from '@synod/raft';
import {waitFor} from '@synod/testing';
import {describe, expect, it} from 'vitest';

import {nodeClock} from '../util/node-clock.js';
import {RaftLoop} from './raft-loop.js';
import {proposalKey, RepeatedProposals} from './repeated-proposals.js';

const put = (id: bigint, value: string): Uint8Array =>
  InternalRequest.encode({
    header: {id, username: '', authRevision: 0n},
    request: {
      $case: 'put',
      value: {
        key: Buffer.from('k'),
        value: Buffer.from(value),
        lease: 0n,
        prevKv: false,
        ignoreValue: false,
        ignoreLease: false,
      },
    },
  }).finish();

const normal = (data: Uint8Array): Entry => ({
  term: 0,
  index: 0,
  type: EntryType.EntryNormal,
  data,
});

/** A MsgProp from member 2 to member 1, as a follower forwards a proposal to its leader. */
const forwarded = (...entries: Entry[]): Message =>
  Message.fromPartial({type: MessageType.MsgProp, from: 2, to: 1, entries});

/** What a second copy looks like after the wire: decoded anew, sharing nothing. */
const copyOf = (m: Message): Message => Message.decode(Message.encode(m).finish());

describe('proposalKey', () => {
  const cases: [string, Entry[], string | undefined][] = [
    ['a put: its request header', [normal(put(150n, 'a'))], 'n:089601'],
    ['the same request with another value: the same key', [normal(put(150n, 'b'))], 'n:089601'],
    [
      'a batch: its entries in order',
      [normal(put(1n, 'a')), normal(put(2n, 'b'))],
      'n:0801|n:0802',
    ],
    ['the empty entry a new leader appends: none', [normal(new Uint8Array(0))], undefined],
    ['data that is no InternalRequest: none', [normal(Buffer.from('raw'))], undefined],
    ['a header without an id: none', [normal(Uint8Array.of(0x0a, 0x02, 0x12, 0x00))], undefined],
    [
      'a header longer than the data: none',
      [normal(Uint8Array.of(0x0a, 0x09, 0x08, 0x01))],
      undefined,
    ],
    ['no entries: none', [], undefined],
  ];
  it.each(cases)('%s', (_name, entries, key) => {
    expect(proposalKey(entries)).toBe(key);
  });

  it('a conf change: its bytes', () => {
    const data = ConfChange.encode({
      type: ConfChangeType.ConfChangeAddNode,
      nodeId: 3,
      id: 0,
      context: Uint8Array.of(7),
    }).finish();
    expect(proposalKey([{term: 0, index: 0, type: EntryType.EntryConfChange, data}])).toBe(
      `c:${Buffer.from(data).toString('hex')}`,
    );
  });
});

describe('RepeatedProposals', () => {
  it('takes a proposal once and drops its copies, until it leaves the window', () => {
    const seen = new RepeatedProposals(2);
    const a = forwarded(normal(put(1n, 'a')));
    expect(seen.isRepeat(a)).toBe(false);
    expect(seen.isRepeat(copyOf(a))).toBe(true);
    expect(seen.isRepeat(forwarded(normal(put(2n, 'b'))))).toBe(false);
    expect(seen.isRepeat(forwarded(normal(put(3n, 'c'))))).toBe(false);
    // Three proposals in a window of two: the first is forgotten.
    expect(seen.isRepeat(copyOf(a))).toBe(false);
  });

  it('never drops a proposal it cannot identify', () => {
    const seen = new RepeatedProposals();
    const raw = forwarded(normal(Buffer.from('raw')));
    expect(seen.isRepeat(raw)).toBe(false);
    expect(seen.isRepeat(copyOf(raw))).toBe(false);
  });
});

describe('a leader receiving a forwarded proposal twice', () => {
  it('appends and applies it once, and still takes the next one', async () => {
    const storage = new MemoryStorage();
    const node = new RawNode({
      id: 1,
      electionTick: 10,
      heartbeatTick: 1,
      storage,
      rng: new SeededRng(3),
    });
    node.bootstrap([{id: 1}]);
    const applied: string[] = [];
    const loop = new RaftLoop(
      node,
      {
        persist(rd) {
          if (rd.hardState !== undefined) storage.setHardState(rd.hardState);
          storage.append(rd.entries);
          return Promise.resolve();
        },
        send() {
          // A single voter has no peers.
        },
        apply(_snapshot, entries) {
          for (const e of entries) {
            if (e.type !== EntryType.EntryNormal || e.data.length === 0) continue;
            const request = InternalRequest.decode(e.data).request;
            if (request?.$case === 'put') applied.push(Buffer.from(request.value.value).toString());
          }
        },
        onSoftState() {
          // Not needed here.
        },
        onFatal(error) {
          throw error;
        },
      },
      10,
      nodeClock,
    );
    node.campaign();
    loop.start();
    try {
      await waitFor(() => loop.isLeader);
      const first = forwarded(normal(put(41n, 'v57')));
      loop.step(first);
      // The network delivers the same message again, after the proposal was applied.
      await waitFor(() => applied.length === 1);
      loop.step(copyOf(first));
      loop.step(forwarded(normal(put(42n, 'v61'))));
      await waitFor(() => applied.length === 2);
      loop.step(copyOf(first));
      // Give a wrongly appended copy the time to be applied.
      await new Promise(resolve => setTimeout(resolve, 50));
      expect(applied).toEqual(['v57', 'v61']);
    } finally {
      loop.stop();
    }
  });
});
