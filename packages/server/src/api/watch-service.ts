import type {WatchDefinition, WatchServiceImplementation} from '@synod/proto';
import {Event as WireEvent, WatchResponse as WireWatchResponse} from '@synod/proto';
import {EtcdErrors, WatchCreateRequest_FilterType} from '@synod/proto';
import type {WatchCreateRequest} from '@synod/proto';
import type {KvEvent, WatchResponse, WatchStream} from '@synod/storage';
import {StorageError, WatchFilter} from '@synod/storage';
import {ServerError} from 'nice-grpc-common';
import type {CallContext} from 'nice-grpc-common';

import {AuthError} from '../auth/auth-store.js';
import type {MemberMetrics} from '../metrics/member-metrics.js';
import {toRevision} from '../member/wire-requests.js';
import type {WithEncodedTail} from '../transport/grpc-service.js';
import {encodedTail} from '../transport/grpc-service.js';
import type {ServiceGuards} from './call-guard.js';
import {identifyCaller} from './call-guard.js';
import {coalesceWatchResponses} from './coalesce-watch-responses.js';
import {leaderWatchdog} from './leader-watchdog.js';
import type {WatchBackend} from './member-ports.js';
import {toWireEvent} from './wire.js';

const allKeys = new Uint8Array([0]);

/**
 * A watch stream identifies its caller at each create request, as etcd does: the token may
 * change meaning (auth enabled, user revoked) while the stream lives. Its has-leader check
 * is the stream's watchdog, not a refusal at the start. A learner serves no watch.
 */
export const watchGuards: ServiceGuards<typeof WatchDefinition> = {
  watch: {caller: 'each-request'},
};

/**
 * The Watch service: one bidirectional stream carries any number of watchers.
 * Replies to create, cancel and progress requests go out in the order the
 * requests came, and a watcher's "created" reply always precedes its first
 * event, because the store only queues events for a watcher on a later turn
 * than the one that registered it. Events are pulled from the store's stream as
 * the client takes them, so a slow client parks its watchers instead of making
 * the server buffer without bound.
 */
export function watchService(
  member: WatchBackend,
  metrics: MemberMetrics,
): WatchServiceImplementation {
  return {
    async *watch(requests, context) {
      const stream = member.store.newWatchStream();
      metrics.watchStreams.inc();
      metrics.storage.watchQueue(stream, true);
      const watchdog = leaderWatchdog(member, context);
      const control: WireWatchResponse[] = [];
      const options: StreamOptions = {progress: new Map(), fragment: new Set()};
      const progressTimer = setInterval(
        () => {
          notifyProgress(member, stream, options);
        },
        Math.max(10, member.config.watchProgressNotifyIntervalMs / 2),
      );
      // One wake-up for everything the loop below waits on: a queued response, a request
      // handled, the client gone, the leader lost. Set only while the loop is idle, so a
      // busy stream costs no promise per response.
      let wake: (() => void) | undefined;
      const notify = (): void => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      let lost: {readonly error: unknown} | undefined;
      watchdog.lost.catch((error: unknown) => {
        lost = {error};
        notify();
      });
      context.signal.addEventListener('abort', notify);
      stream.onReadable(notify);
      // A client that half-closes still gets the events of the watchers it created, until it
      // cancels: etcd's receive loop ends at EOF but the stream lives on. A request that
      // cannot be decoded ends the stream with its error, as in etcd.
      let refused: {readonly error: unknown} | undefined;
      const reader = (async () => {
        try {
          for await (const request of requests) {
            const r = request.requestUnion;
            const denied =
              r?.$case === 'createRequest'
                ? await watchDenied(member, context, r.value)
                : undefined;
            handleRequest(member, stream, r, control, options, denied);
            notify();
          }
        } catch (error) {
          refused = {error};
          notify();
        }
      })();
      reader.catch(() => undefined);

      try {
        for (;;) {
          while (control.length > 0) {
            const reply = control.shift();
            if (reply !== undefined) yield reply;
          }
          if (context.signal.aborted || stream.isClosed) return;
          if (refused !== undefined) throw refused.error;
          if (lost !== undefined) throw lost.error;
          // Everything queued goes out at once, in order: the store notifies synchronously
          // from the apply path, and a response waits only for the gRPC stream to take it.
          const batch = stream.drain();
          if (batch.length > 0) {
            metrics.storage.eventsSent(batch.reduce((n, r) => n + r.events.length, 0));
            for (const response of coalesceWatchResponses(batch, id => options.fragment.has(id))) {
              yield* toWireResponses(member, response, options);
            }
            continue;
          }
          await new Promise<void>(resolve => {
            wake = resolve;
          });
        }
      } finally {
        metrics.watchStreams.dec();
        metrics.storage.watchQueue(stream, false);
        watchdog.stop();
        clearInterval(progressTimer);
        context.signal.removeEventListener('abort', notify);
        stream.onReadable(undefined);
        stream.close();
      }
    },
  };
}

