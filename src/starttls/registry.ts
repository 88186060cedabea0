/**
 * The negotiator of each STARTTLS protocol: one file per protocol beside this one.
 */
import { lmtp, smtp } from "./smtp.js";
import type { Negotiator, StartTlsProtocol } from "./types.js";

const notYet = (name: string): Negotiator => async (d) => {
  throw d.protocolError(`STARTTLS for ${name} is not implemented yet`);
};

/** Negotiators by protocol name. */
export const PROTOCOLS: Record<StartTlsProtocol, Negotiator> = {
  smtp,
  lmtp,
  pop3: notYet("pop3"),
  imap: notYet("imap"),
  ftp: notYet("ftp"),
  xmpp: notYet("xmpp"),
  "xmpp-server": notYet("xmpp-server"),
  ldap: notYet("ldap"),
  postgres: notYet("postgres"),
  mysql: notYet("mysql"),
  nntp: notYet("nntp"),
  sieve: notYet("sieve"),
  irc: notYet("irc"),
  telnet: notYet("telnet"),
};
