import {EntryType} from '@synod/proto/raftpb';
import {describe, expect, it} from 'vitest';

import {RecordEncoder, decodeEntry, decodeRecord, entryFrameBytes} from './record.js';

function entry(index: number, dataBytes: number) {
  return {term: 3, index, type: EntryType.EntryNormal, data: new Uint8Array(dataBytes).fill(index)};
}

describe('RecordEncoder', () => {
  it('frames an entry in exactly entryFrameBytes, which sizes a batch up front', () => {
    for (const dataBytes of [0, 1, 3, 4, 5, 12, 300, 5000]) {
      const enc = new RecordEncoder(0, entryFrameBytes(dataBytes));
      enc.appendEntry(entry(1, dataBytes), true);
      expect(enc.take().length).toBe(entryFrameBytes(dataBytes));
    }
  });

  it('grows past a size given too small, and starts again after take', () => {
    const enc = new RecordEncoder(0, 8);
    const batch = [entry(1, 100), entry(2, 7000), entry(3, 0)];
    batch.forEach((e, i) => {
      enc.appendEntry(e, i === batch.length - 1);
    });
    const first = enc.take();
    expect(first.length).toBe(batch.reduce((n, e) => n + entryFrameBytes(e.data.length), 0));
    let at = 0;
    let crc = 0;
    for (const want of batch) {
      const rec = decodeRecord(first, at, crc);
      if (rec.kind !== 'record') throw new Error(`record at ${at}: ${rec.kind}`);
      const got = decodeEntry(rec.payload);
      expect({...got, data: [...got.data]}).toEqual({...want, data: [...want.data]});
      at += entryFrameBytes(want.data.length);
      crc = rec.crc;
    }
    enc.appendEntry(entry(4, 10), true);
    expect(enc.take().length).toBe(entryFrameBytes(10));
  });
});
