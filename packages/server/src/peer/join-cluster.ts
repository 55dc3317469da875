import {PeerClusterDefinition} from '@synod/proto/synodpb';
import type {MembersResponse} from '@synod/proto/synodpb';
import {createClient} from 'nice-grpc';

import type {MemberConfig} from '../config/member-config.js';
import type {TlsCredentials} from '../tls/tls-credentials.js';
import type {Clock} from '../member/clock.js';
import {sleepMs} from '../member/clock.js';
import type {JoinInfo} from '../member/member.js';
import {fromRecord} from '../member/membership.js';
import {peerChannel} from './peer-channel.js';

/** How long to keep asking the cluster's members before giving up. */
const askForMs = 15_000;

async function askMembers(url: URL, tls: TlsCredentials | undefined): Promise<MembersResponse> {
  const channel = peerChannel(url, tls);
  try {
    const client = createClient(PeerClusterDefinition, channel);
    return await client.members({}, {signal: AbortSignal.timeout(2000)});
  } finally {
    channel.close();
  }
}

/**
 * For a member started with `--initial-cluster-state existing` and an empty data
 * directory: asks the other members named in `--initial-cluster` for the
 * cluster's id and members, and finds this member among them by its advertised
 * peer URLs — where `etcdctl member add` put it. Fails with a message saying
 * what to do when no member answers or when this member was never added.
 */
export async function fetchJoinInfo(
  config: MemberConfig,
  clock: Clock,
  peerTls?: TlsCredentials,
): Promise<JoinInfo> {
  const own = new Set(config.initialAdvertisePeerUrls.map(u => u.origin));
  const peers: URL[] = [];
  for (const [name, urls] of config.initialCluster) {
    if (name === config.name) continue;
    for (const u of urls) if (!own.has(u.origin)) peers.push(u);
  }
  if (peers.length === 0) {
    throw new Error(
      '--initial-cluster-state existing needs --initial-cluster to name at least one running member besides this one',
    );
  }
  const deadline = clock.monotonicMs() + askForMs;
  const failures: string[] = [];
  for (;;) {
    for (const url of peers) {
      let answer: MembersResponse;
      try {
        answer = await askMembers(url, peerTls);
      } catch (error) {
        failures.push(`${url.origin}: ${error instanceof Error ? error.message : String(error)}`);
        continue;
      }
      const members = answer.members.map(fromRecord);
      const self = members.find(m => m.peerUrls.some(u => own.has(u)));
      if (self === undefined) {
        throw new Error(
          `member ${config.name} (peer URLs ${[...own].join(',')}) is not a member of the cluster that ${url.origin} belongs to; add it first with "etcdctl member add ${config.name} --peer-urls=${[...own].join(',')}"`,
        );
      }
      return {clusterId: Number(answer.clusterId), memberId: self.id, members};
    }
    if (clock.monotonicMs() > deadline) {
      throw new Error(
        `could not retrieve the cluster's members from ${peers.map(u => u.origin).join(', ')}: ${failures.slice(-peers.length).join('; ')}`,
      );
    }
    await sleepMs(clock, 500);
  }
}
