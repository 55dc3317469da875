import {MessageType} from '@synod/proto/raftpb';
import {describe, expect, it} from 'vitest';
import {ReadOnly} from './read-only.js';
import {msg} from './testing/fixtures.js';

const ctx = (s: string) => new TextEncoder().encode(s);
const req = (s: string) => msg(MessageType.MsgReadIndex, {context: ctx(s)});

describe('ReadOnly', () => {
  it('confirms requests in order: an ack of a later one confirms the earlier ones', () => {
    const ro = new ReadOnly();
    ro.addRequest(5, req('a'));
    ro.addRequest(6, req('b'));
    ro.addRequest(7, req('c'));
    expect(new TextDecoder().decode(ro.lastPendingRequestCtx())).toBe('c');
    expect(ro.recvAck(2, ctx('b'))?.size).toBe(1);
    const done = ro.advance(ctx('b'));
    expect(done.map(d => d.index)).toEqual([5, 6]);
    expect(ro.size).toBe(1);
    expect(ro.advance(ctx('zzz'))).toEqual([]);
  });

  it('ignores a duplicate request and acks of unknown contexts', () => {
    const ro = new ReadOnly();
    ro.addRequest(5, req('a'));
    ro.addRequest(9, req('a'));
    expect(ro.size).toBe(1);
    expect(ro.recvAck(2, ctx('nope'))).toBeUndefined();
    expect(ro.advance(ctx('a')).map(d => d.index)).toEqual([5]);
    expect(ro.lastPendingRequestCtx()).toBeUndefined();
  });
});
