/**
 * The negotiator of each STARTTLS protocol: one file per protocol beside this one.
 */
import { lmtp, smtp } from "./smtp.js";
import { irc } from "./irc.js";
import { ldap } from "./ldap.js";
import { mysql } from "./mysql.js";
import { postgres } from "./postgres.js";
import { telnet } from "./telnet.js";
import { xmpp, xmppServer } from "./xmpp.js";
import { pop3 } from "./pop3.js";
import { imap } from "./imap.js";
import { ftp } from "./ftp.js";
import { nntp } from "./nntp.js";
import { sieve } from "./sieve.js";
import type { Negotiator, StartTlsProtocol } from "./types.js";

const notYet = (name: string): Negotiator => async (d) => {
  throw d.protocolError(`STARTTLS for ${name} is not implemented yet`);
};

/** Negotiators by protocol name. */
export const PROTOCOLS: Record<StartTlsProtocol, Negotiator> = {
  smtp,
  lmtp,
  pop3,
  imap,
  ftp,
  xmpp,
  "xmpp-server": xmppServer,
  ldap,
  postgres,
  mysql,
  nntp,
  sieve,
  irc,
  telnet,
};
