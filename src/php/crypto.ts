/**
 * stream_socket_enable_crypto: STARTTLS in both directions on top of Socket.startTls(), with
 * PHP's return values (true, false, 0 while a non-blocking handshake runs) and warnings.
 */
import type { StartTlsOptions } from "../index.js";
import { type PhpStream, streamArg } from "./stream.js";
import { checkPeer, handshakeWarning, prepareTls } from "./tls.js";
import { ValueError, warn } from "./warnings.js";

/**
 * Turns TLS on for a connected stream (PHP's `stream_socket_enable_crypto`): client methods
 * (`STREAM_CRYPTO_METHOD_*_CLIENT`, odd values) start a client handshake, server methods a server
 * handshake with the context's `local_cert`/`local_pk`. Options come from the stream's context.
 * Resolves to true, false (with PHP's warning), or 0 on a non-blocking stream while the
 * handshake runs (call again until it is not 0).
 *
 * Unlike PHP, it refuses (warning, false, connection untouched) when plaintext bytes are already
 * buffered: PHP would hand them to the handshake or lose them (the STARTTLS injection class,
 * CVE-2011-0411). And a failed handshake closes the connection instead of going on in plaintext.
 *
 * @example
 * ```ts
 * await fwrite(fp, "STARTTLS\r\n");
 * if ((await fgets(fp))?.startsWith("220")) await stream_socket_enable_crypto(fp, true, STREAM_CRYPTO_METHOD_TLS_CLIENT);
 * ```
 */
export async function stream_socket_enable_crypto(
  stream: PhpStream,
  enable: boolean,
  crypto_method: number | null = null,
  session_stream: PhpStream | null = null,
): Promise<boolean | 0> {
  const fn = "stream_socket_enable_crypto";
  const s = streamArg(fn, stream);
  if (s.crypto !== null) {
    if (s.crypto.done === null) return 0;
    const done = s.crypto.done;
    s.crypto = null;
    return done;
  }
  const ctx = s.context;
  if (enable && (crypto_method === null || crypto_method === undefined) && !ctx.has("ssl", "crypto_method")) {
    throw new ValueError(`${fn}(): Argument #3 ($crypto_method) must be specified when enabling encryption`);
  }
  await s.ready();
  if (s.kind === "dgram" || s.transport === "unix") {
    warn(fn, "This stream does not support SSL/crypto");
    return false;
  }
  const socket = s.socket;
  if (s.kind === "server" || socket === null) {
    warn(fn, "SSL: Broken pipe");
    return false;
  }
  if (!enable) {
    // PHP sends close_notify and reports false even then (bug #78051); sockurl cannot go back
    // to plaintext, so the stream stays as it is.
    return false;
  }
  if (socket.encrypted) {
    warn(fn, "SSL/TLS already set-up for this stream");
    return false;
  }
  const method = crypto_method ?? Number(ctx.get("ssl", "crypto_method"));
  const side = (method & 1) === 1 ? "client" : "server";
  const prepared = prepareTls(ctx, side, "tcp", s.host || "localhost", method);
  if ("fail" in prepared) {
    for (const w of prepared.fail) warn(fn, w.text, undefined, w.raw);
    return false;
  }
  if (s.plaintextPending > 0) {
    warn(fn, "Refusing to enable crypto: unread plaintext is buffered on this stream and would be taken as part of the TLS session (STARTTLS command injection, CVE-2011-0411)");
    return false;
  }
  if (side === "server" && prepared.options.certFile === undefined && prepared.options.sniCertificates === undefined) {
    warn(fn, "SSL_R_NO_SHARED_CIPHER: no suitable shared cipher could be used.  This could be because the server is missing an SSL certificate (local_cert context option)");
    s.dropConnection();
    return false;
  }
  const options: StartTlsOptions = { ...prepared.options, ...(side === "server" ? { server: true } : {}) };
  if (s.timeoutMs !== Infinity) options.handshakeTimeout = Math.max(1, Math.ceil(s.timeoutMs));
  const session = session_stream?.socket?.tls?.session;
  if (side === "client" && session !== undefined && session !== null) options.session = session;
  // Called without yielding to I/O first: the peer's ClientHello must reach the TLS layer.
  const run = socket.startTls(options).then(
    () => {
      const refused = checkPeer(socket, ctx, prepared);
      if (refused !== null) {
        for (const text of refused) warn(fn, text);
        s.dropConnection();
        return false;
      }
      s.watch();
      return true;
    },
    (err: unknown) => {
      warn(fn, handshakeWarning(err));
      s.eof = true;
      return false;
    },
  );
  if (!s.blocking) {
    const pending: { promise: Promise<boolean>; done: boolean | null } = { promise: run, done: null };
    s.crypto = pending;
    void run.then((ok) => {
      pending.done = ok;
    });
    return 0;
  }
  return run;
}
