import {Status} from 'nice-grpc-common';
import {describe, expect, it} from 'vitest';

import {GrpcMessageReader} from './grpc-message-reader.js';
import {encodeGrpcMessage} from './grpc-stream.js';

const hex = (text: string) => Buffer.from(text.replace(/ /g, ''), 'hex');

describe('GrpcMessageReader', () => {
  it('splits messages across and within chunks', () => {
    const reader = new GrpcMessageReader(100);
    reader.push(hex('00 00 00 00 03 0a 01'));
    expect(reader.next()).toEqual({kind: 'more'});
    reader.push(hex('61 00 00 00 00 00 00 00'));
    expect(reader.next()).toMatchObject({kind: 'message', bytes: hex('0a 01 61')});
    expect(reader.next()).toMatchObject({kind: 'message', bytes: hex('')});
    expect(reader.next()).toEqual({kind: 'more'});
    expect(reader.hasPartial).toBe(true);
  });

  it('checks the length before the flag, and the flag once the message is whole', () => {
    const reader = new GrpcMessageReader(100);
    reader.push(hex('f5 ff ff ff ff'));
    expect(reader.next()).toMatchObject({kind: 'error', error: {code: Status.RESOURCE_EXHAUSTED}});
    const cut = new GrpcMessageReader(100);
    cut.push(hex('02 00 00 00 02 0a'));
    expect(cut.next()).toEqual({kind: 'more'});
  });

  it.each([
    [
      '01 00 00 00 00',
      Status.INTERNAL,
      'grpc: compressed flag set with identity or empty encoding',
    ],
    ['02 00 00 00 00', Status.INTERNAL, 'grpc: received unexpected payload format 2'],
    [
      '00 00 00 00 65',
      Status.RESOURCE_EXHAUSTED,
      'grpc: received message larger than max (101 vs. 100)',
    ],
  ])('refuses %s as grpc-go does', (frame, code, details) => {
    const reader = new GrpcMessageReader(100);
    reader.push(hex(frame));
    const read = reader.next();
    expect(read.kind).toBe('error');
    if (read.kind !== 'error') return;
    expect({code: read.error.code, details: read.error.details}).toEqual({code, details});
  });
});

describe('grpc-message encoding', () => {
  it('percent-encodes what is not printable ASCII, and %', () => {
    expect(encodeGrpcMessage('etcdserver: key not found')).toBe('etcdserver: key not found');
    expect(encodeGrpcMessage('naïve 100%\n')).toBe('na%C3%AFve 100%25%0A');
  });
});
