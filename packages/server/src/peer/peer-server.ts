import net from 'node:net';

import * as grpc from '@grpc/grpc-js';
import {PeerDefinition} from '@synod/proto';

import type {UnexpectedErrorHandler} from '../transport/grpc-service.js';
import {addGrpcService} from '../transport/grpc-service.js';
import type {PeerInbox} from './peer-service.js';
import {
  acceptRaftStream,
  peerService,
  raftStreamIdleTimeoutMs as defaultIdleTimeoutMs,
} from './peer-service.js';
import {peerMaxMessageBytes} from './peer-transport.js';
import {raftStreamPreface} from './raft-stream.js';

/** A listening peer endpoint; `ports` are the bound ports in the order of the URLs. */
export interface PeerServer {
  readonly ports: readonly number[];
  close(): Promise<void>;
}

export interface PeerServerOptions {
  /** Adds further member-to-member services to the same gRPC server. */
  readonly addServices?: (server: grpc.Server) => void;
  /** How long a Raft stream may stay silent before it is closed; 5 s by default. */
  readonly raftStreamIdleTimeoutMs?: number;
}

/**
 * Serves the peer protocol on each of `urls` (`http://ip:port`; port 0 picks a
 * free one). Each connection's first bytes decide what it is: a Raft stream
 * (its preface) goes to {@link acceptRaftStream}, anything else to the gRPC
 * server, which serves snapshots and the other member-to-member services.
 */
export async function startPeerServer(
  urls: readonly URL[],
  inbox: PeerInbox,
  onUnexpectedError: UnexpectedErrorHandler,
  options: PeerServerOptions = {},
): Promise<PeerServer> {
  const {addServices, raftStreamIdleTimeoutMs = defaultIdleTimeoutMs} = options;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': peerMaxMessageBytes,
    'grpc.max_send_message_length': peerMaxMessageBytes,
  });
  addGrpcService(server, PeerDefinition, peerService(inbox), onUnexpectedError);
  addServices?.(server);
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const sockets = new Set<net.Socket>();
  const listeners: net.Server[] = [];
  const ports: number[] = [];
  const route = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    routeConnection(socket, injector, raftSocket => {
      acceptRaftStream(raftSocket, inbox, raftStreamIdleTimeoutMs);
    });
  };
  try {
    for (const url of urls) {
      const listener = net.createServer({pauseOnConnect: true, noDelay: true}, route);
      listeners.push(listener);
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(Number(url.port), url.hostname.replace(/^\[(.*)\]$/, '$1'), () => {
          listener.off('error', reject);
          resolve();
        });
      });
      ports.push((listener.address() as net.AddressInfo).port);
    }
  } catch (error) {
    for (const listener of listeners) listener.close();
    injector.destroy();
    throw error;
  }
  return {
    ports,
    close: async () => {
      const closed = listeners.map(
        listener =>
          new Promise<void>(resolve => {
            listener.close(() => {
              resolve();
            });
          }),
      );
      injector.destroy();
      server.forceShutdown();
      for (const socket of sockets) socket.destroy();
      await Promise.all(closed);
    },
  };
}

/** Hands a new connection to the Raft stream reader or to gRPC, by its first bytes. */
function routeConnection(
  socket: net.Socket,
  injector: grpc.ConnectionInjector,
  acceptRaft: (socket: net.Socket) => void,
): void {
  let seen: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, raftStreamPreface.length);
    const isRaft = seen.subarray(0, n).equals(raftStreamPreface.subarray(0, n));
    if (isRaft && seen.length < raftStreamPreface.length) return;
    socket.off('data', onData);
    socket.off('error', onError);
    if (isRaft) {
      acceptRaft(socket);
      const rest = seen.subarray(raftStreamPreface.length);
      if (rest.length > 0) socket.emit('data', rest);
      return;
    }
    socket.pause();
    socket.unshift(seen);
    // Node's HTTP/2 session takes over the socket and reads what was unshifted.
    injector.injectConnection(socket);
  };
  const onError = () => {
    socket.destroy();
  };
  socket.on('data', onData);
  socket.on('error', onError);
  socket.resume();
}
