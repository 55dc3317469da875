import {mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';

import {afterAll, describe, expect, it} from 'vitest';

import {ConsoleSite} from './console-site.js';

describe('ConsoleSite', () => {
  const top = mkdtempSync(join(tmpdir(), 'console-site-'));
  const dist = join(top, 'dist');
  mkdirSync(join(dist, 'assets'), {recursive: true});
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>Synod</title>');
  writeFileSync(join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
  writeFileSync(join(dist, 'assets', 'index-abc123.css'), 'body{}');
  writeFileSync(join(top, 'secret.txt'), 'not for the browser');
  symlinkSync(join(top, 'secret.txt'), join(dist, 'leak.txt'));
  const site = new ConsoleSite(dist);
  afterAll(() => {
    rmSync(top, {recursive: true, force: true});
  });

  it('serves index.html for the folder, with the page security headers and no long cache', async () => {
    const answer = await site.answer('GET', '/ui/');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.headers['cache-control']).toBe('no-cache');
    expect(answer.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(String(answer.body)).toContain('<title>Synod</title>');
  });

  it("lets the page connect to its own origin and the cluster's client URLs, nothing else", async () => {
    const urls = ['http://127.0.0.1:2379', 'https://10.0.0.2:2379/', 'unix:///run/etcd.sock', '::'];
    const answer = await new ConsoleSite(dist, () => urls).answer('GET', '/ui/');
    const csp = answer.headers['content-security-policy'] ?? '';
    expect(csp).toContain("connect-src 'self' http://127.0.0.1:2379 https://10.0.0.2:2379;");
    expect((await site.answer('GET', '/ui/')).headers['content-security-policy']).toContain(
      "connect-src 'self';",
    );
  });

  it('redirects /ui to /ui/ so the page resolves its assets', async () => {
    const answer = await site.answer('GET', '/ui');
    expect(answer.status).toBe(301);
    expect(answer.headers.location).toBe('/ui/');
  });

  it('serves hashed assets with their content type, cached for a year', async () => {
    const js = await site.answer('GET', '/ui/assets/index-abc123.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const css = await site.answer('GET', '/ui/assets/index-abc123.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('answers 304 when the browser already has the file', async () => {
    const first = await site.answer('GET', '/ui/assets/index-abc123.js');
    const etag = first.headers.etag;
    const again = await site.answer('GET', '/ui/assets/index-abc123.js', etag);
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
  });

  it('answers client routes with index.html, and missing files with 404', async () => {
    const route = await site.answer('GET', '/ui/keys/app/config');
    expect(route.status).toBe(200);
    expect(String(route.body)).toContain('<title>Synod</title>');
    const missing = await site.answer('GET', '/ui/assets/gone-123.js');
    expect(missing.status).toBe(404);
  });

  it.each([
    '/ui/../secret.txt',
    '/ui/%2e%2e/secret.txt',
    '/ui/assets/%2e%2e%2f..%2fsecret.txt',
    '/ui/..%5csecret.txt',
    '/ui/%00index.html',
    '/ui/%zz',
  ])('refuses %s, which tries to leave the bundle or is malformed', async path => {
    const answer = await site.answer('GET', path);
    expect(answer.status).toBe(400);
    expect(String(answer.body)).not.toContain('not for the browser');
  });

  it('does not follow a symlink out of the bundle', async () => {
    const answer = await site.answer('GET', '/ui/leak.txt');
    expect(answer.status).toBe(404);
    expect(String(answer.body)).not.toContain('not for the browser');
  });

  it('accepts only GET and HEAD', async () => {
    const answer = await site.answer('POST', '/ui/');
    expect(answer.status).toBe(405);
    expect(answer.headers.allow).toBe('GET, HEAD');
  });

  it('says to run the build when the bundle is absent', async () => {
    const unbuilt = new ConsoleSite(join(top, 'no-such-dist'));
    const answer = await unbuilt.answer('GET', '/ui/');
    expect(answer.status).toBe(503);
    expect(String(answer.body)).toContain('npm run build');
  });
});
