/** The path of a request target (`/health?exclude=NOSPACE` gives `/health`), without its query. */
export function pathOf(target: string | undefined): string {
  return (target ?? '/').split('?')[0] ?? '/';
}

/** The query of a request target (`/health?exclude=NOSPACE`), empty when it has none. */
export function queryOf(target: string | undefined): URLSearchParams {
  const at = (target ?? '').indexOf('?');
  return new URLSearchParams(at < 0 ? '' : (target ?? '').slice(at + 1));
}
