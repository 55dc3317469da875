import {randomInt} from 'node:crypto';

import type {TokenInfo, TokenProvider} from './token-provider.js';

const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** The random part of a simple token: 16 letters, as etcd makes it. */
export function newTokenPrefix(): string {
  let s = '';
  for (let i = 0; i < 16; i++) s += letters.charAt(randomInt(letters.length));
  return s;
}

/** The raft index a simple token was issued at (`<prefix>.<index>`), or undefined if malformed. */
export function tokenIndex(token: string): number | undefined {
  const dot = token.lastIndexOf('.');
  if (dot <= 0 || dot !== token.indexOf('.')) return undefined;
  const index = Number(token.slice(dot + 1));
  return Number.isSafeInteger(index) && index > 0 ? index : undefined;
}

interface Issued {
  readonly username: string;
  expiresAtMs: number;
}

/**
 * etcd's simple tokens (`--auth-token=simple`): opaque strings `<16 letters>.<raft index>`
 * that each member maps to a user name in memory. A token is issued by applying an
 * Authenticate entry, so every member learns it at the same point of the log, and one
 * member's token works on any other once that member has applied the entry.
 *
 * A token lives `ttlMs` after its last use on this member (etcd's `--auth-token-ttl`,
 * reset on every use) and dies at once when its user is deleted or changes password,
 * or when auth is disabled. Tokens are not persisted: after a restart clients
 * authenticate again, as with etcd.
 */
export class SimpleTokens implements TokenProvider {
  private readonly tokens = new Map<string, Issued>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly ttlMs: number,
    private readonly nowMs: () => number = Date.now,
  ) {}

  issuedAt(token: string): number | undefined {
    return tokenIndex(token);
  }

  /** Records `<nonce>.<index>` for `username`, as the Authenticate entry at `index` is applied. */
  assign(username: string, _revision: bigint, index: number, nonce: string): string {
    const token = `${nonce}.${index}`;
    this.tokens.set(token, {username, expiresAtMs: this.nowMs() + this.ttlMs});
    this.sweeper ??= setInterval(
      () => {
        this.sweep();
      },
      Math.min(this.ttlMs, 60_000),
    ).unref();
    return token;
  }

  /** A live token's user at the store's current revision, as etcd's simple tokens answer. */
  info(token: string, revision: bigint): TokenInfo | undefined {
    const username = this.use(token);
    return username === undefined ? undefined : {username, revision};
  }

  /** The user a live token stands for, restarting its TTL; undefined if unknown or expired. */
  use(token: string): string | undefined {
    const issued = this.tokens.get(token);
    if (issued === undefined) return undefined;
    const now = this.nowMs();
    if (issued.expiresAtMs <= now) {
      this.tokens.delete(token);
      return undefined;
    }
    issued.expiresAtMs = now + this.ttlMs;
    return issued.username;
  }

  /** Forgets every token of `username`: it was deleted or its password changed. */
  invalidateUser(username: string): void {
    for (const [token, issued] of this.tokens) {
      if (issued.username === username) this.tokens.delete(token);
    }
  }

  /** Forgets every token: auth was disabled. */
  clear(): void {
    this.tokens.clear();
  }

  get size(): number {
    return this.tokens.size;
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.tokens.clear();
  }

  private sweep(): void {
    const now = this.nowMs();
    for (const [token, issued] of this.tokens) {
      if (issued.expiresAtMs <= now) this.tokens.delete(token);
    }
  }
}
