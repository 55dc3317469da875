import type {ElectionDefinition, ElectionServiceImplementation, LeaderKey} from '@synod/proto';
import {SortOrder} from '@synod/storage';
import {ServerError, Status} from 'nice-grpc-common';
import type {CallContext} from 'nice-grpc-common';

import type {ServiceGuards} from './call-guard.js';
import {callerOf} from './call-guard.js';
import {
  asClientCall,
  commitTxn,
  createRevisionIs,
  deleteOp,
  getOp,
  ownKey,
  prefixEnd,
  putOp,
  readPrefix,
  sessionLease,
  txnOf,
  waitForPredecessors,
} from './concurrency.js';
import type {ConcurrencyBackend} from './member-ports.js';
import {toWireKv} from './wire.js';

/** etcd's concurrency package returns these as plain errors, which gRPC reports as Unknown. */
const notLeader = () => new ServerError(Status.UNKNOWN, 'election: not leader');
const noLeader = () => new ServerError(Status.UNKNOWN, 'election: no leader');
const missingLeaderKey = () => new ServerError(Status.UNKNOWN, '"leader" field must be provided');

function prefixOf(name: Uint8Array): Buffer {
  return Buffer.concat([name, Buffer.from('/')]);
}

function requireLeaderKey(leader: LeaderKey | undefined): LeaderKey {
  if (leader === undefined) throw missingLeaderKey();
  return leader;
}

/**
 * The Election service (`v3electionpb.Election`), with etcd's key layout: a
 * candidate's key is `name/<lease id in hex>` holding its proposal, and the
 * leader is the oldest key under the name, so it interoperates with
 * `etcdctl elect` and etcd's concurrency.Election.
 */
/**
 * Every Election call runs as its caller; Observe, a stream, does not check for a leader
 * (etcd's clients do not ask it to).
 */
export const electionGuards: ServiceGuards<typeof ElectionDefinition> = {
  campaign: {hasLeader: true, caller: 'user'},
  proclaim: {hasLeader: true, caller: 'user'},
  leader: {hasLeader: true, caller: 'user'},
  observe: {caller: 'user'},
  resign: {hasLeader: true, caller: 'user'},
};

export function electionService(member: ConcurrencyBackend): ElectionServiceImplementation {
  const leaderNow = async (name: Uint8Array) => {
    const {kvs, revision} = await readPrefix(member, prefixOf(name), {
      sortOrder: SortOrder.Ascend,
      limit: 1,
    });
    return {kv: kvs[0], revision};
  };
  /** Reading who leads needs read permission on the election's keys, as for etcd's client. */
  const checkRead = (name: Uint8Array, context: CallContext) => {
    const prefix = prefixOf(name);
    member.auth.checkRange(callerOf(context), prefix, prefixEnd(prefix));
  };
  return {
    async campaign(request, context) {
      const auth = callerOf(context);
      const prefix = prefixOf(request.name);
      const {key, lease, rev} = await asClientCall(async () => {
        const sessionId = await sessionLease(member, auth, request.lease);
        const own = ownKey(prefix, sessionId);
        const {response, header} = await commitTxn(
          member,
          auth,
          txnOf([createRevisionIs(own, 0n)], [putOp(own, request.value, sessionId)], [getOp(own)]),
        );
        let created = Number(header.revision);
        if (!response.succeeded) {
          const existing = response.responses[0];
          const kv =
            existing !== undefined && 'range' in existing ? existing.range.kvs[0] : undefined;
          if (kv !== undefined) {
            created = kv.createRevision;
            if (!Buffer.from(kv.value).equals(request.value)) {
              const proclaimed = await commitTxn(
                member,
                auth,
                txnOf(
                  [createRevisionIs(own, BigInt(created))],
                  [putOp(own, request.value, sessionId)],
                  [],
                ),
              );
              if (!proclaimed.response.succeeded) throw notLeader();
            }
          }
        }
        return {key: own, lease: sessionId, rev: created};
      });
      try {
        await waitForPredecessors(member, prefix, rev, context.signal);
      } catch (error) {
        await commitTxn(member, auth, txnOf([], [deleteOp(key)], [])).catch(() => undefined);
        throw error;
      }
      return {
        header: member.header(),
        leader: {name: request.name, key, rev: BigInt(rev), lease},
      };
    },

    async proclaim(request, context) {
      const auth = callerOf(context);
      const leader = requireLeaderKey(request.leader);
      const {response, header} = await asClientCall(() =>
        commitTxn(
          member,
          auth,
          txnOf(
            [createRevisionIs(leader.key, leader.rev)],
            [putOp(leader.key, request.value, leader.lease)],
            [],
          ),
        ),
      );
      if (!response.succeeded) throw notLeader();
      return {header};
    },

    async leader(request, context) {
      checkRead(request.name, context);
      const {kv, revision} = await leaderNow(request.name);
      if (kv === undefined) throw noLeader();
      return {header: member.header(revision), kv: toWireKv(kv)};
    },

    async *observe(request, context) {
      checkRead(request.name, context);
      const prefix = prefixOf(request.name);
      let last: {key: string; modRevision: number} | undefined;
      while (!context.signal.aborted) {
        const {kv, revision} = await leaderNow(request.name);
        if (kv !== undefined) {
          const id = {key: Buffer.from(kv.key).toString('hex'), modRevision: kv.modRevision};
          if (last?.key !== id.key || last.modRevision !== id.modRevision) {
            last = id;
            yield {header: member.header(revision), kv: toWireKv(kv)};
          }
        }
        // Sleep until anything under the election's prefix changes.
        const stream = member.store.newWatchStream();
        try {
          stream.watch({key: prefix, rangeEnd: prefixEnd(prefix), startRevision: revision + 1});
          for await (const r of stream.responses(context.signal)) {
            if (r.events.length > 0 || r.canceled) break;
          }
        } finally {
          stream.close();
        }
      }
    },

    async resign(request, context) {
      const auth = callerOf(context);
      const leader = requireLeaderKey(request.leader);
      const {header} = await asClientCall(() =>
        commitTxn(
          member,
          auth,
          txnOf([createRevisionIs(leader.key, leader.rev)], [deleteOp(leader.key)], []),
        ),
      );
      return {header};
    },
  };
}
