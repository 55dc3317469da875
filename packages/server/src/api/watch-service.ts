import type {WatchResponse as WireWatchResponse, WatchServiceImplementation} from '@synod/proto';
import {WatchCreateRequest_FilterType} from '@synod/proto';
import type {WatchResponse, WatchStream} from '@synod/storage';
import {StorageError, WatchFilter} from '@synod/storage';

import type {MemberCore} from '../member/member.js';
import {toWireEvent, toRevision} from './wire.js';

const allKeys = new Uint8Array([0]);

/**
 * The Watch service: one bidirectional stream carries any number of watchers.
 * Replies to create, cancel and progress requests go out in the order the
 * requests came, and a watcher's "created" reply always precedes its first
 * event, because the store only queues events for a watcher on a later turn
 * than the one that registered it. Events are pulled from the store's stream as
 * the client takes them, so a slow client parks its watchers instead of making
 * the server buffer without bound.
 */
export function watchService(member: MemberCore): WatchServiceImplementation {
  return {
    async *watch(requests, context) {
      const stream = member.store.newWatchStream();
      const control: WireWatchResponse[] = [];
      let wake: (() => void) | undefined;
      const notify = () => {
        wake?.();
      };
      const client = {done: false};
      const reader = (async () => {
        try {
          for await (const request of requests) {
            handleRequest(member, stream, request.requestUnion, control);
            notify();
          }
        } finally {
          client.done = true;
          notify();
        }
      })();
      reader.catch(() => undefined);

      const events = stream.responses(context.signal)[Symbol.asyncIterator]();
      let nextEvent: Promise<IteratorResult<WatchResponse>> | undefined;
      try {
        for (;;) {
          while (control.length > 0) {
            const reply = control.shift();
            if (reply !== undefined) yield reply;
          }
          if (client.done || context.signal.aborted) return;
          nextEvent ??= events.next();
          const woken = new Promise<'control'>(resolve => {
            wake = () => {
              resolve('control');
            };
          });
          const outcome = await Promise.race([nextEvent, woken]);
          wake = undefined;
          if (outcome === 'control') continue;
          nextEvent = undefined;
          if (outcome.done === true) return;
          yield toWireResponse(member, outcome.value);
        }
      } finally {
        stream.close();
        await events.return(undefined);
      }
    },
  };
}

function handleRequest(
  member: MemberCore,
  stream: WatchStream,
  request: Parameters<WatchServiceImplementation['watch']>[0] extends AsyncIterable<infer R>
    ? R extends {requestUnion: infer U}
      ? U
      : never
    : never,
  control: WireWatchResponse[],
): void {
  switch (request?.$case) {
    case 'createRequest': {
      const c = request.value;
      const header = member.header();
      try {
        const id = stream.watch({
          // etcd watches every key from "\0" when given an empty key.
          key: c.key.length === 0 ? allKeys : c.key,
          rangeEnd: c.rangeEnd,
          startRevision: toRevision(c.startRevision),
          prevKv: c.prevKv,
          filters: c.filters.map(f =>
            f === WatchCreateRequest_FilterType.NOPUT ? WatchFilter.NoPut : WatchFilter.NoDelete,
          ),
          watchId: c.watchId > 0n ? Number(c.watchId) : 0,
        });
        control.push(reply({header, watchId: BigInt(id), created: true}));
      } catch (error) {
        if (!(error instanceof StorageError)) throw error;
        control.push(
          reply({header, watchId: -1n, created: true, canceled: true, cancelReason: error.message}),
        );
      }
      return;
    }
    case 'cancelRequest': {
      const id = request.value.watchId;
      if (stream.cancel(Number(id))) {
        control.push(reply({header: member.header(), watchId: id, canceled: true}));
      }
      return;
    }
    case 'progressRequest':
      // The store queues the progress reply itself, after every event it already sent.
      stream.requestProgress();
      return;
    case undefined:
      return;
  }
}

function reply(partial: Partial<WireWatchResponse>): WireWatchResponse {
  return {
    header: undefined,
    watchId: 0n,
    created: false,
    canceled: false,
    compactRevision: 0n,
    cancelReason: '',
    fragment: false,
    events: [],
    ...partial,
  };
}

function toWireResponse(member: MemberCore, r: WatchResponse): WireWatchResponse {
  return reply({
    header: member.header(r.revision),
    watchId: BigInt(r.watchId),
    canceled: r.canceled,
    compactRevision: BigInt(r.compactRevision),
    events: r.events.map(toWireEvent),
  });
}
