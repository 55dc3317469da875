import {readFileSync} from 'node:fs';

import {KVDefinition, LeaseDefinition, WatchDefinition} from '@synod/proto';
import {ChannelCredentials, createChannel, createClient, waitForChannelReady} from 'nice-grpc';
import type {Channel, Client} from 'nice-grpc';

import type {BenchTls} from './options.js';

/** The etcd services one connection offers. */
export interface Connection {
  readonly endpoint: string;
  readonly kv: Client<typeof KVDefinition>;
  readonly watch: Client<typeof WatchDefinition>;
  readonly lease: Client<typeof LeaseDefinition>;
}

/**
 * `count` gRPC connections spread round-robin over the endpoints. Each channel gets its own
 * subchannel pool: grpc-js would otherwise share one TCP connection between channels to the
 * same address, and `--conns` would mean nothing.
 */
export class Connections {
  private readonly channels: Channel[];
  readonly all: readonly Connection[];

  constructor(endpoints: readonly string[], count: number, tls?: BenchTls) {
    const credentials = tls === undefined ? undefined : credentialsOf(tls);
    this.channels = Array.from({length: count}, (_, i) =>
      createChannel(endpoints[i % endpoints.length]!, credentials, {
        'grpc.use_local_subchannel_pool': 1,
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
      }),
    );
    this.all = this.channels.map((channel, i) => ({
      endpoint: endpoints[i % endpoints.length]!,
      kv: createClient(KVDefinition, channel),
      watch: createClient(WatchDefinition, channel),
      lease: createClient(LeaseDefinition, channel),
    }));
  }

  /** Connects every channel, so that the run does not time connection set-up. */
  async connect(timeoutMs = 10_000): Promise<void> {
    const deadline = new Date(Date.now() + timeoutMs);
    try {
      await Promise.all(this.channels.map(channel => waitForChannelReady(channel, deadline)));
    } catch (error) {
      const endpoints = [...new Set(this.all.map(c => c.endpoint))].join(', ');
      throw new Error(`could not connect to ${endpoints} within ${timeoutMs} ms`, {cause: error});
    }
  }

  /** The connection client number `client` uses. */
  of(client: number): Connection {
    return this.all[client % this.all.length]!;
  }

  close(): void {
    for (const channel of this.channels) channel.close();
  }
}

function credentialsOf(tls: BenchTls): ChannelCredentials {
  const file = (path: string | undefined) => (path === undefined ? null : readFileSync(path));
  return ChannelCredentials.createSsl(file(tls.cacert), file(tls.key), file(tls.cert), {
    rejectUnauthorized: !tls.insecureSkipVerify,
  });
}
