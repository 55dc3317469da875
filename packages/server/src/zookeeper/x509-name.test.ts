import {X509Certificate} from 'node:crypto';

import {describe, expect, it} from 'vitest';

import {isValidX500Name, x509SubjectName} from './x509-name.js';

/**
 * Certificates made by `openssl req -x509` with awkward subjects; each expected name is what
 * Java 17's `X509Certificate.getSubjectX500Principal().getName()` printed for the same file,
 * which is the id ZooKeeper's x509 provider gives the certificate.
 */
const awkward = [
  '-----BEGIN CERTIFICATE-----',
  'MIIC8zCCApmgAwIBAgIUPvmbxtsUX8bPi8O6hjAhyASDYiAwCgYIKoZIzj0EAwIw',
  'gc0xEzARBgoJkiaJk/IsZAEZFgNvcmcxFzAVBgoJkiaJk/IsZAEZFgdleGFtcGxl',
  'MQswCQYDVQQGEwJERTEQMA4GA1UECAwHQmF5IGVybjEeMBwGA1UECgwVQWNtZSwg',
  'SW5jLj0jeDs8eT4icSJcMR0wCgYDVQQLDANvcHMwDwYKCZImiZPyLGQBAQwBNzEQ',
  'MA4GA1UEAwwHIGFsaWNlIDEgMB4GCSqGSIb3DQEJARYRYWxpY2VAZXhhbXBsZS5v',
  'cmcxCzAJBgNVBAUTAjQyMCAXDTI2MTIwNjEyMjMzM1oYDzIxMjYxMTEyMTIyMzMz',
  'WjCBzTETMBEGCgmSJomT8ixkARkWA29yZzEXMBUGCgmSJomT8ixkARkWB2V4YW1w',
  'bGUxCzAJBgNVBAYTAkRFMRAwDgYDVQQIDAdCYXkgZXJuMR4wHAYDVQQKDBVBY21l',
  'LCBJbmMuPSN4Ozx5PiJxIlwxHTAKBgNVBAsMA29wczAPBgoJkiaJk/IsZAEBDAE3',
  'MRAwDgYDVQQDDAcgYWxpY2UgMSAwHgYJKoZIhvcNAQkBFhFhbGljZUBleGFtcGxl',
  'Lm9yZzELMAkGA1UEBRMCNDIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARyQI6j',
  'jXzRmG3xcCzuOGgJpIEv2SbRjWKs5d+bIHg+eAQH41pEjEek6K8FFWLYg1rt6GAp',
  'w2kWRjjqtm7ZSHlCo1MwUTAdBgNVHQ4EFgQU5nNImoL/3XFIpp3adsUlmhz5Ab0w',
  'HwYDVR0jBBgwFoAU5nNImoL/3XFIpp3adsUlmhz5Ab0wDwYDVR0TAQH/BAUwAwEB',
  '/zAKBggqhkjOPQQDAgNIADBFAiAU2xHjOnbYpejA9rWTAIp5shcc2gGVJJuDUgDh',
  'iY+ZsAIhALoJJywn+Mp99fTr4ty60slX/Fe0AV3phJoDhN/aDD03',
  '-----END CERTIFICATE-----',
].join('\n');
const nonAscii = [
  '-----BEGIN CERTIFICATE-----',
  'MIIBxjCCAWugAwIBAgIUK6YGsjiZ2SZlL/Lb313ff17Le0swCgYIKoZIzj0EAwIw',
  'NzEWMBQGA1UEAwwNSsO8cmdlbiDDnG5hbDENMAsGA1UEDAwEYm9zczEOMAwGA1UE',
  'BwwFI2hhc2gwIBcNMjYxMjA2MTIyMzMzWhgPMjEyNjExMTIxMjIzMzNaMDcxFjAU',
  'BgNVBAMMDUrDvHJnZW4gw5xuYWwxDTALBgNVBAwMBGJvc3MxDjAMBgNVBAcMBSNo',
  'YXNoMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfwwpyzyjOxHKdSPaAuNR5DpR',
  '+ahfTruU8tLuDVddso4IKG0ahzIqsX6z8Hx1P4/Z614HA7VNZlV9cg03HYJfYaNT',
  'MFEwHQYDVR0OBBYEFFUiUtLU6isFBK7MPGvAdoojVVwFMB8GA1UdIwQYMBaAFFUi',
  'UtLU6isFBK7MPGvAdoojVVwFMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwID',
  'SQAwRgIhANRLI7dLmx8PgLBLpxFgyF6kEDEC1VazUgbRSKgeT20oAiEAj1tNTgPH',
  'ISWvNHjmGnAqC6PpBssKtn2IWSW7wNWkKmA=',
  '-----END CERTIFICATE-----',
].join('\n');

describe('x509SubjectName', () => {
  it('writes RDNs last first, escapes as Java does, and hex-encodes attributes without a keyword', () => {
    expect(x509SubjectName(new X509Certificate(awkward).raw)).toBe(
      '2.5.4.5=#13023432,1.2.840.113549.1.9.1=#1611616c696365406578616d706c652e6f7267,' +
        'CN=\\ alice\\ ,OU=ops+UID=7,O=Acme\\, Inc.\\=\\#x\\;\\<y\\>\\"q\\"\\\\,' +
        'ST=Bay ern,C=DE,DC=example,DC=org',
    );
  });

  it('keeps UTF-8 text as it is and escapes a leading #', () => {
    expect(x509SubjectName(new X509Certificate(nonAscii).raw)).toBe(
      'L=\\#hash,2.5.4.12=#0c04626f7373,CN=Jürgen Ünal',
    );
  });

  it('refuses what is not a certificate', () => {
    expect(() => x509SubjectName(Buffer.from([0x30, 0x05, 0x30]))).toThrow();
  });
});

describe('isValidX500Name', () => {
  // Each answer is what Java 17's `new X500Principal(name)` gave: accepted, or refused.
  it.each([
    ['', true],
    ['CN=alice', true],
    ['CN=alice,OU=ops+UID=7,O=Acme\\, Inc.,C=DE', true],
    ['cn=alice; o=acme', true],
    ['OID.2.5.4.3=alice', true],
    ['2.5.4.3=#0c05616c696365', true],
    ['CN="a, b"', true],
    ['EMAILADDRESS=a@b', true],
    ['not a name', false],
    ['CN', false],
    ['NOPE=x', false],
    ['CN=a\\', false],
    ['CN=a,', false],
    ['2.5.4.3=#abc', false],
    ['CN="open', false],
    ['CN=a=b', true],
    ['CN=\\41', true],
    ['CN=\\4', false],
    ['CN=a<b', false],
    ['CN=a+', false],
    ['CN=a,,O=b', false],
    ['cn=x\\q', false],
    ['1=x', false],
  ])('%j: %s', (name, valid) => {
    expect(isValidX500Name(name)).toBe(valid);
  });
});
