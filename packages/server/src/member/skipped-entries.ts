import type {Backend} from '@synod/storage';

const skippedEntriesKey = Buffer.from('skippedEntries');

/**
 * The raft indexes an operator chose not to apply (`synod skip-entry`), kept in the backend's
 * `meta` bucket as 8-byte big-endian numbers, so a backend snapshot carries the choice to the
 * members it is sent to.
 */
export function readSkippedEntries(backend: Backend): Set<number> {
  const raw = backend.get('meta', skippedEntriesKey);
  const out = new Set<number>();
  if (raw === undefined) return out;
  const bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let at = 0; at + 8 <= bytes.length; at += 8) out.add(Number(bytes.readBigUInt64BE(at)));
  return out;
}

/** Adds `index` to the skipped entries (buffered: commit the backend to keep it). */
export function addSkippedEntry(backend: Backend, index: number): void {
  const all = [...readSkippedEntries(backend), index].sort((a, b) => a - b);
  const bytes = Buffer.alloc(8 * all.length);
  all.forEach((n, i) => bytes.writeBigUInt64BE(BigInt(n), 8 * i));
  backend.put('meta', skippedEntriesKey, bytes);
}
