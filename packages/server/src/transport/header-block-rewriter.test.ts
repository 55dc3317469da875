import {describe, expect, it} from 'vitest';

import {HeaderBlockRewriter} from './header-block-rewriter.js';

/** A block from hex, with `"text"` runs spelled out as their octets. */
function block(spec: string): Buffer {
  const parts = spec.split('"');
  return Buffer.concat(
    parts.map((part, i) =>
      i % 2 === 1 ? Buffer.from(part, 'latin1') : Buffer.from(part.replace(/\s+/g, ''), 'hex'),
    ),
  );
}

/** `:method: GET`, `:scheme: http`, `:path: /` from the static table. */
const getRoot = '82 86 84';
/** `:method: POST` and `:scheme: http` from the static table, and `:authority: a` not indexed. */
const post = '83 86 01 01 "a"';
/** `:method: POST` and `:authority: a` not indexed: a request with no `:scheme`. */
const postWithoutScheme = '83 01 01 "a"';

describe('rewriting :authority in a connection’s header blocks', () => {
  it('passes the requests of RFC 7541 C.3 unchanged, as the same buffers', () => {
    const rewriter = new HeaderBlockRewriter();
    for (const request of [
      `${getRoot} 41 0f "www.example.com"`,
      `${getRoot} be 58 08 "no-cache"`,
      '82 87 85 bf 40 0a "custom-key" 0c "custom-value"',
    ]) {
      const original = block(request);
      expect(rewriter.rewrite(original)).toBe(original);
    }
  });

  it('replaces each refused octet of a URL with _, keeping the length and the indexing', () => {
    const rewriter = new HeaderBlockRewriter();
    expect(rewriter.rewrite(block(`${getRoot} 41 15 "http://127.0.0.1:2379"`))).toEqual(
      block(`${getRoot} 41 15 "http:__127.0.0.1:2379"`),
    );
    // The next request names the entry by index: the server holds the rewritten value there.
    const next = block(`${getRoot} be`);
    expect(rewriter.rewrite(next)).toBe(next);
  });

  it('decodes a Huffman-coded value and sends the replacement raw', () => {
    // `https://www.example.com`, Huffman-coded (RFC 7541 C.6.1).
    const huffman = '91 9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3';
    expect(new HeaderBlockRewriter().rewrite(block(`${getRoot} 41 ${huffman}`))).toEqual(
      block(`${getRoot} 41 17 "https:__www.example.com"`),
    );
  });

  it('keeps a literal without indexing or never indexed as it was', () => {
    const rewriter = new HeaderBlockRewriter();
    expect(rewriter.rewrite(block(`01 03 "a/b" ${getRoot}`))).toEqual(
      block(`01 03 "a_b" ${getRoot}`),
    );
    expect(rewriter.rewrite(block(`${getRoot} 11 03 "a b"`))).toEqual(
      block(`${getRoot} 11 03 "a_b"`),
    );
  });

  it('finds :authority by a literal name, and later by the dynamic entry naming it', () => {
    const rewriter = new HeaderBlockRewriter();
    expect(rewriter.rewrite(block(`${getRoot} 40 0a ":authority" 03 "a/b"`))).toEqual(
      block(`${getRoot} 40 0a ":authority" 03 "a_b"`),
    );
    // Name index 62, the entry just inserted, with a value of its own; then without
    // indexing, whose 4-bit prefix spells 62 as 0f 2f.
    expect(rewriter.rewrite(block(`${getRoot} 7e 03 "c?d" 0f 2f 03 "e#f"`))).toEqual(
      block(`${getRoot} 7e 03 "c_d" 0f 2f 03 "e_f"`),
    );
  });

  it('leaves other headers alone, even with octets :authority may not hold', () => {
    const original = block(`${getRoot} 41 09 "localhost" 40 01 "x" 03 "a/b" 04 03 "/a?"`);
    expect(new HeaderBlockRewriter().rewrite(original)).toBe(original);
  });

  it('gives the empty :authority of static entry 1 a value', () => {
    expect(new HeaderBlockRewriter().rewrite(block(`${getRoot} 81`))).toEqual(
      block(`${getRoot} 01 01 "_"`),
    );
  });

  it('sends in full what the client indexes after the server evicted it early', () => {
    const rewriter = new HeaderBlockRewriter();
    // A 100-byte table, then an empty :authority inserted: 42 bytes for the client, and
    // 43 for the server, which is given `_`.
    expect(rewriter.rewrite(block(`3f 45 ${getRoot} 41 00`))).toEqual(
      block(`3f 45 ${getRoot} 41 01 "_"`),
    );
    // 58 bytes more: 100 for the client, which keeps both; 101 for the server, which does not.
    const filler = block(`40 01 "a" 19 "${'x'.repeat(25)}"`);
    expect(rewriter.rewrite(filler, 'trailers')).toBe(filler);
    // Index 63 is the :authority entry for the client: the server gets it spelled out.
    expect(rewriter.rewrite(block(`${getRoot} bf`))).toEqual(
      block(`${getRoot} 00 0a ":authority" 01 "_"`),
    );
    // Its name, too, when a literal names it by index.
    expect(rewriter.rewrite(block(`${getRoot} 7f 00 03 "x/y"`))).toEqual(
      block(`${getRoot} 40 0a ":authority" 03 "x_y"`),
    );
    // Index 62, the filler, is still held by both.
    const byIndex = block('be');
    expect(rewriter.rewrite(byIndex, 'trailers')).toBe(byIndex);
  });

  it('passes a block that does not decode unchanged, and every block after it', () => {
    const rewriter = new HeaderBlockRewriter();
    const broken = block(`${getRoot} 41 15 "http://"`);
    expect(rewriter.rewrite(broken)).toBe(broken);
    const later = block(`${getRoot} 41 03 "a/b"`);
    expect(rewriter.rewrite(later)).toBe(later);
  });

  it.each([
    ['index 0', '80'],
    ['an index past the dynamic table', 'be'],
    ['a Huffman value with bad padding', '41 81 00'],
  ])('treats %s as a block that does not decode', (_case, spec) => {
    const original = block(spec);
    expect(new HeaderBlockRewriter().rewrite(original)).toBe(original);
  });
});

