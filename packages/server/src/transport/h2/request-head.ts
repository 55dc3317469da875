import {pathSlashAddedHeader} from '../grpc-stream.js';
import type {HeaderFields} from './hpack-decoder.js';

/** Header fields HTTP/2 forbids, being HTTP/1's hop-by-hop ones (RFC 9113 §8.2.2). */
const connectionSpecific = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);
const pseudoHeaders = new Set([':method', ':scheme', ':path', ':authority']);

/**
 * Checks a request's header fields the way etcd's servers check them, and mends what etcd
 * serves though it is malformed; false for a request to reset with PROTOCOL_ERROR.
 *
 * Both of etcd's servers refuse what HTTP/2 itself forbids (RFC 9113 §8.3): an unknown or
 * repeated pseudo-header, one after a regular field, upper-case names, connection-specific
 * fields, `te` other than `trailers`, no `:method`. On plaintext, etcd 3.4 reads requests
 * with grpc-go's own server, which needs none of `:scheme`, `:authority` and the leading
 * slash of `:path` (it strips an optional one): a path without it gets one here, so the call
 * routes where etcd routes it, and the request is marked (`synod-path-slash-added: 1`) so
 * that a malformed method name is quoted as sent. Over TLS, Go's `net/http` server reads them, which resets a
 * `:path` without its slash and a `:scheme` missing or other than `http` and `https`. Any
 * `:authority` is served (etcdctl 3.4 sends its endpoint URL).
 *
 * Example: on plaintext, `:method POST`, `:path etcdserverpb.KV/Range` passes with the path
 * mended to `/etcdserverpb.KV/Range`; over TLS it is refused.
 */
export function checkRequestHead(fields: HeaderFields, secure: boolean): boolean {
  let regularSeen = false;
  let method: string | undefined;
  let scheme: string | undefined;
  let pathAt = -1;
  const seen = new Set<string>();
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] ?? '';
    const value = fields[i + 1] ?? '';
    if (name.startsWith(':')) {
      if (regularSeen || !pseudoHeaders.has(name) || seen.has(name)) return false;
      seen.add(name);
      if (name === ':method') method = value;
      else if (name === ':scheme') scheme = value;
      else if (name === ':path') pathAt = i + 1;
      continue;
    }
    regularSeen = true;
    if (name === '' || name !== name.toLowerCase() || connectionSpecific.has(name)) return false;
    if (name === 'te' && value !== 'trailers') return false;
  }
  if (method === undefined || method === '' || pathAt < 0) return false;
  const path = fields[pathAt] ?? '';
  if (path === '') return false;
  if (secure) {
    if (scheme !== 'http' && scheme !== 'https') return false;
    return path.startsWith('/') || (path === '*' && method === 'OPTIONS');
  }
  if (!path.startsWith('/')) {
    fields[pathAt] = `/${path}`;
    fields.push(pathSlashAddedHeader, '1');
  }
  return true;
}

/** Trailers carry no pseudo-header (RFC 9113 §8.1). */
export function checkTrailers(fields: HeaderFields): boolean {
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] ?? '';
    if (name.startsWith(':') || name !== name.toLowerCase()) return false;
  }
  return true;
}
