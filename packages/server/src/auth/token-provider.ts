/** Who a token stands for, and the auth revision its permissions are checked at. */
export interface TokenInfo {
  readonly username: string;
  readonly revision: bigint;
}

/**
 * Issues and recognises auth tokens: etcd's `--auth-token` providers. Tokens are
 * issued while applying an Authenticate entry, on every member.
 */
export interface TokenProvider {
  /**
   * The raft index a member must have applied before it can recognise `token`
   * (0 when any member can check it at once), or undefined when it is malformed.
   */
  issuedAt(token: string): number | undefined;
  /**
   * The token for `username`, issued by the Authenticate entry at `index`; `nonce`
   * is the random part its proposer chose, the same on every member.
   */
  assign(username: string, revision: bigint, index: number, nonce: string): string;
  /** Who a live token stands for; `revision` is the store's current one. */
  info(token: string, revision: bigint): TokenInfo | undefined;
  /** The user was deleted or changed password. */
  invalidateUser(username: string): void;
  /** Auth was disabled. */
  clear(): void;
  close(): void;
}
