// Over 400 lines on purpose: etcd's auth store (auth/store.go) as one class. Users, roles,
// permissions and the enabled flag share one in-memory copy, one revision and one backend
// bucket, and every change bumps the revision and refreshes the cache together. The parts that
// stand alone live beside it: key-ranges.ts, auth-bucket-key.ts, the token providers.

import type {
  AuthRoleGrantPermissionRequest,
  AuthRoleRevokePermissionRequest,
  AuthUserAddRequest,
  AuthUserChangePasswordRequest,
  DeleteRangeRequest,
  EtcdErrorSpec,
  Permission,
  PutRequest,
  TxnRequest,
} from '@synod/proto';
import {
  EtcdErrors,
  Permission_Type,
  Role,
  User,
  decodeUtf8KeepingBytes,
  encodeUtf8KeepingBytes,
} from '@synod/proto';
import type {Backend} from '@synod/storage';
import bcrypt from 'bcryptjs';

import {authBucketKey} from './auth-bucket-key.js';
import type {KeyInterval} from './key-ranges.js';
import {covers, keyInterval} from './key-ranges.js';
import type {TokenProvider} from './token-provider.js';

/** The user a request runs as, and the auth revision its token was checked at. */
export interface RequestAuth {
  readonly username: string;
  /** 0 for a request that carried no token. */
  readonly authRevision: bigint;
}

/** A request without a token: refused with "user name is empty" while auth is on. */
export const anonymous: RequestAuth = {username: '', authRevision: 0n};

/**
 * The member's own requests (expired lease revocations, auto-compaction): they run
 * as root at a revision that is never stale, as etcd's `WithRoot` does. While auth
 * is on, root exists and holds the root role, so they always pass.
 */
export const memberAsRoot: RequestAuth = {username: 'root', authRevision: 2n ** 64n - 1n};

/** An auth rule a request broke, with etcd's code and message. */
export class AuthError extends Error {
  constructor(readonly spec: EtcdErrorSpec) {
    super(spec.message);
    this.name = 'AuthError';
  }
}

const rootName = 'root';
const enabledKey = Buffer.from('authEnabled');
const revisionKey = Buffer.from('authRevision');

type Access = 'read' | 'write';

interface Grants {
  readonly read: KeyInterval[];
  readonly write: KeyInterval[];
}

function fail(spec: EtcdErrorSpec): never {
  throw new AuthError(spec);
}

function samePermissionKey(p: Permission, key: Uint8Array, rangeEnd: Uint8Array): boolean {
  return Buffer.compare(p.key, key) === 0 && Buffer.compare(p.rangeEnd, rangeEnd) === 0;
}

/**
 * Users, roles and their key permissions, the enabled flag and the auth revision:
 * etcd's auth store. Everything lives in the backend buckets `auth`, `authUsers`
 * and `authRoles` and changes only by applying log entries, in the batch that
 * records their index, so every member holds the same store at the same index and
 * a backend snapshot carries it whole. An in-memory copy, loaded when the backend
 * opens, answers permission checks.
 *
 * The revision grows with every change to users, roles or permissions. A write
 * carries the revision its user's token was checked at and is refused at apply
 * time with "revision of auth store is old" if the store changed in between,
 * which closes the gap between checking and applying.
 */
export class AuthStore {
  private readonly users = new Map<string, User>();
  private readonly roles = new Map<string, Role>();
  private readonly grantsCache = new Map<string, Grants>();
  private enabled: boolean;
  private rev: bigint;

  constructor(
    private readonly backend: Backend,
    private readonly tokens: TokenProvider,
  ) {
    for (const {value} of backend.range('authUsers', Buffer.alloc(0))) {
      const user = User.decode(value);
      this.users.set(nameText(user.name), user);
    }
    for (const {value} of backend.range('authRoles', Buffer.alloc(0))) {
      const role = Role.decode(value);
      this.roles.set(nameText(role.name), role);
    }
    const flag = backend.get('auth', enabledKey);
    this.enabled = flag !== undefined && flag[0] === 1;
    const rev = backend.get('auth', revisionKey);
    // etcd starts the revision at 1, so that 0 can mean "no token".
    this.rev = rev === undefined ? 1n : Buffer.from(rev).readBigUInt64BE();
    if (!this.enabled) tokens.clear();
  }

