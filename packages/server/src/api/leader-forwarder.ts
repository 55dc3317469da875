import {EtcdErrors} from '@synod/proto';
import {LessorDefinition, PeerClusterDefinition} from '@synod/proto/synodpb';
import type {LessorClient, PeerClusterClient} from '@synod/proto/synodpb';
import type {Channel} from 'nice-grpc';
import {createClient} from 'nice-grpc';

import {peerChannel} from '../peer/peer-channel.js';
import type {TlsCredentials} from '../tls/tls-credentials.js';
import {etcdError} from './errors.js';
import type {ForwarderHost} from './member-ports.js';

/** The leader's member-to-member services, on its peer port. */
export interface LeaderClients {
  readonly lessor: LessorClient;
  readonly cluster: PeerClusterClient;
}

/**
 * Some requests are answered by the leader alone: keep-alives and
 * time-to-live questions (only the leader runs lease clocks) and learner
 * promotion (only the leader knows how far a learner's log has come). A
 * follower forwards them to the leader's peer endpoint.
 */
export class LeaderForwarder {
  private channel: Channel | undefined;
  private clients: LeaderClients | undefined;
  private leaderId = 0;

  constructor(
    private readonly member: ForwarderHost,
    /** This member's peer certificates, for leaders with `https://` peer URLs. */
    private readonly peerTls?: TlsCredentials,
  ) {}

  clientsOfLeader(): LeaderClients {
    const leader = this.member.leader;
    if (leader === 0) throw etcdError(EtcdErrors.noLeader);
    if (leader !== this.leaderId || this.clients === undefined) {
      const info = this.member.membership.get(leader);
      const url = info?.peerUrls[0];
      if (url === undefined) throw etcdError(EtcdErrors.noLeader);
      this.channel?.close();
      this.channel = peerChannel(url, this.peerTls);
      this.clients = {
        lessor: createClient(LessorDefinition, this.channel),
        cluster: createClient(PeerClusterDefinition, this.channel),
      };
      this.leaderId = leader;
    }
    return this.clients;
  }

  close(): void {
    this.channel?.close();
    this.channel = undefined;
    this.clients = undefined;
  }

  /**
   * Runs `call` against the leader. When the leader is unknown, unreachable or
   * no longer leads, waits for the next one and asks again (each attempt
   * bounded by an election timeout), as etcd's followers do, until the request
   * timeout; then fails with the last error.
   */
  async withLeader<T>(
    call: (leader: LeaderClients, signal: AbortSignal) => Promise<T>,
    signal: AbortSignal,
  ): Promise<T> {
    const {electionTimeoutMs, heartbeatIntervalMs} = this.member.config;
    const deadline = Date.now() + 5000 + 2 * electionTimeoutMs;
    for (;;) {
      signal.throwIfAborted();
      try {
        const attempt = AbortSignal.any([signal, AbortSignal.timeout(electionTimeoutMs)]);
        return await call(this.clientsOfLeader(), attempt);
      } catch (error) {
        if (signal.aborted || Date.now() > deadline) throw error;
        // The leader may have changed: reconnect to whoever leads now.
        this.close();
        await new Promise(resolve => setTimeout(resolve, heartbeatIntervalMs));
      }
    }
  }
}
