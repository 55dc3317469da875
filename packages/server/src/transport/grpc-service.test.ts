import {Event, Event_EventType, WatchDefinition, WatchResponse} from '@synod/proto';
import type {WatchRequest} from '@synod/proto';
import {createChannel, createClient} from 'nice-grpc';
import {afterEach, describe, expect, it} from 'vitest';

import {Gateway} from '../gateway/gateway.js';
import {ClientListener} from './client-listener.js';
import type {WithEncodedTail} from './grpc-service.js';
import {GrpcServer} from './grpc-server.js';
import type {MethodTable} from './grpc-service.js';
import {addServiceMethods, encodedTail} from './grpc-service.js';

const listeners: ClientListener[] = [];
afterEach(async () => {
  await Promise.all(listeners.splice(0).map(l => l.close()));
});

function event(key: string, value: string, modRevision: bigint): Event {
  return Event.fromPartial({
    type: Event_EventType.PUT,
    kv: {key: Buffer.from(key), value: Buffer.from(value), modRevision, createRevision: 2n},
  });
}

describe('responses with already-encoded fields', () => {
  it('reach the client as the whole message, encoded events after the rest', async () => {
    const events = [event('a', 'x'.repeat(300), 5n), event('b', 'y', 5n)];
    const tail = events.map(e =>
      WatchResponse.encode(WatchResponse.fromPartial({events: [e]})).finish(),
    );
    const methods: MethodTable = new Map();
    addServiceMethods(methods, WatchDefinition, {
      async *watch() {
        const response: Partial<WatchResponse> & WithEncodedTail = {
          header: {clusterId: 1n, memberId: 2n, revision: 5n, raftTerm: 3n},
          watchId: 7n,
          events: [],
          [encodedTail]: tail,
        };
        await Promise.resolve();
        yield response;
      },
    });
    const options = {maxReceiveBytes: 1 << 20, onUnexpectedError: () => undefined};
    const listener = await ClientListener.listen([new URL('http://127.0.0.1:0')], {
      grpc: new GrpcServer(methods, options),
      endpoints: () => ({status: 404, headers: {}, body: ''}),
      gateway: new Gateway({methods: new Map(), ...options}),
    });
    listeners.push(listener);
    const [address] = listener.addresses;
    const channel = createChannel(`${address?.host ?? ''}:${address?.port ?? 0}`);
    try {
      const client = createClient(WatchDefinition, channel);
      const received: WatchResponse[] = [];
      async function* none(): AsyncGenerator<WatchRequest> {}
      for await (const r of client.watch(none())) received.push(r);
      expect(received).toHaveLength(1);
      expect(received[0]).toEqual(
        WatchResponse.fromPartial({
          header: {clusterId: 1n, memberId: 2n, revision: 5n, raftTerm: 3n},
          watchId: 7n,
          events,
        }),
      );
    } finally {
      channel.close();
    }
  });
});
