import {readFileSync} from 'node:fs';

import {ChannelCredentials} from 'nice-grpc';

/**
 * TLS for the client, with etcdctl's meanings. Each file is a path to a PEM file or the
 * PEM bytes themselves.
 */
export interface ClientTlsOptions {
  /** CA certificates that verify the members (etcdctl `--cacert`); the system's by default. */
  readonly ca?: string | Uint8Array;
  /** Client certificate for mutual TLS (etcdctl `--cert`). */
  readonly cert?: string | Uint8Array;
  /** The client certificate's private key (etcdctl `--key`). */
  readonly key?: string | Uint8Array;
  /** Accept any member certificate, unverified (etcdctl `--insecure-skip-tls-verify`). */
  readonly insecureSkipVerify?: boolean;
}

function pem(what: string, source: string | Uint8Array | undefined): Buffer | null {
  if (source === undefined) return null;
  if (typeof source !== 'string') return Buffer.from(source);
  try {
    return readFileSync(source);
  } catch (error) {
    throw new Error(`cannot read the TLS ${what} file ${source}: ${(error as Error).message}`);
  }
}

/** The gRPC channel credentials for {@link ClientTlsOptions}. */
export function tlsCredentials(options: ClientTlsOptions): ChannelCredentials {
  const cert = pem('cert', options.cert);
  const key = pem('key', options.key);
  if ((cert === null) !== (key === null)) {
    throw new Error('TLS needs both cert and key for a client certificate, or neither');
  }
  return ChannelCredentials.createSsl(pem('ca', options.ca), key, cert, {
    rejectUnauthorized: options.insecureSkipVerify !== true,
  });
}
