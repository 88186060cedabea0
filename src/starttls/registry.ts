/**
 * The negotiator of each STARTTLS protocol: one file per protocol beside this one, loaded when
 * first used, so that a program that never negotiates (or uses one protocol) loads none (or one).
 */
import type { Negotiator } from "./dialogue.js";
import type { StartTlsProtocol } from "./types.js";

/** Loaders of the negotiators, by protocol name. */
export const PROTOCOLS: Record<StartTlsProtocol, () => Promise<Negotiator>> = {
  smtp: async () => (await import("./smtp.js")).smtp,
  lmtp: async () => (await import("./smtp.js")).lmtp,
  pop3: async () => (await import("./pop3.js")).pop3,
  imap: async () => (await import("./imap.js")).imap,
  ftp: async () => (await import("./ftp.js")).ftp,
  xmpp: async () => (await import("./xmpp.js")).xmpp,
  "xmpp-server": async () => (await import("./xmpp.js")).xmppServer,
  ldap: async () => (await import("./ldap.js")).ldap,
  postgres: async () => (await import("./postgres.js")).postgres,
  mysql: async () => (await import("./mysql.js")).mysql,
  nntp: async () => (await import("./nntp.js")).nntp,
  sieve: async () => (await import("./sieve.js")).sieve,
  irc: async () => (await import("./irc.js")).irc,
  telnet: async () => (await import("./telnet.js")).telnet,
};
