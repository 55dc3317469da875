import type {EtcdCluster, EtcdMember} from '@synod/testing';
import {MaintenanceDefinition} from '@synod/proto';
import type {StatusResponse} from '@synod/proto';
import {createChannel, createClient} from 'nice-grpc';

/**
 * Asks each member about itself (Maintenance Status, HashKV) over its own channel, so an
 * answer always comes from the member named and never from a client's failover.
 */

/** The Status of one member, or undefined when it does not answer within `timeoutMs`. */
export async function memberStatus(
  member: EtcdMember,
  timeoutMs = 1000,
): Promise<StatusResponse | undefined> {
  const channel = createChannel(member.clientAddress);
  try {
    const client = createClient(MaintenanceDefinition, channel);
    return await client.status({}, {signal: AbortSignal.timeout(timeoutMs)});
  } catch {
    return undefined;
  } finally {
    channel.close();
  }
}

/** Whether `member` reports itself the leader. */
export async function isLeader(member: EtcdMember): Promise<boolean> {
  const status = await memberStatus(member);
  return status !== undefined && status.leader !== 0n && status.leader === status.header?.memberId;
}

/**
 * The member every answering member among `candidates` names as leader, once the leader
 * itself agrees; throws after `timeoutMs`.
 */
export async function waitForLeader(
  candidates: readonly EtcdMember[],
  timeoutMs = 10_000,
): Promise<EtcdMember> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(candidates.map(m => memberStatus(m)));
    const leaders = new Set(statuses.flatMap(s => (s === undefined ? [] : [s.leader])));
    const index = statuses.findIndex(
      s => s !== undefined && s.leader !== 0n && s.leader === s.header?.memberId,
    );
    const leader = candidates[index];
    if (leader !== undefined && leaders.size === 1) return leader;
    if (Date.now() > deadline) {
      throw new Error(
        `no leader agreed on by ${candidates.map(m => m.name).join(', ')} within ${timeoutMs} ms`,
      );
    }
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

/** The members of `cluster` other than `member`. */
export function othersThan(cluster: EtcdCluster, ...members: EtcdMember[]): EtcdMember[] {
  return cluster.members.filter(m => !members.includes(m));
}

/**
 * HashKV of every member at `revision`, retried until all answer and agree or `timeoutMs`
 * passes (a member that has not applied `revision` yet answers an error). Returns the last
 * hashes seen, one per member in member order, -1 for a member that did not answer.
 */
export async function hashesAt(
  members: readonly EtcdMember[],
  revision: bigint,
  timeoutMs = 10_000,
): Promise<number[]> {
  const channels = members.map(m => createChannel(m.clientAddress));
  try {
    const clients = channels.map(ch => createClient(MaintenanceDefinition, ch));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hashes = await Promise.all(
        clients.map(async c => {
          try {
            const response = await c.hashKV({revision}, {signal: AbortSignal.timeout(2000)});
            return response.hash;
          } catch {
            return -1;
          }
        }),
      );
      if ((!hashes.includes(-1) && new Set(hashes).size === 1) || Date.now() > deadline) {
        return hashes;
      }
      await new Promise(resolve => setTimeout(resolve, 100));
    }
  } finally {
    for (const channel of channels) channel.close();
  }
}
