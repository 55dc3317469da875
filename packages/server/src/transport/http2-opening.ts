import type net from 'node:net';

import {isEncrypted} from './authority-rewriter.js';
import {HeaderBlockFrames} from './header-block-frames.js';
import {HeaderBlockRewriter} from './header-block-rewriter.js';
import {FrameFlag, frameHeaderBytes, FrameType, readFrameHeader} from './http2-frame-header.js';

/** The first bytes of every HTTP/2 connection (RFC 9113 §3.4); gRPC always speaks HTTP/2. */
export const http2ClientPreface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** A SETTINGS frame with no settings: a server connection preface, every setting at its default. */
const emptySettingsFrame = Buffer.from([0, 0, 0, FrameType.settings, 0, 0, 0, 0, 0]);

/** Past this many octets, an opening is handed on with whatever it holds. */
const largestOpeningBytes = 256 * 1024;

/** How an HTTP/2 connection opened, up to its first request's headers. */
export interface Http2Opening {
  /**
   * What the client sent so far, less its acknowledgement of the SETTINGS frame sent before
   * the server took over: the server must read these bytes first.
   */
  readonly replay: Buffer;
  /**
   * Whether the first request carries headers Node's HTTP/2 server refuses where etcd serves
   * them (or the other way round), so that the connection must be read through an
   * `AuthorityRewriter`: an `:authority` that is a URL, empty or missing; on plaintext, a
   * `:path` without its leading slash or a `:scheme` missing or malformed.
   */
  readonly needsRewriting: boolean;
}

/** What the bytes of an opening read so far say. */
export type OpeningScan =
  | {readonly complete: false; readonly prefaceSeen: boolean}
  | ({readonly complete: true} & Http2Opening);

/**
 * Reads an HTTP/2 connection's first bytes until its first request's header block is in,
 * to tell whether the connection needs an `AuthorityRewriter` (by the rules for TLS when
 * `socket` is a TLS one), then stops reading and calls `decide` (the socket paused).
 *
 * Some clients (grpc-go, so etcdctl) send no request before the server's connection
 * preface, and Node's HTTP/2 server sends its preface only once it owns the connection. So
 * as soon as the client's preface is in, this sends one itself, a SETTINGS frame with no
 * settings, and takes the client's acknowledgement of it out of {@link Http2Opening.replay}
 * (the server would refuse an acknowledgement of settings it never sent); the server's
 * own SETTINGS frame follows later, as a second one.
 *
 * There is no timer: the opening is complete, and the connection handed on, once the
 * acknowledgement is in and the first header block or a frame that wants the server (a
 * PING, say) has come; at once for bytes that are no HTTP/2 preface; or past 256 KiB. A
 * client that sends nothing waits, as it would for a request's answer. An error or end of
 * the connection before then destroys it.
 */
export function readHttp2Opening(
  socket: net.Socket,
  seen: Buffer,
  decide: (opening: Http2Opening) => void,
): void {
  let bytes = seen;
  let settingsSent = false;
  /** Looks at what came so far; true once the opening is decided. */
  const check = (): boolean => {
    const scan = scanHttp2Opening(bytes, {secure: isEncrypted(socket)});
    if (scan.complete) {
      socket.off('data', onData);
      socket.off('error', onGone);
      socket.off('end', onGone);
      socket.pause();
      decide(scan);
      return true;
    }
    if (scan.prefaceSeen && !settingsSent) {
      settingsSent = true;
      socket.write(emptySettingsFrame);
    }
    return false;
  };
  const onData = (chunk: Buffer) => {
    bytes = Buffer.concat([bytes, chunk]);
    check();
  };
  const onGone = () => {
    socket.destroy();
  };
  socket.on('data', onData);
  socket.on('error', onGone);
  socket.on('end', onGone);
  if (!check()) socket.resume();
}

/**
 * The pure part of {@link readHttp2Opening}: what the bytes read so far (from the client
 * preface on) say; `secure` for a TLS connection.
 *
 * Example: preface, SETTINGS, then SETTINGS(ACK) and a HEADERS(END_HEADERS) frame whose
 * `:authority` is `http://127.0.0.1:2379` gives `complete: true`, `needsRewriting: true`
 * and the bytes without the SETTINGS(ACK) frame.
 */
export function scanHttp2Opening(
  bytes: Buffer,
  {secure = false}: {readonly secure?: boolean} = {},
): OpeningScan {
  const compared = Math.min(bytes.length, http2ClientPreface.length);
  if (!bytes.subarray(0, compared).equals(http2ClientPreface.subarray(0, compared))) {
    return {complete: true, replay: bytes, needsRewriting: false};
  }
  if (compared < http2ClientPreface.length) return {complete: false, prefaceSeen: false};

  let acknowledgement: {start: number; end: number} | undefined;
  let block: HeaderBlockFrames | undefined;
  let firstBlock: Buffer | undefined;
  let wantsServer = false;
  let at = http2ClientPreface.length;
  while (at + frameHeaderBytes <= bytes.length) {
    const header = readFrameHeader(bytes, at);
    const end = at + frameHeaderBytes + header.length;
    if (end > bytes.length) break;
    const frame = bytes.subarray(at, end);
    if (
      header.type === FrameType.settings &&
      (header.flags & FrameFlag.ack) !== 0 &&
      acknowledgement === undefined
    ) {
      acknowledgement = {start: at, end};
    } else if (firstBlock !== undefined || wantsServer) {
      // Known already: what follows waits for the acknowledgement with the rest.
    } else if (header.type === FrameType.headers && block === undefined) {
      block = HeaderBlockFrames.start(header, frame);
      wantsServer = block === undefined;
    } else if (block !== undefined) {
      wantsServer = !block.continueWith(header, frame);
    } else if (
      header.type !== FrameType.settings &&
      header.type !== FrameType.windowUpdate &&
      header.type !== FrameType.priority
    ) {
      wantsServer = true;
    }
    if (block?.complete === true && firstBlock === undefined) firstBlock = block.block();
    at = end;
  }

  const ready =
    (acknowledgement !== undefined && (firstBlock !== undefined || wantsServer)) ||
    bytes.length > largestOpeningBytes;
  if (!ready) return {complete: false, prefaceSeen: true};
  const replay =
    acknowledgement === undefined
      ? bytes
      : Buffer.concat([
          bytes.subarray(0, acknowledgement.start),
          bytes.subarray(acknowledgement.end),
        ]);
  const needsRewriting =
    firstBlock !== undefined &&
    new HeaderBlockRewriter({secure}).rewrite(firstBlock, 'request') !== firstBlock;
  return {complete: true, replay, needsRewriting};
}
