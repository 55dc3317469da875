/**
 * A committed raft entry the state machine cannot apply. Applying is deterministic, so
 * every member meets the same error at the same entry: the member stops before anything of
 * the entry reaches its backend, and stops again at the same place after a restart, until
 * an operator skips the entry on every member (`synod skip-entry`) or runs a version that
 * applies it.
 */
export class UnappliableEntryError extends Error {
  constructor(
    /** The entry's raft index. */
    readonly index: number,
    /** What the entry asked for (`put`, `authRoleAdd`, ...) or what made it unreadable. */
    readonly request: string,
    /** Why it could not be applied. */
    readonly reason: string,
  ) {
    super(
      `cannot apply raft entry ${index} (${request}): ${reason}; the member stopped without ` +
        `applying it. Every member stops at this entry: see "An entry that cannot be applied" ` +
        `in docs/operations.md, or run 'synod skip-entry --data-dir <dir> --index ${index}' ` +
        `on every member`,
    );
    this.name = 'UnappliableEntryError';
  }
}
