/**
 * stream_set_timeout, stream_set_blocking and stream_get_meta_data.
 */
import { type PhpStream, streamArg } from "./stream.js";
import { cryptoMeta } from "./tls.js";

/**
 * Sets the read timeout (PHP's `stream_set_timeout`): a read that waits longer returns false
 * and sets `timed_out`. Also the handshake deadline of a server-side stream_socket_enable_crypto.
 *
 * @example
 * ```ts
 * stream_set_timeout(fp, 5);
 * ```
 */
export function stream_set_timeout(stream: PhpStream, seconds: number, microseconds = 0): boolean {
  const s = streamArg("stream_set_timeout", stream);
  const ms = Math.trunc(Number(seconds)) * 1000 + Math.trunc(Number(microseconds)) / 1000;
  s.timeoutMs = ms < 0 || !Number.isFinite(ms) ? Infinity : ms;
  return true;
}

/**
 * Switches blocking mode (PHP's `stream_set_blocking`). Non-blocking reads take only what has
 * arrived ("" or false when nothing has), and fwrite does not wait for the peer.
 *
 * @example
 * ```ts
 * stream_set_blocking(fp, false);
 * ```
 */
export function stream_set_blocking(stream: PhpStream, enable: boolean): boolean {
  const s = streamArg("stream_set_blocking", stream);
  s.blocking = Boolean(enable);
  return true;
}

/** What stream_get_meta_data returns, keys in PHP's order. */
export interface StreamMetaData {
  crypto?: Record<string, unknown>;
  timed_out: boolean;
  blocked: boolean;
  eof: boolean;
  stream_type: string;
  mode: string;
  unread_bytes: number;
  seekable: boolean;
}

/**
 * The stream's state (PHP's `stream_get_meta_data`), keys in PHP's order: `crypto` (while TLS
 * is on), `timed_out`, `blocked`, `eof`, `stream_type`, `mode`, `unread_bytes`, `seekable`.
 *
 * @example
 * ```ts
 * if (stream_get_meta_data(fp).timed_out) console.log("timed out");
 * ```
 */
export function stream_get_meta_data(stream: PhpStream): StreamMetaData {
  const s = streamArg("stream_get_meta_data", stream);
  const crypto = s.socket !== null && s.socket.encrypted && !s.dropped ? cryptoMeta(s.socket) : null;
  return {
    ...(crypto === null ? {} : { crypto }),
    timed_out: s.timedOut,
    blocked: s.blocking,
    eof: s.eof,
    stream_type: s.streamType,
    mode: "r+",
    unread_bytes: s.buffer.length,
    seekable: false,
  };
}
