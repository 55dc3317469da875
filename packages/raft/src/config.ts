import {ConfigError} from './errors.js';
import type {Logger} from './logger.js';
import type {Rng} from './seeded-rng.js';
import type {Storage} from './storage.js';

/**
 * Config configures one raft node. Everything external that is not I/O comes in here,
 * including the PRNG, so the same inputs always produce the same outputs.
 */
export interface Config {
  /** This node's id; must be > 0 (0 means "none"). */
  readonly id: number;
  /**
   * Ticks a follower waits without hearing from a leader before it campaigns. The actual
   * timeout is drawn from [electionTick, 2 * electionTick) after every role change.
   * Must exceed heartbeatTick; 10 * heartbeatTick is customary.
   */
  readonly electionTick: number;
  /** Ticks between a leader's heartbeats. */
  readonly heartbeatTick: number;
  /** The durable log. Raft only reads it; the application writes each Ready into it. */
  readonly storage: Storage;
  /**
   * The last index the application has applied, on restart. Committed entries at or below it
   * are not handed out again. 0 for a fresh node.
   */
  readonly applied?: number;
  /** Approximate byte limit of one MsgApp's entries (at least one entry is always sent). */
  readonly maxSizePerMsg?: number;
  /** Limit of MsgApp messages in flight to one follower in replicate state. */
  readonly maxInflightMsgs?: number;
  /** Optional byte limit of MsgApp payload in flight to one follower (0 = none). */
  readonly maxInflightBytes?: number;
  /**
   * Limit of the payload bytes of appended but uncommitted entries on a leader; proposals
   * beyond it are dropped. 0 or absent = no limit.
   */
  readonly maxUncommittedEntriesSize?: number;
  /** Byte limit of committed entries handed out in one Ready (absent = no limit). */
  readonly maxCommittedSizePerReady?: number;
  /**
   * A leader steps down when it has not heard from a quorum for an election timeout, and a
   * node that heard from a leader within the election timeout ignores vote requests.
   */
  readonly checkQuorum?: boolean;
  /** Run a pre-vote round before incrementing the term (Raft thesis §9.6). */
  readonly preVote?: boolean;
  /** Only 'safe' (ReadIndex confirmed by a heartbeat quorum) is supported. */
  readonly readOnlyOption?: 'safe';
  /** Source of the election timeout jitter; seed it for reproducible runs. */
  readonly rng: Rng;
  readonly logger?: Logger;
  /** Followers drop proposals instead of forwarding them to the leader. */
  readonly disableProposalForwarding?: boolean;
  /**
   * A deliberate bug, for simulations that must show they find it: the leader also commits an
   * entry of an earlier term once a quorum holds it (Raft §5.4.2, Figure 8), which lets a later
   * leader overwrite a committed entry. Never set it elsewhere.
   */
  readonly unsafeCommitEarlierTermByCount?: boolean;
}

/** ResolvedConfig is a validated {@link Config} with defaults filled in. */
export interface ResolvedConfig extends Required<Omit<Config, 'logger'>> {
  readonly logger: Logger | undefined;
}

function positiveInt(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v <= 0) {
    throw new ConfigError(`raft config: ${name} must be a positive integer, got ${v}`);
  }
}

/** validateConfig checks a Config and fills in defaults; throws {@link ConfigError}. */
export function validateConfig(c: Config): ResolvedConfig {
  positiveInt('id', c.id);
  positiveInt('heartbeatTick', c.heartbeatTick);
  positiveInt('electionTick', c.electionTick);
  if (c.electionTick <= c.heartbeatTick) {
    throw new ConfigError(
      `raft config: electionTick (${c.electionTick}) must be greater than heartbeatTick (${c.heartbeatTick})`,
    );
  }
  const maxInflightMsgs = c.maxInflightMsgs ?? 256;
  positiveInt('maxInflightMsgs', maxInflightMsgs);
  const maxSizePerMsg = c.maxSizePerMsg ?? 1024 * 1024;
  if (!(maxSizePerMsg > 0)) {
    throw new ConfigError(`raft config: maxSizePerMsg must be positive, got ${maxSizePerMsg}`);
  }
  const maxInflightBytes = c.maxInflightBytes ?? 0;
  if (maxInflightBytes !== 0 && maxInflightBytes < maxSizePerMsg) {
    throw new ConfigError('raft config: maxInflightBytes must be 0 or at least maxSizePerMsg');
  }
  const applied = c.applied ?? 0;
  if (!Number.isSafeInteger(applied) || applied < 0) {
    throw new ConfigError(`raft config: applied must be a non-negative integer, got ${applied}`);
  }
  // Checked at run time too: JavaScript callers (or a cast) can pass anything.
  const readOnlyOption: string = c.readOnlyOption ?? 'safe';
  if (readOnlyOption !== 'safe') {
    throw new ConfigError(
      `raft config: readOnlyOption '${readOnlyOption}' is not supported; only 'safe' (ReadIndex) is`,
    );
  }
  if (typeof c.rng.nextInt !== 'function') {
    throw new ConfigError('raft config: rng must provide nextInt(n)');
  }
  return {
    id: c.id,
    electionTick: c.electionTick,
    heartbeatTick: c.heartbeatTick,
    storage: c.storage,
    applied,
    maxSizePerMsg,
    maxInflightMsgs,
    maxInflightBytes,
    maxUncommittedEntriesSize: c.maxUncommittedEntriesSize ?? 0,
    maxCommittedSizePerReady: c.maxCommittedSizePerReady ?? Infinity,
    checkQuorum: c.checkQuorum ?? false,
    preVote: c.preVote ?? false,
    readOnlyOption: 'safe',
    rng: c.rng,
    logger: c.logger,
    disableProposalForwarding: c.disableProposalForwarding ?? false,
    unsafeCommitEarlierTermByCount: c.unsafeCommitEarlierTermByCount ?? false,
  };
}
