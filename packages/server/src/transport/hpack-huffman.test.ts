import http2 from 'node:http2';
import net from 'node:net';

import {describe, expect, it} from 'vitest';

import {HpackCursor, HpackError} from './hpack-cursor.js';
import {decodeHpackHuffman} from './hpack-huffman.js';
import {FrameType, frameHeaderBytes, readFrameHeader} from './http2-frame-header.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('HPACK Huffman decoding', () => {
  // The Huffman-coded strings of RFC 7541 Appendix C.4 and C.6.
  it.each([
    ['f1e3 c2e5 f23a 6ba0 ab90 f4ff', 'www.example.com'],
    ['a8eb 1064 9cbf', 'no-cache'],
    ['25a8 49e9 5ba9 7d7f', 'custom-key'],
    ['25a8 49e9 5bb8 e8b4 bf', 'custom-value'],
    ['6402', '302'],
    ['aec3 771a 4b', 'private'],
    ['d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff', 'Mon, 21 Oct 2013 20:13:21 GMT'],
    ['9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3', 'https://www.example.com'],
    ['640e ff', '307'],
    ['9bd9 ab', 'gzip'],
  ])('decodes %s to %j', (encoded, text) => {
    expect(decodeHpackHuffman(hex(encoded)).toString('latin1')).toBe(text);
  });

  it('decodes the empty string', () => {
    expect(decodeHpackHuffman(Buffer.alloc(0))).toEqual(Buffer.alloc(0));
  });

  it.each([
    ['EOS inside the string', 'ffff ffff'],
    ['padding of 8 bits or more', 'f1e3 c2e5 f23a 6ba0 ab90 f4ff ff'],
    ['padding that is not all ones', '00'],
    ['a code cut off after 7 bits', 'fe'],
  ])('refuses %s', (_case, encoded) => {
    expect(() => decodeHpackHuffman(hex(encoded))).toThrow(HpackError);
  });

  it('reads every octet as Node’s own HTTP/2 client encodes it', async () => {
    // Each value is one octet followed by sixteen '0's (5-bit codes), so that the encoder
    // always chooses Huffman coding; NUL is the one octet Node refuses in a header value.
    const values = new Map<string, Buffer>();
    for (let octet = 1; octet < 256; octet++) {
      values.set(`$${octet}$`, Buffer.concat([Buffer.from([octet]), Buffer.alloc(16, '0')]));
    }
    const decoded = await headersAsNodeEncodesThem(values);
    for (const [name, value] of values) expect(decoded.get(name), name).toEqual(value);
  });
});

/**
 * Sends `headers` (one request each) with Node's HTTP/2 client to a bare TCP server and
 * decodes the literal fields with a literal name from the header blocks it received.
 */
async function headersAsNodeEncodesThem(
  headers: ReadonlyMap<string, Buffer>,
): Promise<Map<string, Buffer>> {
  const connections: Buffer[][] = [];
  const server = net.createServer(socket => {
    // An empty SETTINGS frame: the server's preface, so that the client sends requests.
    socket.write(Buffer.from([0, 0, 0, FrameType.settings, 0, 0, 0, 0, 0]));
    const received: Buffer[] = [];
    connections.push(received);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const {port} = server.address() as net.AddressInfo;
  const requests = [...headers].map(([name, value]) => ({name, value: value.toString('latin1')}));
  try {
    // A few requests per connection: the client holds back the rest until the server,
    // which never answers, would have let them through.
    for (let i = 0; i < requests.length; i += 8) {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on('error', () => undefined);
      for (const {name, value} of requests.slice(i, i + 8)) {
        session
          .request({':path': '/', [name]: value}, {endStream: true})
          .on('error', () => undefined);
      }
      await new Promise(resolve => setTimeout(resolve, 20));
      session.destroy();
    }
    await new Promise(resolve => setTimeout(resolve, 50));
  } finally {
    server.close();
  }
  const fields = new Map<string, Buffer>();
  for (const received of connections) {
    for (const [name, value] of literalFieldsIn(Buffer.concat(received))) fields.set(name, value);
  }
  return fields;
}

/**
 * The literal fields with a literal (raw) name in every HEADERS frame a client sent on one
 * connection, after its 24-octet preface.
 */
function literalFieldsIn(stream: Buffer): Map<string, Buffer> {
  const fields = new Map<string, Buffer>();
  let at = 24;
  while (at + frameHeaderBytes <= stream.length) {
    const header = readFrameHeader(stream, at);
    const payload = stream.subarray(at + frameHeaderBytes, at + frameHeaderBytes + header.length);
    at += frameHeaderBytes + header.length;
    if (header.type !== FrameType.headers) continue;
    const cursor = new HpackCursor(payload);
    while (!cursor.atEnd) {
      const first = cursor.peek();
      if ((first & 0x80) !== 0) {
        cursor.readInteger(7);
        continue;
      }
      if ((first & 0xe0) === 0x20) {
        cursor.readInteger(5);
        continue;
      }
      const nameIndex = cursor.readInteger((first & 0x40) !== 0 ? 6 : 4);
      const name = nameIndex === 0 ? cursor.readString() : undefined;
      const value = cursor.readString();
      if (name === undefined || name.huffman) continue;
      fields.set(
        name.octets.toString('latin1'),
        value.huffman ? decodeHpackHuffman(value.octets) : value.octets,
      );
    }
  }
  return fields;
}
