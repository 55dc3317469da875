import type {KvEvent, WatchResponse} from '@synod/storage';
import {describe, expect, it} from 'vitest';

import {coalesceWatchResponses} from './coalesce-watch-responses.js';

function put(key: string, revision: number, valueBytes = 1): KvEvent {
  return {
    type: 'put',
    kv: {
      key: Buffer.from(key),
      value: new Uint8Array(valueBytes),
      createRevision: revision,
      modRevision: revision,
      version: 1,
      lease: 0n,
    },
  };
}

function events(watchId: number, revision: number, count = 1, valueBytes = 1): WatchResponse {
  const evs = Array.from({length: count}, (_, i) => put(`k${i}`, revision, valueBytes));
  return {watchId, events: evs, revision, compactRevision: 0, canceled: false};
}

/** `A@5-6` style summary: watch id, then the revisions of its events. */
function shape(responses: readonly WatchResponse[]): string[] {
  return responses.map(r => {
    const revs = [...new Set(r.events.map(e => e.kv.modRevision))];
    const what = r.canceled ? 'cancel' : revs.join('-');
    return `${String.fromCharCode(64 + r.watchId)}@${what} h${r.revision}`;
  });
}

const never = () => false;

describe('joining queued watch responses', () => {
  it.each([
    {
      name: 'leaves a single response alone',
      batch: [events(1, 5)],
      want: ['A@5 h5'],
    },
    {
      name: "joins a watcher's revisions, with the last one's header revision",
      batch: [events(1, 5), events(1, 6), events(1, 7)],
      want: ['A@5-6-7 h7'],
    },
    {
      name: 'joins per watcher across interleaved watchers',
      batch: [events(1, 5), events(2, 5), events(1, 6), events(2, 6)],
      want: ['A@5-6 h6', 'B@5-6 h6'],
    },
    {
      name: 'lets nothing move past a cancel',
      batch: [
        events(1, 5),
        events(2, 5),
        events(1, 6),
        {watchId: 2, events: [], revision: 6, compactRevision: 0, canceled: true},
        events(1, 7),
      ],
      want: ['A@5-6 h6', 'B@5 h5', 'B@cancel h6', 'A@7 h7'],
    },
  ])('$name', ({batch, want}) => {
    expect(shape(coalesceWatchResponses(batch, never))).toEqual(want);
  });

  it('keeps each event once and in order when joining', () => {
    const batch = [events(1, 5, 3), events(1, 6, 2)];
    const [joined] = coalesceWatchResponses(batch, never);
    expect(joined?.events).toEqual([...(batch[0]?.events ?? []), ...(batch[1]?.events ?? [])]);
  });

  it('does not join for a watcher that asked for fragments', () => {
    const batch = [events(1, 5), events(1, 6)];
    expect(shape(coalesceWatchResponses(batch, id => id === 1))).toEqual(['A@5 h5', 'A@6 h6']);
  });

  it('starts a new response past 1000 events or about a megabyte', () => {
    const many = [events(1, 5, 600), events(1, 6, 600)];
    expect(shape(coalesceWatchResponses(many, never))).toEqual(['A@5 h5', 'A@6 h6']);
    const big = [events(1, 5, 1, 700_000), events(1, 6, 1, 700_000), events(1, 7, 1, 10)];
    expect(shape(coalesceWatchResponses(big, never))).toEqual(['A@5 h5', 'A@6-7 h7']);
  });
});
