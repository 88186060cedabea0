/**
 * The TLS handshake of a STARTTLS upgrade, over a connected plaintext stream, inside the
 * call's deadline: client side (verified against the host the socket dialled) or server side.
 */
import type { Duplex } from "node:stream";
import type { Deadline } from "./deadline.js";
import { clientHandshake, prepareClient } from "./tls-client.js";
import type { TlsSession } from "./tls-handshake.js";
import { prepareServer, serverHandshake } from "./tls-server.js";
import type { TlsOptions } from "./tls-options.js";

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
  let start: (plain: Duplex) => { promise: Promise<TlsSession>; cancel: () => void };
  if (server) {
    const prepared = prepareServer(o, transport, url);
    start = (plain) => serverHandshake(plain, o, transport, url, prepared);
  } else {
    const target = { host: o.peerName ?? host, transport: "tls", url };
    const prepared = prepareClient(o, target);
    start = (plain) => clientHandshake(plain, o, target, prepared);
  }
  return {
    run(plain, deadline) {
      const handshake = start(plain);
      return deadline === null ? handshake.promise : deadline.race(handshake.promise, handshake.cancel);
    },
  };
}