  get isEnabled(): boolean {
    return this.enabled;
  }

  get revision(): bigint {
    return this.rev;
  }

  // ---- permission checks (etcd's IsAdminPermitted / isOpPermitted) ----

  /** Passes a root user while auth is on; anyone while it is off. */
  checkAdmin(auth: RequestAuth): void {
    if (!this.enabled) return;
    if (auth.username === '') fail(EtcdErrors.userEmpty);
    const user = this.users.get(auth.username);
    if (user === undefined) fail(EtcdErrors.userNotFound);
    if (!user.roles.includes(rootName)) fail(EtcdErrors.permissionDenied);
  }

  /** Whether `auth` may read or write every key of `[key, rangeEnd)` (range_end conventions). */
  checkKeys(auth: RequestAuth, key: Uint8Array, rangeEnd: Uint8Array, access: Access): void {
    if (!this.enabled) return;
    if (auth.authRevision === 0n) fail(EtcdErrors.userEmpty);
    if (auth.authRevision < this.rev) fail(EtcdErrors.authOldRevision);
    const user = this.users.get(auth.username);
    if (user === undefined) fail(EtcdErrors.permissionDenied);
    if (user.roles.includes(rootName)) return;
    if (!covers(this.grantsOf(user)[access], keyInterval(key, rangeEnd))) {
      fail(EtcdErrors.permissionDenied);
    }
  }

  checkRange(auth: RequestAuth, key: Uint8Array, rangeEnd: Uint8Array): void {
    this.checkKeys(auth, key, rangeEnd, 'read');
  }

  /** A put: write on its key, write on every key already on its lease, read for prev_kv. */
  checkPut(
    auth: RequestAuth,
    r: PutRequest,
    leaseKeys: (id: bigint) => readonly Uint8Array[],
  ): void {
    if (!this.enabled) return;
    this.checkKeys(auth, r.key, Buffer.alloc(0), 'write');
    // A user who could not revoke the lease must not attach keys to it either.
    if (r.lease !== 0n) {
      for (const k of leaseKeys(r.lease)) this.checkKeys(auth, k, Buffer.alloc(0), 'write');
    }
    if (r.prevKv) this.checkKeys(auth, r.key, Buffer.alloc(0), 'read');
  }

  checkDeleteRange(auth: RequestAuth, r: DeleteRangeRequest): void {
    if (!this.enabled) return;
    this.checkKeys(auth, r.key, r.rangeEnd, 'write');
    if (r.prevKv) this.checkKeys(auth, r.key, r.rangeEnd, 'read');
  }

  /** Every compare and every operation of every branch, nested txns included. */
  checkTxn(
    auth: RequestAuth,
    t: TxnRequest,
    leaseKeys: (id: bigint) => readonly Uint8Array[],
  ): void {
    if (!this.enabled) return;
    for (const c of t.compare) this.checkKeys(auth, c.key, c.rangeEnd, 'read');
    for (const op of [...t.success, ...t.failure]) {
      const r = op.request;
      switch (r?.$case) {
        case 'requestRange':
          this.checkKeys(auth, r.value.key, r.value.rangeEnd, 'read');
          break;
        case 'requestPut':
          this.checkPut(auth, r.value, leaseKeys);
          break;
        case 'requestDeleteRange':
          this.checkDeleteRange(auth, r.value);
          break;
        case 'requestTxn':
          this.checkTxn(auth, r.value, leaseKeys);
          break;
        default:
          break;
      }
    }
  }

  /** Revoking a lease deletes its keys: write on each. */
  checkLeaseKeys(auth: RequestAuth, keys: readonly Uint8Array[], access: Access): void {
    for (const k of keys) this.checkKeys(auth, k, Buffer.alloc(0), access);
  }

  /** Whether `username` holds `role` (lets a user read its own roles). */
  hasRole(username: string, role: string): boolean {
    return this.users.get(username)?.roles.includes(role) ?? false;
  }

  // ---- reads ----

