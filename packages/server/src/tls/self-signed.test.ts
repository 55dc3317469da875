import {X509Certificate, createPrivateKey} from 'node:crypto';
import {once} from 'node:events';
import tls from 'node:tls';

import {describe, expect, it} from 'vitest';

import {makeSelfSignedCertificate} from './self-signed.js';

describe('self-signed certificates for --auto-tls', () => {
  it('makes a certificate for the listen hosts that X.509 parsers accept', () => {
    const now = new Date('2026-01-02T03:04:05Z');
    const {certPem, keyPem} = makeSelfSignedCertificate(['127.0.0.1', 'localhost', '::1'], 2, now);
    const cert = new X509Certificate(certPem);
    expect(cert.subject).toBe('O=etcd');
    expect(cert.issuer).toBe('O=etcd');
    expect(cert.subjectAltName).toBe(
      'IP Address:127.0.0.1, DNS:localhost, IP Address:0:0:0:0:0:0:0:1',
    );
    expect(new Date(cert.validFrom).toISOString()).toBe('2026-01-02T03:04:05.000Z');
    expect(new Date(cert.validTo).toISOString()).toBe('2028-01-02T03:04:05.000Z');
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
  });

  it("encodes every random serial as DER's minimal INTEGER, so every certificate parses", () => {
    // A serial drawn as 00 0x... was written with its leading zero, which OpenSSL refuses: one
    // certificate in 256 stopped a member started with --auto-tls.
    const serials = new Set<string>();
    for (let i = 0; i < 1500; i++) {
      const cert = new X509Certificate(makeSelfSignedCertificate(['127.0.0.1'], 1).certPem);
      serials.add(cert.serialNumber);
    }
    expect(serials.size).toBe(1500);
  });

  it('serves a TLS handshake that a client skipping verification completes', async () => {
    const {certPem, keyPem} = makeSelfSignedCertificate(['127.0.0.1'], 1);
    const server = tls.createServer({cert: certPem, key: keyPem}, socket => socket.end('hello'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const {port} = server.address() as {port: number};
    const client = tls.connect({host: '127.0.0.1', port, rejectUnauthorized: false});
    let text = '';
    client.on('data', (chunk: Buffer) => (text += chunk.toString()));
    await once(client, 'end');
    expect(text).toBe('hello');
    expect(client.getPeerX509Certificate()?.fingerprint256).toBe(
      new X509Certificate(certPem).fingerprint256,
    );
    server.close();
  });
});