describe('adding the :authority a request lacks', () => {
  it('adds `_` not indexed, first, when neither :authority nor host is there', () => {
    expect(new HeaderBlockRewriter().rewrite(block(`${getRoot} 40 01 "x" 01 "y"`))).toEqual(
      block(`01 01 "_" ${getRoot} 40 01 "x" 01 "y"`),
    );
  });

  it('takes host for one, as nghttp2 does, found by any representation', () => {
    const rewriter = new HeaderBlockRewriter();
    // Static entry 38 is `host`: literal with incremental indexing, then dynamic index 62.
    for (const request of [`${getRoot} 66 01 "h"`, `${getRoot} be`]) {
      const original = block(request);
      expect(rewriter.rewrite(original)).toBe(original);
    }
  });

  it('adds nothing to trailers', () => {
    const trailers = block('40 01 "x" 01 "y"');
    expect(new HeaderBlockRewriter().rewrite(trailers, 'trailers')).toBe(trailers);
  });

  it('adds it over TLS too, where etcd serves such a request as well', () => {
    expect(new HeaderBlockRewriter({secure: true}).rewrite(block(getRoot))).toEqual(
      block(`01 01 "_" ${getRoot}`),
    );
  });
});

describe('giving a :path its leading slash on a plaintext connection', () => {
  // Added at the end of a request whose path got its slash, so that the server can quote a
  // malformed method name as it was sent: a literal without indexing, new name.
  const marked = '00 16 "synod-path-slash-added" 01 "1"';

  it('prepends it to a literal path, and the server holds that value at the index', () => {
    const rewriter = new HeaderBlockRewriter();
    // Literal with incremental indexing, name `:path` (static 4), as grpc-go sends it.
    expect(rewriter.rewrite(block(`${post} 44 15 "etcdserverpb.KV/Range"`))).toEqual(
      block(`${post} 44 16 "/etcdserverpb.KV/Range" ${marked}`),
    );
    // The path by index is the server's `/etcdserverpb.KV/Range`: the request is marked again.
    expect(rewriter.rewrite(block(`${post} be`))).toEqual(block(`${post} be ${marked}`));
  });

  it('decodes a Huffman-coded path, and gives an empty one a lone slash', () => {
    // `etcdserverpb.KV/Range`, Huffman-coded as nghttp2 does: 21 octets in 16.
    const huffman = '90 2a49 220b 6772 d95c 6be6 e2c6 d1d5 317f';
    const rewriter = new HeaderBlockRewriter();
    expect(rewriter.rewrite(block(`${post} 04 ${huffman}`))).toEqual(
      block(`${post} 04 16 "/etcdserverpb.KV/Range" ${marked}`),
    );
    expect(rewriter.rewrite(block(`${post} 04 00`))).toEqual(block(`${post} 04 01 "/" ${marked}`));
  });

  it('sends a path in full once the server evicted its longer copy early', () => {
    const rewriter = new HeaderBlockRewriter();
    // A 100-byte table; `:path: x` is 38 bytes for the client and 39 for the server.
    expect(rewriter.rewrite(block(`3f 45 ${post} 44 01 "x"`))).toEqual(
      block(`3f 45 ${post} 44 02 "/x" ${marked}`),
    );
    // 62 bytes more: 100 for the client, 101 for the server, which drops the path.
    const filler = block(`40 01 "a" 1d "${'x'.repeat(29)}"`);
    expect(rewriter.rewrite(filler, 'trailers')).toBe(filler);
    expect(rewriter.rewrite(block(`${post} bf`))).toEqual(
      block(`${post} 00 05 ":path" 02 "/x" ${marked}`),
    );
  });

  it('leaves a path that has its slash, and any path on TLS, where etcd resets it too', () => {
    const withSlash = block(`${post} 44 02 "/x"`);
    expect(new HeaderBlockRewriter().rewrite(withSlash)).toBe(withSlash);
    const secure = new HeaderBlockRewriter({secure: true});
    const withoutSlash = block(`${post} 44 01 "x"`);
    expect(secure.rewrite(withoutSlash)).toBe(withoutSlash);
  });
});

