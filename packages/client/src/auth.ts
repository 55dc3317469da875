import {Permission_Type} from '@synod/proto';
import type {AuthStatusResponse, ResponseHeader} from '@synod/proto';

import type {CallOptions} from './call-options.js';
import type {ConnectionPool} from './connection-pool.js';
import {KeySpace} from './key-space.js';
import type {KeySelector} from './key-space.js';
import {headerOf} from './ops.js';

/** What a role's permission allows. */
export type PermissionType = 'read' | 'write' | 'readwrite';

/** A permission of a role: a type over a key or range. */
export interface RolePermission {
  readonly type: PermissionType;
  readonly key: Buffer;
  /** Empty for a single key; `\0` for every key from `key` on. */
  readonly rangeEnd: Buffer;
}

const permissionTypes: Record<PermissionType, Permission_Type> = {
  read: Permission_Type.READ,
  write: Permission_Type.WRITE,
  readwrite: Permission_Type.READWRITE,
};

function permissionTypeName(type: Permission_Type): PermissionType {
  if (type === Permission_Type.WRITE) return 'write';
  if (type === Permission_Type.READWRITE) return 'readwrite';
  return 'read';
}

/**
 * Users, roles and the switch that turns authentication on (etcd's Auth service). Reads
 * are retried on another member when one is unavailable; changes are not. Keys in
 * permissions are absolute (not in any namespace).
 *
 * The client's own credentials are given to `createClient({auth})`; it authenticates on
 * each member it talks to and renews the token when it expires.
 */
export class Auth {
  /** @internal */
  constructor(private readonly pool: ConnectionPool) {}

  private async call<T>(
    method: string,
    options: CallOptions,
    retry: boolean,
    invoke: Parameters<ConnectionPool['unary']>[2] extends (...args: infer A) => unknown
      ? (...args: A) => Promise<T>
      : never,
  ): Promise<T> {
    return this.pool.unary(`/etcdserverpb.Auth/${method}`, {...options, retry}, invoke);
  }

  /** Turns authentication on; needs a `root` user with the `root` role. */
  async enable(options: CallOptions = {}): Promise<ResponseHeader> {
    const r = await this.call('AuthEnable', options, false, (c, o) => c.auth.authEnable({}, o));
    return headerOf(r.header);
  }

  /** Turns authentication off (as root). */
  async disable(options: CallOptions = {}): Promise<ResponseHeader> {
    const r = await this.call('AuthDisable', options, false, (c, o) => c.auth.authDisable({}, o));
    return headerOf(r.header);
  }

  /** Whether authentication is on (etcd 3.5+). */
  async status(options: CallOptions = {}): Promise<AuthStatusResponse> {
    return this.call('AuthStatus', options, true, (c, o) => c.auth.authStatus({}, o));
  }

  /**
   * Checks a user name and password and returns a token for them. The client does this
   * itself when given `auth` credentials; this is for tools that manage tokens.
   */
  async authenticate(name: string, password: string, options: CallOptions = {}): Promise<string> {
    const r = await this.call('Authenticate', options, true, (c, o) =>
      c.auth.authenticate({name, password}, o),
    );
    return r.token;
  }

  async userAdd(
    name: string,
    password: string,
    options: CallOptions & {readonly noPassword?: boolean} = {},
  ): Promise<ResponseHeader> {
    const request = {name, password, options: {noPassword: options.noPassword ?? false}};
    const r = await this.call('UserAdd', options, false, (c, o) => c.auth.userAdd(request, o));
    return headerOf(r.header);
  }

  /** The roles of a user. */
  async userGet(name: string, options: CallOptions = {}): Promise<string[]> {
    const r = await this.call('UserGet', options, true, (c, o) => c.auth.userGet({name}, o));
    return r.roles;
  }

  async userList(options: CallOptions = {}): Promise<string[]> {
    const r = await this.call('UserList', options, true, (c, o) => c.auth.userList({}, o));
    return r.users;
  }

  async userDelete(name: string, options: CallOptions = {}): Promise<ResponseHeader> {
    const r = await this.call('UserDelete', options, false, (c, o) => c.auth.userDelete({name}, o));
    return headerOf(r.header);
  }

  async userChangePassword(
    name: string,
    password: string,
    options: CallOptions = {},
  ): Promise<ResponseHeader> {
    const r = await this.call('UserChangePassword', options, false, (c, o) =>
      c.auth.userChangePassword({name, password}, o),
    );
    return headerOf(r.header);
  }

  async userGrantRole(
    user: string,
    role: string,
    options: CallOptions = {},
  ): Promise<ResponseHeader> {
    const r = await this.call('UserGrantRole', options, false, (c, o) =>
      c.auth.userGrantRole({user, role}, o),
    );
    return headerOf(r.header);
  }

  async userRevokeRole(
    user: string,
    role: string,
    options: CallOptions = {},
  ): Promise<ResponseHeader> {
    const r = await this.call('UserRevokeRole', options, false, (c, o) =>
      c.auth.userRevokeRole({name: user, role}, o),
    );
    return headerOf(r.header);
  }

  async roleAdd(name: string, options: CallOptions = {}): Promise<ResponseHeader> {
    const r = await this.call('RoleAdd', options, false, (c, o) => c.auth.roleAdd({name}, o));
    return headerOf(r.header);
  }

  /** The permissions of a role. */
  async roleGet(role: string, options: CallOptions = {}): Promise<RolePermission[]> {
    const r = await this.call('RoleGet', options, true, (c, o) => c.auth.roleGet({role}, o));
    return r.perm.map(p => ({
      type: permissionTypeName(p.permType),
      key: p.key,
      rangeEnd: p.rangeEnd,
    }));
  }

  async roleList(options: CallOptions = {}): Promise<string[]> {
    const r = await this.call('RoleList', options, true, (c, o) => c.auth.roleList({}, o));
    return r.roles;
  }

  async roleDelete(role: string, options: CallOptions = {}): Promise<ResponseHeader> {
    const r = await this.call('RoleDelete', options, false, (c, o) => c.auth.roleDelete({role}, o));
    return headerOf(r.header);
  }

  /** Lets a role read and/or write a key, prefix or range. */
  async roleGrantPermission(
    role: string,
    type: PermissionType,
    selector: KeySelector,
    options: CallOptions = {},
  ): Promise<ResponseHeader> {
    const {key, rangeEnd} = KeySpace.root.range(selector);
    const request = {name: role, perm: {permType: permissionTypes[type], key, rangeEnd}};
    const r = await this.call('RoleGrantPermission', options, false, (c, o) =>
      c.auth.roleGrantPermission(request, o),
    );
    return headerOf(r.header);
  }

  /** Removes a role's permission on exactly this key, prefix or range. */
  async roleRevokePermission(
    role: string,
    selector: KeySelector,
    options: CallOptions = {},
  ): Promise<ResponseHeader> {
    const {key, rangeEnd} = KeySpace.root.range(selector);
    const r = await this.call('RoleRevokePermission', options, false, (c, o) =>
      c.auth.roleRevokePermission({role, key, rangeEnd}, o),
    );
    return headerOf(r.header);
  }
}
