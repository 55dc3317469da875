import type {Entry} from '@synod/proto/raftpb';
import {EntryType} from '@synod/proto/raftpb';

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/**
 * entrySize returns the protobuf-encoded size of an entry as it travels inside a Message
 * (including its field tag and length prefix), computed arithmetically without encoding.
 */
export function entrySize(e: Entry): number {
  let size = 0;
  if (e.term !== 0) size += 1 + varintSize(e.term);
  if (e.index !== 0) size += 1 + varintSize(e.index);
  if (e.type !== EntryType.EntryNormal) size += 2;
  const dl = e.data.length;
  if (dl !== 0) size += 1 + varintSize(dl) + dl;
  return 1 + varintSize(size) + size;
}

/** payloadSize is the size of an entry's application data, the unit of uncommitted limits. */
export function payloadSize(e: Entry): number {
  return e.data.length;
}

/**
 * limitSize returns the longest prefix of `ents` whose total size stays within `maxSize`,
 * always keeping at least the first entry.
 */
export function limitSize(ents: Entry[], maxSize: number): Entry[] {
  if (ents.length <= 1 || maxSize === Infinity) {
    return ents;
  }
  let size = entrySize(ents[0] as Entry);
  let n = 1;
  for (; n < ents.length; n++) {
    size += entrySize(ents[n] as Entry);
    if (size > maxSize) {
      break;
    }
  }
  return n === ents.length ? ents : ents.slice(0, n);
}