describe('giving a request the :scheme nghttp2 requires', () => {
  it('adds `http` from the static table, first, after the table size updates', () => {
    expect(
      new HeaderBlockRewriter().rewrite(block(`3f e1 1f ${postWithoutScheme} 04 02 "/x"`)),
    ).toEqual(block(`3f e1 1f 86 ${postWithoutScheme} 04 02 "/x"`));
  });

  it('adds both missing fields, and nothing to a block whose :scheme is a dynamic entry', () => {
    const rewriter = new HeaderBlockRewriter();
    expect(rewriter.rewrite(block(`83 46 04 "http" 04 02 "/x"`))).toEqual(
      block(`01 01 "_" 83 46 04 "http" 04 02 "/x"`),
    );
    const byIndex = block(`83 be 04 02 "/x" 01 01 "a"`);
    expect(rewriter.rewrite(byIndex)).toBe(byIndex);
  });

  it.each([
    ['empty', '00', '04 "http"'],
    ['starting with a digit', '02 "1a"', '04 "http"'],
    ['with an underscore', '03 "a_b"', '04 "http"'],
  ])('replaces a :scheme %s with http', (_case, value, replaced) => {
    const rewriter = new HeaderBlockRewriter();
    expect(rewriter.rewrite(block(`83 46 ${value} 04 02 "/x" 01 01 "a"`))).toEqual(
      block(`83 46 ${replaced} 04 02 "/x" 01 01 "a"`),
    );
    // The server's entry holds `http`, whatever length the client's has.
    const byIndex = block(`83 be 04 02 "/x" 01 01 "a"`);
    expect(rewriter.rewrite(byIndex)).toBe(byIndex);
  });

  it('keeps any scheme nghttp2 accepts on plaintext', () => {
    const original = block(`83 46 08 "a+b-c.D1" 04 02 "/x" 01 01 "a"`);
    expect(new HeaderBlockRewriter().rewrite(original)).toBe(original);
  });

  it('on TLS adds none, and empties one other than http and https so nghttp2 resets it too', () => {
    const rewriter = new HeaderBlockRewriter({secure: true});
    const without = block(`${postWithoutScheme} 04 02 "/x"`);
    expect(rewriter.rewrite(without)).toBe(without);
    for (const accepted of ['http', 'https']) {
      const original = block(
        `83 06 ${accepted.length.toString(16).padStart(2, '0')} "${accepted}" 04 02 "/x" 01 01 "a"`,
      );
      expect(rewriter.rewrite(original)).toBe(original);
    }
    expect(rewriter.rewrite(block(`83 46 03 "foo" 04 02 "/x" 01 01 "a"`))).toEqual(
      block(`83 46 00 04 02 "/x" 01 01 "a"`),
    );
    expect(rewriter.rewrite(block(`83 06 04 "HTTP" 04 02 "/x" 01 01 "a"`))).toEqual(
      block(`83 06 00 04 02 "/x" 01 01 "a"`),
    );
  });
});
