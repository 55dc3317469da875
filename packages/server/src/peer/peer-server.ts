import * as grpc from '@grpc/grpc-js';
import {PeerDefinition} from '@synod/proto';

import type {UnexpectedErrorHandler} from '../transport/grpc-service.js';
import {addGrpcService} from '../transport/grpc-service.js';
import type {PeerInbox} from './peer-service.js';
import {peerService} from './peer-service.js';
import {peerMaxMessageBytes} from './peer-transport.js';

/** A listening peer endpoint; `ports` are the bound ports in the order of the URLs. */
export interface PeerServer {
  readonly ports: readonly number[];
  close(): Promise<void>;
}

/** Serves the peer protocol on each of `urls` (`http://ip:port`; port 0 picks a free one). */
export async function startPeerServer(
  urls: readonly URL[],
  inbox: PeerInbox,
  onUnexpectedError: UnexpectedErrorHandler,
  /** Adds further member-to-member services to the same server. */
  addServices?: (server: grpc.Server) => void,
): Promise<PeerServer> {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': peerMaxMessageBytes,
    'grpc.max_send_message_length': peerMaxMessageBytes,
  });
  addGrpcService(server, PeerDefinition, peerService(inbox), onUnexpectedError);
  addServices?.(server);
  const ports: number[] = [];
  try {
    for (const url of urls) {
      const port = await new Promise<number>((resolve, reject) => {
        server.bindAsync(
          `${url.hostname}:${url.port}`,
          grpc.ServerCredentials.createInsecure(),
          (error, bound) => {
            if (error === null) resolve(bound);
            else reject(error);
          },
        );
      });
      ports.push(port);
    }
  } catch (error) {
    server.forceShutdown();
    throw error;
  }
  return {
    ports,
    close: () =>
      new Promise<void>(resolve => {
        server.tryShutdown(() => {
          resolve();
        });
        // Streams from peers never end on their own; do not wait for them.
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 200).unref();
      }),
  };
}
