import {EtcdErrors} from '@synod/proto';
import type {CallContext} from 'nice-grpc-common';

import {etcdError} from './errors.js';
import type {WatchdogHost} from './member-ports.js';

/** etcd cancels a leader-requiring stream after this many election timeouts without a leader. */
const maxNoLeaderTimeouts = 3;

/**
 * For a stream whose client asked for a leader (`hasleader: true` metadata, as
 * etcd's clients send on watch and keep-alive streams): a promise that rejects
 * with `etcdserver: no leader` once the member has known no leader for three
 * election timeouts, so the client moves to a member that has one. Never
 * settles for other streams. Call `stop()` when the stream ends.
 */
export function leaderWatchdog(
  member: WatchdogHost,
  context: CallContext,
): {readonly lost: Promise<never>; stop(): void} {
  let timer: NodeJS.Timeout | undefined;
  const lost = new Promise<never>((_, reject) => {
    if (context.metadata.get('hasleader') !== 'true') return;
    let without = 0;
    timer = setInterval(() => {
      without = member.leader === 0 ? without + 1 : 0;
      if (without >= maxNoLeaderTimeouts) {
        clearInterval(timer);
        reject(etcdError(EtcdErrors.noLeader));
      }
    }, member.config.electionTimeoutMs);
  });
  // Nobody may be listening when the stream ends first.
  lost.catch(() => undefined);
  return {
    lost,
    stop() {
      clearInterval(timer);
    },
  };
}
