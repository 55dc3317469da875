import type {KvEvent, WatchResponse} from '@synod/storage';

/** Most events joined into one response (etcd joins up to 1000 revisions). */
const maxJoinedEvents = 1000;
/** Event bytes (keys and values, roughly) beyond which no more revisions are joined. */
const maxJoinedEventBytes = 1024 * 1024;

/**
 * Joins responses queued for the same watcher into one, so that a stream that has fallen
 * behind (its client slower than the writes) catches up with fewer, larger messages, as
 * etcd's catch-up sends up to 1000 revisions at once. Each response still holds whole
 * revisions in order. Only plain event responses join; anything else (a cancel, a
 * compaction notice, a watcher for which `fragments` is true) stays where it is and ends all
 * joining before it, so nothing moves past it. Responses of different watchers may change
 * order, which etcd does not promise either.
 *
 * Example: queued `A@5 B@5 A@6 cancel(B) A@7` go out as `A@5-6 B@5 cancel(B) A@7`.
 */
export function coalesceWatchResponses(
  batch: readonly WatchResponse[],
  fragments: (watchId: number) => boolean,
): WatchResponse[] {
  if (batch.length < 2) return [...batch];
  const out: {first: WatchResponse; events: KvEvent[]; last: WatchResponse; bytes: number}[] = [];
  const open = new Map<number, number>();
  let joined = false;
  for (const r of batch) {
    const plain =
      !r.canceled && r.compactRevision === 0 && r.events.length > 0 && !fragments(r.watchId);
    if (!plain) {
      open.clear();
      out.push({first: r, events: [], last: r, bytes: 0});
      continue;
    }
    const bytes = eventBytes(r.events);
    const target = out[open.get(r.watchId) ?? -1];
    if (
      target !== undefined &&
      target.events.length + r.events.length <= maxJoinedEvents &&
      target.bytes + bytes <= maxJoinedEventBytes
    ) {
      target.events.push(...r.events);
      target.last = r;
      target.bytes += bytes;
      joined = true;
      continue;
    }
    open.set(r.watchId, out.length);
    out.push({first: r, events: [...r.events], last: r, bytes});
  }
  if (!joined) return [...batch];
  return out.map(({first, events, last}) =>
    first === last ? first : {...first, events, revision: last.revision},
  );
}

function eventBytes(events: readonly KvEvent[]): number {
  let bytes = 0;
  for (const e of events) {
    bytes += 64 + e.kv.key.length + e.kv.value.length;
    if (e.prevKv !== undefined) bytes += e.prevKv.key.length + e.prevKv.value.length;
  }
  return bytes;
}
