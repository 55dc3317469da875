/**
 * A bbolt file that cannot be read as one: the message is one line naming the file, where
 * in it the problem is (byte offset and, when there is one, the page) and what is wrong.
 *
 * Example: `backup.db: offset 8192 (page 2): child page 77 is out of range (the file has
 * pages 0 to 5)`.
 */
export class BboltFormatError extends Error {
  constructor(
    readonly file: string,
    /** Byte offset of the bad field or page; undefined for a fault of the whole file. */
    readonly offset: number | undefined,
    /** The page the offset is in, when it is in a page. */
    readonly pgid: number | undefined,
    readonly problem: string,
  ) {
    const where =
      offset === undefined
        ? ''
        : pgid === undefined
          ? `offset ${offset}: `
          : `offset ${offset} (page ${pgid}): `;
    super(`${file}: ${where}${problem}`);
    this.name = 'BboltFormatError';
  }
}
