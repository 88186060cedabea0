/**
 * The data path: fread, fgets, fgetc, fwrite/fputs, feof, fclose, stream_get_line and
 * stream_get_contents, with PHP's return values (strings are binary strings: see bytes.ts).
 */
import { E_NOTICE } from "./constants.js";
import { bytesOf } from "./bytes.js";
import { osError, strerror } from "./errno.js";
import { type PhpStream, streamArg } from "./stream.js";
import { ValueError, warn } from "./warnings.js";

const LF = Buffer.from("\n");

function give(stream: PhpStream, bytes: Buffer): string {
  stream.position += bytes.length;
  return bytes.toString("latin1");
}

function positive(fn: string, length: unknown): number {
  const n = Math.trunc(Number(length));
  if (!(n > 0)) throw new ValueError(`${fn}(): Argument #2 ($length) must be greater than 0`);
  return n;
}

/**
 * Reads up to `length` bytes (PHP's `fread`): what is buffered, else waits for the next packet.
 * "" at end of stream, false on timeout (then `timed_out` is true in stream_get_meta_data).
 *
 * @example
 * ```ts
 * const chunk = await fread(fp, 8192);
 * ```
 */
export async function fread(stream: PhpStream, length: number): Promise<string | false> {
  const s = streamArg("fread", stream);
  const n = positive("fread", length);
  if (s.kind === "server") return false;
  await s.ready();
  if (s.buffer.length === 0) {
    const r = await s.fill(true, "fread");
    if (r === "timeout" || r === "error") return false;
    if (r !== "data") return "";
  } else if (s.buffer.length < n) {
    // PHP reads once more after copying what was buffered, waiting up to the timeout.
    await s.fill(true, "fread");
  }
  return give(s, s.buffer.take(n));
}

/**
 * Reads one line, with its "\n" (PHP's `fgets`); at most `length - 1` bytes. At end of stream the
 * unterminated tail, then false; false on timeout with nothing read.
 *
 * @example
 * ```ts
 * for (let line; (line = await fgets(fp)) !== false; ) console.log(line.trimEnd());
 * ```
 */
export async function fgets(stream: PhpStream, length: number | null = null): Promise<string | false> {
  const s = streamArg("fgets", stream);
  const max = length === null || length === undefined ? Infinity : positive("fgets", length) - 1;
  if (max === 0) return false;
  if (s.kind === "server") return false;
  await s.ready();
  for (;;) {
    const limit = Math.min(max, s.buffer.length);
    const nl = s.buffer.indexOf(LF, limit);
    if (nl >= 0) return give(s, s.buffer.take(nl + 1));
    if (s.buffer.length >= max) return give(s, s.buffer.take(max));
    const r = await s.fill(true, "fgets");
    if (r !== "data") return s.buffer.length > 0 ? give(s, s.buffer.take(max)) : false;
  }
}

/**
 * Reads one byte (PHP's `fgetc`); false at end of stream or on timeout.
 *
 * @example
 * ```ts
 * const c = await fgetc(fp);
 * ```
 */
export async function fgetc(stream: PhpStream): Promise<string | false> {
  const s = streamArg("fgetc", stream);
  if (s.kind === "server") return false;
  await s.ready();
  if (s.buffer.length === 0 && (await s.fill(true, "fgetc")) !== "data") return false;
  return give(s, s.buffer.take(1));
}

/**
 * Reads up to `ending` (not returned, consumed), at most `length` bytes (0: 8192), PHP's
 * `stream_get_line`. The delimiter counts only when it lies wholly within those bytes.
 * False at end of stream, on timeout, and when a non-blocking stream has no whole record yet.
 *
 * @example
 * ```ts
 * const record = await stream_get_line(fp, 1024, "\r\n");
 * ```
 */
export async function stream_get_line(stream: PhpStream, length: number, ending = ""): Promise<string | false> {
  const s = streamArg("stream_get_line", stream);
  let max = Math.trunc(Number(length));
  if (max < 0) throw new ValueError("stream_get_line(): Argument #2 ($length) must be greater than or equal to 0");
  if (max === 0) max = 8192;
  const delimiter = bytesOf("stream_get_line", "Argument #3 ($ending)", ending);
  if (s.kind === "server") return false;
  await s.ready();
  for (;;) {
    if (delimiter.length > 0) {
      const at = s.buffer.indexOf(delimiter, max);
      if (at >= 0) {
        const out = s.buffer.take(at);
        s.buffer.skip(delimiter.length);
        s.position += delimiter.length;
        return give(s, out);
      }
    }
    if (s.buffer.length >= max) return give(s, s.buffer.take(max));
    const r = await s.fill(true, "stream_get_line");
    if (r === "data") continue;
    if (r === "eof" && s.buffer.length > 0) return give(s, s.buffer.take(max));
    return false;
  }
}

