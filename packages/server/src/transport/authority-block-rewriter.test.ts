import {describe, expect, it} from 'vitest';

import {AuthorityBlockRewriter} from './authority-block-rewriter.js';

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

describe('rewriting :authority in a connection’s header blocks', () => {
  it('passes the requests of RFC 7541 C.3 unchanged, as the same buffers', () => {
    const rewriter = new AuthorityBlockRewriter();
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
    const rewriter = new AuthorityBlockRewriter();
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
    expect(new AuthorityBlockRewriter().rewrite(block(`${getRoot} 41 ${huffman}`))).toEqual(
      block(`${getRoot} 41 17 "https:__www.example.com"`),
    );
  });

  it('keeps a literal without indexing or never indexed as it was', () => {
    const rewriter = new AuthorityBlockRewriter();
    expect(rewriter.rewrite(block(`01 03 "a/b" ${getRoot}`))).toEqual(
      block(`01 03 "a_b" ${getRoot}`),
    );
    expect(rewriter.rewrite(block(`11 03 "a b"`))).toEqual(block(`11 03 "a_b"`));
  });

  it('finds :authority by a literal name, and later by the dynamic entry naming it', () => {
    const rewriter = new AuthorityBlockRewriter();
    expect(rewriter.rewrite(block(`40 0a ":authority" 03 "a/b"`))).toEqual(
      block(`40 0a ":authority" 03 "a_b"`),
    );
    // Name index 62, the entry just inserted, with a value of its own; then without
    // indexing, whose 4-bit prefix spells 62 as 0f 2f.
    expect(rewriter.rewrite(block(`7e 03 "c?d" 0f 2f 03 "e#f"`))).toEqual(
      block(`7e 03 "c_d" 0f 2f 03 "e_f"`),
    );
  });

  it('leaves other headers alone, even with octets :authority may not hold', () => {
    const original = block(`${getRoot} 41 09 "localhost" 40 01 "x" 03 "a/b" 04 03 "/a?"`);
    expect(new AuthorityBlockRewriter().rewrite(original)).toBe(original);
  });

  it('gives the empty :authority of static entry 1 a value', () => {
    expect(new AuthorityBlockRewriter().rewrite(block(`${getRoot} 81`))).toEqual(
      block(`${getRoot} 01 01 "_"`),
    );
  });

  it('sends in full what the client indexes after the server evicted it early', () => {
    const rewriter = new AuthorityBlockRewriter();
    // A 100-byte table, then an empty :authority inserted: 42 bytes for the client, and
    // 43 for the server, which is given `_`.
    expect(rewriter.rewrite(block(`3f 45 ${getRoot} 41 00`))).toEqual(
      block(`3f 45 ${getRoot} 41 01 "_"`),
    );
    // 58 bytes more: 100 for the client, which keeps both; 101 for the server, which does not.
    const filler = block(`40 01 "a" 19 "${'x'.repeat(25)}"`);
    expect(rewriter.rewrite(filler)).toBe(filler);
    // Index 63 is the :authority entry for the client: the server gets it spelled out.
    expect(rewriter.rewrite(block(`${getRoot} bf`))).toEqual(
      block(`${getRoot} 00 0a ":authority" 01 "_"`),
    );
    // Its name, too, when a literal names it by index.
    expect(rewriter.rewrite(block(`7f 00 03 "x/y"`))).toEqual(block(`40 0a ":authority" 03 "x_y"`));
    // Index 62, the filler, is still held by both.
    const byIndex = block('be');
    expect(rewriter.rewrite(byIndex)).toBe(byIndex);
  });

  it('passes a block that does not decode unchanged, and every block after it', () => {
    const rewriter = new AuthorityBlockRewriter();
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
    expect(new AuthorityBlockRewriter().rewrite(original)).toBe(original);
  });
});
