/**
 * ZooKeeper's path rules (`PathUtils.validatePath`): absolute, no trailing `/`
 * (but the root), no empty, `.` or `..` component, none of the characters
 * ZooKeeper forbids. Checked on UTF-16 code units as Java does, so a character
 * outside the BMP (a surrogate pair) is refused as ZooKeeper refuses it.
 * Returns the reason, or undefined for a valid path. A sequential create's path
 * is checked with a digit appended, so `/queue/` is a valid prefix.
 */
export function zkPathError(path: string, sequential = false): string | undefined {
  const p = sequential ? `${path}1` : path;
  if (p.length === 0) return 'Path length must be > 0';
  if (p.charCodeAt(0) !== 0x2f) return 'Path must start with / character';
  if (p.length === 1) return undefined;
  if (p.charCodeAt(p.length - 1) === 0x2f) return 'Path must not end with / character';
  let last = 0x2f;
  for (let i = 1; i < p.length; i++) {
    const c = p.charCodeAt(i);
    const next = i + 1 < p.length ? p.charCodeAt(i + 1) : 0x2f;
    if (c === 0) return `null character not allowed @${i}`;
    if (c === 0x2f && last === 0x2f) return `empty node name specified @${i}`;
    if (c === 0x2e && last === 0x2e && p.charCodeAt(i - 2) === 0x2f && next === 0x2f) {
      return `relative paths not allowed @${i}`;
    }
    if (c === 0x2e && last === 0x2f && next === 0x2f) return `relative paths not allowed @${i}`;
    if (
      (c > 0 && c <= 0x1f) ||
      (c >= 0x7f && c <= 0x9f) ||
      (c >= 0xd800 && c <= 0xf8ff) ||
      (c >= 0xfff0 && c <= 0xffff)
    ) {
      return `invalid character @${i}`;
    }
    last = c;
  }
  return undefined;
}

/** The parent of a valid path other than the root. */
export function zkParent(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The last component of a valid path other than the root. */
export function zkBaseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