/**
 * Reads until end of stream, or `length` bytes (PHP's `stream_get_contents`). A timeout ends the
 * read with what arrived so far (`timed_out` is then true); "" at end of stream.
 *
 * @example
 * ```ts
 * await fwrite(fp, "GET / HTTP/1.0\r\n\r\n");
 * const response = await stream_get_contents(fp);
 * ```
 */
export async function stream_get_contents(stream: PhpStream, length: number | null = null, offset = -1): Promise<string | false> {
  const fn = "stream_get_contents";
  const s = streamArg(fn, stream);
  const n = length === null || length === undefined ? -1 : Math.trunc(Number(length));
  if (n < -1) throw new ValueError(`${fn}(): Argument #2 ($length) must be greater than or equal to -1`);
  const max = n === -1 ? Infinity : n;
  if (offset >= 0 && offset !== s.position) {
    warn(fn, "Stream does not support seeking");
    warn(fn, `Failed to seek to position ${offset} in the stream`);
    return false;
  }
  if (max === 0 || s.kind === "server") return "";
  const parts: Buffer[] = [];
  let total = 0;
  await s.ready();
  for (;;) {
    if (s.buffer.length > 0) {
      const part = s.buffer.take(max - total);
      parts.push(part);
      total += part.length;
    }
    if (total >= max) break;
    if ((await s.fill(true, "stream_get_contents")) !== "data") break;
  }
  return give(s, Buffer.concat(parts));
}

/**
 * Writes bytes (PHP's `fwrite`; a binary string or a Uint8Array), at most `length`. Resolves to
 * the number of bytes written; false with PHP's notice when the send fails.
 *
 * @example
 * ```ts
 * await fwrite(fp, "EHLO client.example\r\n");
 * ```
 */
export async function fwrite(stream: PhpStream, data: string | Uint8Array, length: number | null = null): Promise<number | false> {
  const fn = "fwrite";
  const s = streamArg(fn, stream);
  let bytes = bytesOf(fn, "Argument #2 ($data)", data);
  if (length !== null && length !== undefined) {
    const n = Math.trunc(Number(length));
    if (n <= 0) return 0;
    bytes = bytes.subarray(0, n);
  }
  if (bytes.length === 0) return 0;
  const failed = (code: string): false => {
    warn(fn, `Send of ${bytes.length} bytes failed with errno=${osError({ code })?.errno ?? 0} ${strerror(code)}`, E_NOTICE);
    return false;
  };
  await s.ready();
  if (s.unconnected) return 0;
  if (s.kind === "server") return failed("ENOTCONN");
  if (s.kind === "dgram") {
    const d = s.datagram;
    if (d === null) return failed("ECONNREFUSED");
    try {
      if (d.remote !== null) await d.send(bytes);
      else if (s.defaultPeer !== null) await d.sendTo(bytes, s.defaultPeer);
      else return failed("EDESTADDRREQ");
    } catch (err) {
      return failed(osError(err)?.code ?? "EMSGSIZE");
    }
    return bytes.length;
  }
  const socket = s.socket;
  if (socket === null) return failed(osError(s.failure)?.code ?? "ENOTCONN");
  if (s.failure !== null && osError(s.failure) !== null) return failed("EPIPE");
  if (s.writeShut) return failed("EPIPE");
  // Non-blocking: nothing is taken while sockurl's write buffer is full (PHP's EAGAIN → 0).
  if (!s.blocking && !s.writeReady) return 0;
  try {
    const written = socket.write(bytes);
    if (s.blocking) await written;
    else written.catch(() => {});
  } catch (err) {
    const os = osError(err);
    const code = os?.code ?? "EPIPE";
    if (socket.encrypted) {
      warn(fn, `SSL: ${strerror(code === "ECONNRESET" ? "ECONNRESET" : "EPIPE")}`);
      return false;
    }
    return failed(code === "ERR_SOCKET_CLOSED" || code === "ECONNRESET" ? "EPIPE" : code);
  }
  return bytes.length;
}

/** Alias of fwrite (PHP's `fputs`). */
export const fputs = fwrite;

/**
 * True once the peer has ended the stream and every byte was read (PHP's `feof`).
 * A stream that timed out is not at end of stream.
 *
 * @example
 * ```ts
 * while (!feof(fp)) out += await fread(fp, 8192);
 * ```
 */
export function feof(stream: PhpStream): boolean {
  const s = streamArg("feof", stream);
  return s.atEof;
}

/**
 * Closes the stream (PHP's `fclose`): queued bytes are flushed, then the socket is released.
 * Any later use throws PHP's TypeError.
 *
 * @example
 * ```ts
 * await fclose(fp);
 * ```
 */
export async function fclose(stream: PhpStream): Promise<boolean> {
  const s = streamArg("fclose", stream);
  await s.close();
  return true;
}
