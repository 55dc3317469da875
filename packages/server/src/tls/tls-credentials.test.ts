import {once} from 'node:events';
import {readFileSync} from 'node:fs';
import type net from 'node:net';
import tls from 'node:tls';

import {makeTestPki, opensslSkipReason} from '@synod/testing';
import type {CertFiles, TestPki} from '@synod/testing';
import {afterAll, beforeAll, describe, expect, it} from 'vitest';

import {TlsCredentials} from './tls-credentials.js';
import type {TlsSettings} from './tls-settings.js';

/**
 * The names a verified client certificate must carry: --client-cert-allowed-hostname and
 * --peer-cert-allowed-cn, checked after the handshake on a real TLS connection.
 */
describe.skipIf(opensslSkipReason !== undefined)('allowed certificate names', () => {
  let pki: TestPki;

  beforeAll(() => {
    pki = makeTestPki();
  });

  afterAll(() => {
    pki.remove();
  });

  const settings = (extra: Partial<TlsSettings>): TlsSettings => ({
    side: 'peer',
    certFile: pki.server.cert,
    keyFile: pki.server.key,
    trustedCaFile: pki.ca,
    clientCertAuth: true,
    crlFile: undefined,
    allowedCn: undefined,
    allowedHostname: undefined,
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    cipherSuites: [],
    ...extra,
  });

  /** What `refusal` says of a client that connects with `client`'s certificate. */
  async function refusalFor(
    credentials: TlsCredentials,
    client: CertFiles,
  ): Promise<string | undefined> {
    const server = tls.createServer(credentials.serverOptions());
    const verdict = new Promise<string | undefined>(resolve => {
      server.on('secureConnection', socket => {
        resolve(credentials.refusal(socket));
        socket.destroy();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const {port} = server.address() as net.AddressInfo;
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: readFileSync(pki.ca),
      cert: readFileSync(client.cert),
      key: readFileSync(client.key),
    });
    socket.on('error', () => undefined);
    try {
      return await verdict;
    } finally {
      socket.destroy();
      server.close();
    }
  }

  it('lets in only the allowed Common Name', async () => {
    const credentials = TlsCredentials.load(settings({allowedCn: 'member'}));
    expect(await refusalFor(credentials, pki.issue('member', 'member'))).toBeUndefined();
    expect(await refusalFor(credentials, pki.server)).toBe(
      'certificate CN "server" is not the allowed CN "member"',
    );
  });

  it('lets in only certificates valid for the allowed host name', async () => {
    const credentials = TlsCredentials.load(
      settings({side: 'client', allowedHostname: 'localhost'}),
    );
    expect(await refusalFor(credentials, pki.server)).toBeUndefined();
    expect(await refusalFor(credentials, pki.otherHost)).toBe(
      'certificate is not valid for the allowed host name localhost',
    );
  });
});
