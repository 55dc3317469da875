import {KVDefinition, LeaseDefinition, WatchDefinition} from '@synod/proto';
import {createChannel, createClient, waitForChannelReady} from 'nice-grpc';
import type {Channel, Client} from 'nice-grpc';

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

  constructor(endpoints: readonly string[], count: number) {
    this.channels = Array.from({length: count}, (_, i) =>
      createChannel(endpoints[i % endpoints.length]!, undefined, {
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
