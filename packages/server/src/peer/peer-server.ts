import type net from 'node:net';

import * as grpc from '@grpc/grpc-js';
import {PeerDefinition} from '@synod/proto';

import type {UnexpectedErrorHandler} from '../transport/grpc-service.js';
import {addGrpcService} from '../transport/grpc-service.js';
import {SocketListener, sniffPreface} from '../transport/socket-listener.js';
import type {ListenerTls} from '../transport/socket-listener.js';
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
  /** Certificates for `https://` peer URLs (`--peer-cert-file`, ...). */
  readonly tls?: ListenerTls;
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
  const {addServices, raftStreamIdleTimeoutMs = defaultIdleTimeoutMs, tls} = options;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': peerMaxMessageBytes,
    'grpc.max_send_message_length': peerMaxMessageBytes,
  });
  addGrpcService(server, PeerDefinition, peerService(inbox), onUnexpectedError);
  addServices?.(server);
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  let listener: SocketListener;
  try {
    listener = await SocketListener.listen(
      urls,
      socket => {
        routeConnection(socket, injector, raftSocket => {
          acceptRaftStream(raftSocket, inbox, raftStreamIdleTimeoutMs);
        });
      },
      tls,
    );
  } catch (error) {
    injector.destroy();
    throw error;
  }
  return {
    ports: listener.addresses.map(a => a.port),
    close: async () => {
      const closed = listener.close();
      injector.destroy();
      server.forceShutdown();
      await closed;
    },
  };
}

/** Hands a new connection to the Raft stream reader or to gRPC, by its first bytes. */
function routeConnection(
  socket: net.Socket,
  injector: grpc.ConnectionInjector,
  acceptRaft: (socket: net.Socket) => void,
): void {
  sniffPreface(socket, raftStreamPreface, (isRaft, seen) => {
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
  });
}
