import * as grpc from '@grpc/grpc-js';
import type {Channel, ChannelOptions} from 'nice-grpc';
import {createChannel} from 'nice-grpc';

import type {TlsCredentials} from '../tls/tls-credentials.js';

/**
 * A gRPC channel to another member's peer port (`http://` or `https://` peer URL). Over
 * https this member presents its peer certificate (`--peer-cert-file`) and checks the other
 * member's against `--peer-trusted-ca-file` when one is given, as etcd's peer client does.
 */
export function peerChannel(
  url: string | URL,
  tls: TlsCredentials | undefined,
  options?: ChannelOptions,
): Channel {
  const u = typeof url === 'string' ? new URL(url) : url;
  const target = `${u.hostname}:${u.port}`;
  if (u.protocol !== 'https:') return createChannel(target, undefined, options);
  if (tls === undefined) {
    throw new Error(`${u.origin} is an https peer URL, but --peer-cert-file is not given`);
  }
  const credentials = grpc.credentials.createFromSecureContext(tls.secureContext(), {
    rejectUnauthorized: tls.settings.trustedCaFile !== undefined,
  });
  return createChannel(target, credentials, options);
}
