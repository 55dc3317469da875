import type {LockDefinition, LockServiceImplementation} from '@synod/proto';

import type {ServiceGuards} from './call-guard.js';
import {callerOf} from './call-guard.js';
import {
  asClientCall,
  commitTxn,
  createRevisionIs,
  deleteOp,
  getOp,
  ownKey,
  putOp,
  sessionLease,
  txnOf,
  waitForPredecessors,
} from './concurrency.js';
import {unwrap} from './errors.js';
import type {ConcurrencyBackend} from './member-ports.js';

/** Both Lock calls run as their caller, and only where a leader is known when asked. */
export const lockGuards: ServiceGuards<typeof LockDefinition> = {
  lock: {hasLeader: true, caller: 'user'},
  unlock: {hasLeader: true, caller: 'user'},
};

/**
 * The Lock service (`v3lockpb.Lock`), with etcd's key layout: a waiter's key is
 * `name/<lease id in hex>`, bound to its lease, and the lock belongs to the
 * oldest key under the name. A lock taken here and one taken with
 * `etcdctl lock` or etcd's concurrency.Mutex exclude each other.
 */
export function lockService(member: ConcurrencyBackend): LockServiceImplementation {
  return {
    async lock(request, context) {
      const auth = callerOf(context);
      const prefix = Buffer.concat([request.name, Buffer.from('/')]);
      const {key, response, header} = await asClientCall(async () => {
        const lease = await sessionLease(member, auth, request.lease);
        const own = ownKey(prefix, lease);
        const put = await commitTxn(
          member,
          auth,
          txnOf([createRevisionIs(own, 0n)], [putOp(own, Buffer.alloc(0), lease)], [getOp(own)]),
        );
        return {key: own, ...put};
      });
      let myRevision = Number(header.revision);
      if (!response.succeeded) {
        const existing = response.responses[0];
        if (existing !== undefined && 'range' in existing) {
          myRevision = existing.range.kvs[0]?.createRevision ?? myRevision;
        }
      }
      try {
        await waitForPredecessors(member, prefix, myRevision, context.signal);
      } catch (error) {
        // Give up the place in the queue, as etcd does when a lock call is cancelled.
        await commitTxn(member, auth, txnOf([], [deleteOp(key)], [])).catch(() => undefined);
        throw error;
      }
      return {header: member.header(), key};
    },

    async unlock(request, context) {
      const auth = callerOf(context);
      const {revision} = await asClientCall(async () =>
        unwrap(
          await member.propose(
            {
              $case: 'deleteRange',
              value: {key: request.key, rangeEnd: Buffer.alloc(0), prevKv: false},
            },
            auth,
          ),
        ),
      );
      return {header: member.header(revision)};
    },
  };
}
