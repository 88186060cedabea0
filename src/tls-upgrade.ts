/**
 * The TLS handshake of a STARTTLS upgrade, over a connected plaintext stream, inside the
 * call's deadline: client side (verified against the host the socket dialled) or server side.
 */
import type { Duplex } from "node:stream";
import type { Deadline } from "./deadline.js";
import { clientHandshake, prepareClient, prepareServer, serverHandshake, type TlsSession } from "./tls.js";
import type { TlsOptions } from "./tls-options.js";

/** Longest a handshake may take when the caller sets no deadline of its own (Node's timers' limit). */
const NO_LIMIT = 2 ** 31 - 1;

/** An upgrade whose options passed every check, before any byte of the handshake. */
export interface PreparedUpgrade {
  /** Runs the handshake over `plain`; on failure `plain` is destroyed. */
  run(plain: Duplex, deadline: Deadline | null): Promise<TlsSession>;
}

/**
 * Checks an upgrade's TLS options (certificates read, names and pins parsed) and returns the
 * handshake to run. Throws a SocketError for bad options, with the plaintext socket untouched.
 *
 * @example
 * ```ts
 * const upgrade = prepareUpgrade(false, tlsOptions, "tcp", url, "mail.example");
 * const session = await upgrade.run(plainStream, deadline);
 * ```
 */
export function prepareUpgrade(server: boolean, o: TlsOptions, transport: string, url: string, host: string): PreparedUpgrade {
  if (server) {
    const prepared = prepareServer(o, transport, url);
    return {
      run(plain, deadline) {
        const ms = deadline === null ? NO_LIMIT : Math.min(NO_LIMIT, deadline.remaining());
        const handshake = serverHandshake(plain, o, transport, url, ms, prepared);
        return deadline === null ? handshake.promise : deadline.race(handshake.promise, handshake.cancel);
      },
    };
  }
  const target = { host: o.peerName ?? host, transport: "tls", url };
  const prepared = prepareClient(o, target);
  return {
    run(plain, deadline) {
      const handshake = clientHandshake(plain, o, target, prepared);
      return deadline === null ? handshake.promise : deadline.race(handshake.promise, handshake.cancel);
    },
  };
}
