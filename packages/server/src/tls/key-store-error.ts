/**
 * Why a key or trust store could not be read: `password` when the password does not open it
 * (its integrity check or a key's check fails), `format` when the bytes are not a store of
 * the expected type or are damaged, `unsupported` for a valid store using an algorithm Synod
 * does not implement. The message names the place in the file where it went wrong.
 */
export class KeyStoreError extends Error {
  constructor(
    readonly reason: 'password' | 'format' | 'unsupported',
    message: string,
  ) {
    super(message);
  }
}
