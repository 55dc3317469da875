/**
 * Known-wrong orders a member can be told to follow, so that the simulator shows it finds each
 * one (`npm run sim -- --bug <name>`). Production never sets any: `MemberEnvironment.bugs` is
 * empty unless a simulation fills it. Each names the rule it breaks.
 */
export const injectedBugs = [
  /**
   * Entries are acknowledged (voted on, counted for commit, applied) without their WAL fsync:
   * the write is left for a later batch's fsync. A crash of a quorum loses a committed write.
   */
  'ack-before-wal-fsync',
  /**
   * A raft snapshot is taken (and the WAL behind it released) before the backend commit that
   * holds what it covers: a crash in between restarts the member after entries its backend
   * never stored.
   */
  'snapshot-before-backend-commit',
  /**
   * The backend's applied-index write is dropped from each apply batch: a restart applies
   * entries the backend already holds a second time.
   */
  'drop-applied-index',
  /**
   * A raft snapshot's file is written without its fsync, or its directory's: raft sends the
   * snapshot to lagging followers, a follower acknowledges one it received, and the WAL behind
   * it is released, all before the snapshot is durable. A crash loses the file and leaves a
   * WAL that starts after the newest snapshot left on disk.
   */
  'snapshot-before-fsync',
  /**
   * The leader commits an entry of an earlier term as soon as a quorum holds it, instead of only
   * through an entry of its own term (Raft §5.4.2, Figure 8): a later leader whose log lacks the
   * entry may still be elected and overwrite it.
   */
  'commit-earlier-term-by-count',
] as const;

export type InjectedBug = (typeof injectedBugs)[number];

/** Whether `name` is one of {@link injectedBugs}. */
export function isInjectedBug(name: string): name is InjectedBug {
  return (injectedBugs as readonly string[]).includes(name);
}