  /**
   * Checks a password (bcrypt, off the event loop's critical path) and returns the
   * revision it was checked at, as etcd's CheckPassword.
   */
  async checkPassword(name: string, password: string): Promise<bigint> {
    if (!this.enabled) fail(EtcdErrors.authNotEnabled);
    const user = this.users.get(name);
    if (user === undefined || user.options?.noPassword === true) fail(EtcdErrors.authFailed);
    const revision = this.rev;
    const ok = await bcrypt.compare(password, user.password.toString('utf8'));
    if (!ok) fail(EtcdErrors.authFailed);
    return revision;
  }

  userRoles(name: string): string[] {
    const user = this.users.get(name);
    if (user === undefined) fail(EtcdErrors.userNotFound);
    return [...user.roles];
  }

  userNames(): string[] {
    return [...this.users.keys()].sort();
  }

  rolePermissions(name: string): Permission[] {
    const role = this.roles.get(name);
    if (role === undefined) fail(EtcdErrors.roleNotFound);
    return role.keyPermission.map(p => ({...p}));
  }

  roleNames(): string[] {
    return [...this.roles.keys()].sort();
  }

  // ---- changes, called only by the applier ----

  enable(): void {
    if (this.enabled) return;
    const root = this.users.get(rootName);
    if (root === undefined) fail(EtcdErrors.rootUserNotExist);
    if (!root.roles.includes(rootName)) fail(EtcdErrors.rootRoleNotExist);
    this.enabled = true;
    this.backend.put('auth', enabledKey, Buffer.from([1]));
    this.grantsCache.clear();
  }

  disable(): void {
    if (!this.enabled) return;
    this.enabled = false;
    this.backend.put('auth', enabledKey, Buffer.from([0]));
    this.tokens.clear();
  }

  /**
   * Issues a token to `name` for the Authenticate entry at `index` (its proposer
   * checked the password and chose `nonce`).
   */
  authenticate(name: string, index: number, nonce: string): string {
    if (!this.enabled) fail(EtcdErrors.authNotEnabled);
    const user = this.users.get(name);
    if (user === undefined || user.options?.noPassword === true) fail(EtcdErrors.authFailed);
    return this.tokens.assign(name, this.rev, index, nonce);
  }

  /** Adds a user; `r.hashedPassword` holds the base64 bcrypt hash the proposer computed. */
  userAdd(r: AuthUserAddRequest): void {
    if (r.name === '') fail(EtcdErrors.userEmpty);
    if (this.users.has(r.name)) fail(EtcdErrors.userAlreadyExist);
    const noPassword = r.options?.noPassword ?? false;
    this.saveUser({
      name: nameBytes(r.name),
      password: noPassword ? Buffer.alloc(0) : Buffer.from(r.hashedPassword, 'base64'),
      roles: [],
      options: {noPassword},
    });
    this.bump();
  }

  userDelete(name: string): void {
    if (this.enabled && name === rootName) fail(EtcdErrors.invalidAuthMgmt);
    if (!this.users.has(name)) fail(EtcdErrors.userNotFound);
    this.users.delete(name);
    this.backend.delete('authUsers', authBucketKey(nameBytes(name)));
    this.bump();
    this.tokens.invalidateUser(name);
  }

  userChangePassword(r: AuthUserChangePasswordRequest): void {
    const user = this.users.get(r.name);
    if (user === undefined) fail(EtcdErrors.userNotFound);
    this.saveUser({...user, password: Buffer.from(r.hashedPassword, 'base64')});
    this.bump();
    this.tokens.invalidateUser(r.name);
  }

  userGrantRole(name: string, role: string): void {
    const user = this.users.get(name);
    if (user === undefined) fail(EtcdErrors.userNotFound);
    if (role !== rootName && !this.roles.has(role)) fail(EtcdErrors.roleNotFound);
    if (user.roles.includes(role)) return;
    this.saveUser({...user, roles: [...user.roles, role].sort()});
    this.bump();
  }

