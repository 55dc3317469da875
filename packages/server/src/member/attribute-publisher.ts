import type {MemberRecord} from '@synod/proto/synodpb';

import type {Clock} from './clock.js';
import {sleepMs} from './clock.js';
import type {MemberLogger} from './member-environment.js';
import type {MemberInfo, Membership} from './membership.js';

/** The request that publishes a member's attributes. */
export interface PublishRequest {
  readonly $case: 'memberAttributes';
  readonly value: MemberRecord;
}

/** `host:port` of a member's first plain and first TLS ZooKeeper listener, if it has them. */
export interface ZkListenerAddresses {
  readonly plain?: string;
  readonly secure?: string;
}

/** What publishing this member's attributes needs of the member. */
export interface PublisherHost {
  /** Whether the member still runs (not closed, not failed). */
  running(): boolean;
  /** This member's record in the replicated membership, if it is there yet. */
  self(): MemberInfo | undefined;
  /** Whether a leader is known: a proposal before then would only time out. */
  hasLeader(): boolean;
  /** Replicates a request; rejects when it cannot be (no leader, stopped, timed out). */
  propose(request: PublishRequest): Promise<unknown>;
}

/**
 * Publishes this member's name, client URLs and ZooKeeper address through the log, as etcd's
 * `publish` does once a leader is known, retrying until it succeeds or the member stops.
 */
export class AttributePublisher {
  /**
   * Whether this member has published its name and client URLs. Like etcd, which serves
   * clients only once it has, a member reports itself unhealthy until then: a client sent to
   * it would not find it in the member list.
   */
  published = false;

  constructor(
    private readonly host: PublisherHost,
    private readonly memberId: number,
    private readonly name: string,
    /** How long to wait between attempts. */
    private readonly retryMs: number,
    private readonly clock: Clock,
    private readonly logger: MemberLogger,
  ) {}

  async publish(clientUrls: readonly string[], zk: ZkListenerAddresses = {}): Promise<void> {
    const zkClientAddress = zk.plain ?? '';
    const zkSecureClientAddress = zk.secure ?? '';
    while (this.host.running()) {
      const current = this.host.self();
      if (
        current !== undefined &&
        sameList(current.clientUrls, clientUrls) &&
        current.name === this.name &&
        (current.zkClientAddress ?? '') === zkClientAddress &&
        (current.zkSecureClientAddress ?? '') === zkSecureClientAddress
      ) {
        this.published = true;
        return;
      }
      if (this.host.hasLeader()) {
        try {
          await this.host.propose({
            $case: 'memberAttributes',
            value: {
              id: BigInt(this.memberId),
              name: this.name,
              peerUrls: [...(current?.peerUrls ?? [])],
              clientUrls: [...clientUrls],
              isLearner: current?.isLearner ?? false,
              zkClientAddress,
              zkSecureClientAddress,
            },
          });
          this.published = true;
          return;
        } catch (error) {
          this.logger.warn({error: String(error)}, 'could not publish client URLs yet');
        }
      }
      await sleepMs(this.clock, this.retryMs);
    }
  }
}

/**
 * Applies a committed attributes record to `membership`; returns whether it changed anything
 * (a record for a member no longer in the cluster is ignored).
 */
export function applyPublishedAttributes(
  membership: Membership,
  record: MemberRecord,
  index: number,
): boolean {
  const existing = membership.get(Number(record.id));
  if (existing === undefined) return false;
  membership.set({
    ...existing,
    name: record.name,
    clientUrls: [...record.clientUrls],
    zkClientAddress: record.zkClientAddress,
    zkSecureClientAddress: record.zkSecureClientAddress,
  });
  membership.recordChange(index);
  return true;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
