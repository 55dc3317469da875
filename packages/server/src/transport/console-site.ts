import {createHash} from 'node:crypto';
import {readFile, realpath, stat} from 'node:fs/promises';
import {createRequire} from 'node:module';
import {dirname, extname, join, sep} from 'node:path';

/** One answer of the console's static files, whatever HTTP version carries it. */
export interface ConsoleAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | string;
}

/** Where the console is served on the client port. */
const consolePath = '/ui';

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The console talks to nothing but this origin (the JSON gateway and /metrics) and the
 * cluster's other members' client URLs (each member's own status, as `etcdctl endpoint status
 * --cluster` asks them), is never framed, and runs no script it did not ship: a key or value
 * that holds markup stays text.
 */
function pageSecurityHeaders(memberOrigins: readonly string[]): Record<string, string> {
  const connect = ["'self'", ...memberOrigins].join(' ');
  return {
    'content-security-policy':
      `default-src 'self'; connect-src ${connect}; img-src 'self' data:; ` +
      "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; " +
      "form-action 'none'; object-src 'none'",
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
}

/** The `scheme://host:port` of each URL that parses, for a CSP source list. */
function originsOf(urls: readonly string[]): string[] {
  const origins = new Set<string>();
  for (const url of urls) {
    try {
      const {protocol, origin} = new URL(url);
      if (protocol === 'http:' || protocol === 'https:') origins.add(origin);
    } catch {
      // A member published a URL that is not one; the console cannot reach it anyway.
    }
  }
  return [...origins];
}

const text = (status: number, body: string, headers: Record<string, string> = {}) => ({
  status,
  headers: {
    'content-type': 'text/plain; charset=utf-8',
    'x-content-type-options': 'nosniff',
    ...headers,
  },
  body,
});

/** The built console's folder in the `@synod/console` package, if that package is installed. */
function bundledConsoleDir(): string | undefined {
  try {
    const manifest = createRequire(import.meta.url).resolve('@synod/console/package.json');
    return join(dirname(manifest), 'dist');
  } catch {
    return undefined;
  }
}

/**
 * Serves the web console's static files under `/ui/`: the single-page app that Vite built
 * into `@synod/console`'s `dist/`. Files under `assets/` have content hashes in their names
 * and are cached for a year; everything else is revalidated by ETag. A path that names no
 * file and has no extension is a route of the app, answered with `index.html`. Nothing
 * outside the bundle's folder is ever read: `..`, encoded separators and symlinks that lead
 * out are refused.
 */
export class ConsoleSite {
  /**
   * @param dir the bundle's folder; the console answers 503 while it holds no `index.html`.
   * @param memberClientUrls the cluster's client URLs now, which the page may call.
   */
  constructor(
    readonly dir: string | undefined = bundledConsoleDir(),
    private readonly memberClientUrls: () => readonly string[] = () => [],
  ) {}

  /** Whether `path` (without its query) is the console's. */
  handles(path: string): boolean {
    return path === consolePath || path.startsWith(`${consolePath}/`);
  }

  /** Answers a request for one of the console's paths (`ifNoneMatch`: that request header). */
  async answer(method: string, path: string, ifNoneMatch?: string): Promise<ConsoleAnswer> {
    if (method !== 'GET' && method !== 'HEAD') {
      return text(405, 'Method Not Allowed\n', {allow: 'GET, HEAD'});
    }
    // Relative asset URLs in index.html resolve against the folder.
    if (path === consolePath) return text(301, '', {location: `${consolePath}/`});
    const root = await this.root();
    if (root === undefined) {
      return text(
        503,
        'The web console is not built. Run `npm run build` in the Synod checkout (it bundles ' +
          'apps/console), then reload this page.\n',
        {'cache-control': 'no-store'},
      );
    }
    const relative = decodedRelativePath(path.slice(consolePath.length + 1));
    if (relative === undefined) return text(400, 'Bad Request\n');
    const found =
      (await fileWithin(root, relative)) ??
      // A client-side route (no extension): the app itself decides what to show.
      (extname(relative) === '' ? await fileWithin(root, 'index.html') : undefined);
    if (found === undefined) return text(404, '404 page not found\n');
    const etag = `"${createHash('sha1').update(found.body).digest('base64url')}"`;
    const isPage = found.file.endsWith('.html');
    const headers = {
      'content-type': contentTypes[extname(found.file)] ?? 'application/octet-stream',
      'cache-control': relative.startsWith('assets/')
        ? 'public, max-age=31536000, immutable'
        : 'no-cache',
      etag,
      ...(isPage
        ? pageSecurityHeaders(originsOf(this.memberClientUrls()))
        : {'x-content-type-options': 'nosniff'}),
    };
    if (ifNoneMatch === etag) return {status: 304, headers, body: ''};
    return {
      status: 200,
      headers: {...headers, 'content-length': String(found.body.length)},
      body: found.body,
    };
  }

  /** The bundle's real folder, or undefined while it is not built. */
  private async root(): Promise<string | undefined> {
    if (this.dir === undefined) return undefined;
    try {
      const dir = await realpath(this.dir);
      return (await stat(join(dir, 'index.html'))).isFile() ? dir : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * The file part of a console URL, percent-decoded, as a path relative to the bundle; `index.html`
 * for the folder itself; undefined when it is malformed or tries to climb out.
 */
function decodedRelativePath(encoded: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/');
  if (segments.some(s => s === '..' || s === '.')) return undefined;
  const relative = segments.filter(s => s !== '').join('/');
  return relative === '' ? 'index.html' : relative;
}

/** The regular file at `relative` under `root`, read, if it is there and really inside `root`. */
async function fileWithin(
  root: string,
  relative: string,
): Promise<{file: string; body: Buffer} | undefined> {
  try {
    const file = await realpath(join(root, relative));
    if (!file.startsWith(root + sep)) return undefined;
    if (!(await stat(file)).isFile()) return undefined;
    return {file, body: await readFile(file)};
  } catch {
    return undefined;
  }
}
