/**
 * tls-resume: 1,500 resumed TLS handshakes on 127.0.0.1, at most 20 in flight, against a
 * server that completes the handshake and closes. Unit: handshakes/s.
 *
 * Before the clock starts, one full handshake gets a session. A TLS 1.3 server sends its
 * tickets after the handshake, with its first write (Node's server sends none if it only
 * closes), so on this first connection only the server writes one byte and closes. The client
 * reads the byte and then to end of stream (Node can report the tickets just after the byte
 * that carried them, never after the end of stream) and takes the latest ticket (sockurl
 * `socket.tls.session`, baseline the last 'session' event). Every timed connection then offers that session to a
 * server that only closes, and the run fails unless both ends of every connection report it
 * resumed (sockurl `socket.tls.sessionReused`, baseline `isSessionReused()`).
 *
 * Same certificate, verification, server and client code as tls-handshake.ts (which see),
 * plus `tls: { session }` (sockurl) or `session` (baseline `tls.connect`) on each client.
 * sockurl checks the peer's name on resumed sessions too (from the certificate stored in the
 * session); Node's checkServerIdentity is skipped for a resumed session.
 */
import { scaled, type Impl, type RunOptions, type Sample } from "./common.js";
import { CONCURRENCY, churn } from "./tls-handshake.js";

const HANDSHAKES = 1_500;

export function tlsResume(impl: Impl, { scale }: RunOptions): Promise<Sample> {
  return churn(impl, scaled(HANDSHAKES, scale, CONCURRENCY), "resume");
}
