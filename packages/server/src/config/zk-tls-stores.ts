import {ConfigError} from '../errors/config-error.js';
import {storeTypeOf} from '../tls/key-store.js';
import type {StoreSettings} from '../tls/key-store.js';

/** The ZooKeeper TLS port's store flags, as `MemberConfigInput` carries them. */
export interface ZkStoreInput {
  zkCertFile?: string;
  zkKeyFile?: string;
  zkTrustedCaFile?: string;
  zkKeystoreFile?: string;
  zkKeystorePassword?: string;
  zkKeystoreType?: string;
  zkTruststoreFile?: string;
  zkTruststorePassword?: string;
  zkTruststoreType?: string;
}

/**
 * The key and trust stores of the ZooKeeper TLS port, as ZooKeeper's `ssl.keyStore.*` and
 * `ssl.trustStore.*` name them: `--zk-keystore-file`, `--zk-keystore-password`,
 * `--zk-keystore-type` (and the same with `truststore`). A store's type is given, or told by
 * its file name as ZooKeeper tells it; a password or type without its store, or a store beside
 * the PEM files it stands in for, is refused. The files themselves are read later, with the
 * rest of the certificates.
 */
export function resolveZkStores(input: ZkStoreInput): {
  readonly keyStore?: StoreSettings;
  readonly trustStore?: StoreSettings;
} {
  const keyStore = store(
    input.zkKeystoreFile,
    input.zkKeystorePassword,
    input.zkKeystoreType,
    'keystore',
  );
  const trustStore = store(
    input.zkTruststoreFile,
    input.zkTruststorePassword,
    input.zkTruststoreType,
    'truststore',
  );
  if (keyStore !== undefined && (input.zkCertFile !== undefined || input.zkKeyFile !== undefined)) {
    throw new ConfigError(
      'zk-keystore-file',
      'give the ZooKeeper port either a key store or --zk-cert-file and --zk-key-file, not both',
    );
  }
  if (trustStore !== undefined && input.zkTrustedCaFile !== undefined) {
    throw new ConfigError(
      'zk-truststore-file',
      'give the ZooKeeper port either a trust store or --zk-trusted-ca-file, not both',
    );
  }
  return {
    ...(keyStore === undefined ? {} : {keyStore}),
    ...(trustStore === undefined ? {} : {trustStore}),
  };
}

function store(
  file: string | undefined,
  password: string | undefined,
  type: string | undefined,
  kind: 'keystore' | 'truststore',
): StoreSettings | undefined {
  if (file === undefined || file === '') {
    if (password !== undefined) {
      throw new ConfigError(`zk-${kind}-password`, `it is the password of --zk-${kind}-file`);
    }
    if (type !== undefined) {
      throw new ConfigError(`zk-${kind}-type`, `it is the type of --zk-${kind}-file`);
    }
    return undefined;
  }
  const resolved = storeTypeOf(type, file);
  if (typeof resolved !== 'string') {
    throw new ConfigError(
      type === undefined || type === '' ? `zk-${kind}-file` : `zk-${kind}-type`,
      type === undefined || type === ''
        ? `${resolved.error} with --zk-${kind}-type (JKS, PKCS12 or PEM)`
        : resolved.error,
    );
  }
  return {file, password, type: resolved};
}