/**
 * Why the caller may not watch the range it asks for, or undefined when it may:
 * read permission on the whole range, checked once at creation as etcd does. etcd
 * 3.4 gives every refusal (bad token included) as "permission denied", in the
 * text of its gRPC error.
 */
async function watchDenied(
  member: WatchBackend,
  context: CallContext,
  c: WatchCreateRequest,
): Promise<string | undefined> {
  try {
    const auth = await identifyCaller(context);
    member.auth.checkRange(auth, c.key.length === 0 ? allKeys : c.key, c.rangeEnd);
    return undefined;
  } catch (error) {
    if (error instanceof AuthError || error instanceof ServerError) {
      return `rpc error: code = PermissionDenied desc = ${EtcdErrors.permissionDenied.message}`;
    }
    throw error;
  }
}

function handleRequest(
  member: WatchBackend,
  stream: WatchStream,
  request: Parameters<WatchServiceImplementation['watch']>[0] extends AsyncIterable<infer R>
    ? R extends {requestUnion: infer U}
      ? U
      : never
    : never,
  control: WireWatchResponse[],
  options: StreamOptions,
  denied: string | undefined,
): void {
  switch (request?.$case) {
    case 'createRequest': {
      const c = request.value;
      const header = member.header();
      if (denied !== undefined) {
        control.push(
          reply({header, watchId: -1n, created: true, canceled: true, cancelReason: denied}),
        );
        return;
      }
      try {
        const id = stream.watch({
          // etcd watches every key from "\0" when given an empty key.
          key: c.key.length === 0 ? allKeys : c.key,
          rangeEnd: c.rangeEnd,
          // A negative start is passed on: etcd takes it as older than the compact revision
          // (-1 before the first compaction) and cancels the watch as compacted.
          startRevision:
            c.startRevision < 0n
              ? Math.max(Number(c.startRevision), Number.MIN_SAFE_INTEGER)
              : toRevision(c.startRevision),
          prevKv: c.prevKv,
          filters: c.filters.map(f =>
            f === WatchCreateRequest_FilterType.NOPUT ? WatchFilter.NoPut : WatchFilter.NoDelete,
          ),
          // Only 0 asks for an automatic id; etcd takes any other id as given, negative too.
          watchId: c.watchId !== 0n ? Number(c.watchId) : 0,
        });
        control.push(reply({header, watchId: BigInt(id), created: true}));
        if (c.progressNotify) options.progress.set(id, Date.now());
        if (c.fragment) options.fragment.add(id);
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
      options.progress.delete(Number(id));
      options.fragment.delete(Number(id));
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

/** Per-stream watch options: progress watchers with the time of their last event, fragmenters. */
interface StreamOptions {
  readonly progress: Map<number, number>;
  readonly fragment: Set<number>;
}

/**
 * Sends each `progress_notify` watcher that has been quiet for the interval an
 * empty response carrying the current revision, as etcd does every 10 minutes.
 * It is queued behind the stream's pending events and only when every watcher
 * of the stream has caught up, so it never claims a revision whose events are
 * still on their way.
 */
function notifyProgress(member: WatchBackend, stream: WatchStream, options: StreamOptions): void {
  if (options.progress.size === 0) return;
  const revision = member.store.progress(stream);
  if (revision === undefined) return;
  const now = Date.now();
  for (const [id, last] of options.progress) {
    if (now - last < member.config.watchProgressNotifyIntervalMs) continue;
    options.progress.set(id, now);
    stream.enqueue({watchId: id, events: [], revision, compactRevision: 0, canceled: false}, true);
  }
}

/**
 * Wire events by store event. Every watcher of a key gets the same store event object (one
 * with prev_kv is its own object, shared by the watchers that asked for prev_kv), so a
 * revision is converted once however many watchers receive it.
 */
const wireEvents = new WeakMap<KvEvent, WireEvent>();

function wireEvent(e: KvEvent): WireEvent {
  let wire = wireEvents.get(e);
  if (wire === undefined) {
    wire = toWireEvent(e);
    wireEvents.set(e, wire);
  }
  return wire;
}

/** Each event's record as field 11 of a WatchResponse, encoded once for every watcher. */
const encodedEvents = new WeakMap<WireEvent, Uint8Array>();

/**
 * `response` with its events moved to an {@link encodedTail}: the same bytes on the wire,
 * but an event that goes to a hundred watchers is encoded once, not a hundred times.
 */
function withEncodedEvents(response: WireWatchResponse): WireWatchResponse & WithEncodedTail {
  if (response.events.length === 0) return response;
  const tail = response.events.map(event => {
    let bytes = encodedEvents.get(event);
    if (bytes === undefined) {
      // Every other field is at its default, which proto3 leaves out: only field 11 remains.
      bytes = WireWatchResponse.encode(reply({events: [event]})).finish();
      encodedEvents.set(event, bytes);
    }
    return bytes;
  });
  return {...response, events: [], [encodedTail]: tail};
}

/** gRPC's framing allowance above the largest request, as in etcd. */
const grpcOverheadBytes = 512 * 1024;

function toWireResponses(
  member: WatchBackend,
  r: WatchResponse,
  options: StreamOptions,
): WireWatchResponse[] {
  if (r.events.length > 0 && options.progress.has(r.watchId)) {
    options.progress.set(r.watchId, Date.now());
  }
  if (r.canceled) {
    options.progress.delete(r.watchId);
    options.fragment.delete(r.watchId);
  }
  const whole = reply({
    // A watch cancelled by compaction answers with revision 0 in its header, as etcd does; its
    // compact revision is -1 when a negative start met a store never compacted.
    header: member.header(r.compactRevision !== 0 ? 0 : r.revision),
    watchId: BigInt(r.watchId),
    canceled: r.canceled,
    compactRevision: BigInt(r.compactRevision),
    events: r.events.map(wireEvent),
  });
  if (!options.fragment.has(r.watchId) || whole.events.length < 2) {
    return [withEncodedEvents(whole)];
  }
  const limit = member.config.maxRequestBytes + grpcOverheadBytes;
  if (WireWatchResponse.encode(whole).finish().length <= limit) return [whole];
  // Split into responses under the limit (at least one event each); every part but the last
  // says fragment, and the client joins them back into one revision batch.
  const parts: WireWatchResponse[] = [];
  let events: typeof whole.events = [];
  let size = 0;
  for (const event of whole.events) {
    const eventSize = WireEvent.encode(event).finish().length + 8;
    if (events.length > 0 && size + eventSize > limit) {
      parts.push({...whole, events, fragment: true});
      events = [];
      size = 0;
    }
    events.push(event);
    size += eventSize;
  }
  parts.push({...whole, events, fragment: false});
  return parts;
}