  userRevokeRole(name: string, role: string): void {
    if (this.enabled && name === rootName && role === rootName) fail(EtcdErrors.invalidAuthMgmt);
    const user = this.users.get(name);
    if (user === undefined) fail(EtcdErrors.userNotFound);
    if (!user.roles.includes(role)) fail(EtcdErrors.roleNotGranted);
    this.saveUser({...user, roles: user.roles.filter(r => r !== role)});
    this.bump();
  }

  roleAdd(name: string): void {
    if (name === '') fail(EtcdErrors.roleEmpty);
    if (this.roles.has(name)) fail(EtcdErrors.roleAlreadyExist);
    this.saveRole({name: nameBytes(name), keyPermission: []});
    this.bump();
  }

  roleDelete(name: string): void {
    if (this.enabled && name === rootName) fail(EtcdErrors.invalidAuthMgmt);
    if (!this.roles.has(name)) fail(EtcdErrors.roleNotFound);
    this.roles.delete(name);
    this.backend.delete('authRoles', authBucketKey(nameBytes(name)));
    for (const user of [...this.users.values()]) {
      if (user.roles.includes(name)) {
        this.saveUser({...user, roles: user.roles.filter(r => r !== name)});
      }
    }
    this.bump();
  }

  roleGrantPermission(r: AuthRoleGrantPermissionRequest): void {
    const role = this.roles.get(r.name);
    if (role === undefined) fail(EtcdErrors.roleNotFound);
    const perm = r.perm;
    if (perm === undefined) fail(EtcdErrors.permissionNotGiven);
    const granted: Permission = {
      permType:
        perm.permType === Permission_Type.UNRECOGNIZED ? Permission_Type.READ : perm.permType,
      key: Buffer.from(perm.key),
      rangeEnd: Buffer.from(perm.rangeEnd),
    };
    const others = role.keyPermission.filter(p => !samePermissionKey(p, perm.key, perm.rangeEnd));
    const keyPermission = [...others, granted].sort((a, b) => Buffer.compare(a.key, b.key));
    this.saveRole({...role, keyPermission});
    this.bump();
  }

  roleRevokePermission(r: AuthRoleRevokePermissionRequest): void {
    const role = this.roles.get(r.role);
    if (role === undefined) fail(EtcdErrors.roleNotFound);
    const kept = role.keyPermission.filter(p => !samePermissionKey(p, r.key, r.rangeEnd));
    if (kept.length === role.keyPermission.length) fail(EtcdErrors.permissionNotGranted);
    this.saveRole({...role, keyPermission: kept});
    this.bump();
  }

  private saveUser(user: User): void {
    const name = nameText(user.name);
    this.users.set(name, user);
    this.backend.put('authUsers', authBucketKey(user.name), User.encode(user).finish());
  }

  private saveRole(role: Role): void {
    this.roles.set(nameText(role.name), role);
    this.backend.put('authRoles', authBucketKey(role.name), Role.encode(role).finish());
  }

  private bump(): void {
    this.rev += 1n;
    const v = Buffer.alloc(8);
    v.writeBigUInt64BE(this.rev);
    this.backend.put('auth', revisionKey, v);
    this.grantsCache.clear();
  }

  private grantsOf(user: User): Grants {
    const name = nameText(user.name);
    const cached = this.grantsCache.get(name);
    if (cached !== undefined) return cached;
    const grants: Grants = {read: [], write: []};
    for (const roleName of user.roles) {
      for (const p of this.roles.get(roleName)?.keyPermission ?? []) {
        const ivl = keyInterval(p.key, p.rangeEnd);
        if (p.permType !== Permission_Type.WRITE) grants.read.push(ivl);
        if (p.permType !== Permission_Type.READ) grants.write.push(ivl);
      }
    }
    this.grantsCache.set(name, grants);
    return grants;
  }
}

/**
 * The bytes of a user or role name. Names are Go strings in etcd, any bytes: the request's
 * string keeps bytes that are not UTF-8 as escapes (see `decodeUtf8KeepingBytes`), and this
 * gives them back, so two names that differ only there stay two names.
 */
function nameBytes(name: string): Buffer {
  const bytes = encodeUtf8KeepingBytes(name);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A stored name as the string requests carry it. */
function nameText(name: Uint8Array): string {
  return decodeUtf8KeepingBytes(name);
}
