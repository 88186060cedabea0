/**
 * Dovecot 2.3 (Debian `dovecot-core`, `-imapd`, `-pop3d`, `-lmtpd`, `-managesieved`): IMAP,
 * POP3, LMTP and ManageSieve on 127.0.0.1, each offering STARTTLS, from one config file of its
 * own (`dovecot -F -c FILE`; no /etc/dovecot include).
 */
import { join } from "node:path";
import {
  freePort, installCert, listening, ownedDir, ownedFile, requireProgram, startDaemon,
  type RunningServer, type SetupContext,
} from "./daemon.js";

/** Starts dovecot; ports: { imap, pop3, lmtp, sieve }. */
export async function startDovecot(ctx: SetupContext): Promise<RunningServer> {
  const since = performance.now();
  const dovecot = requireProgram("/usr/sbin/dovecot", "dovecot-core");
  requireProgram("/usr/lib/dovecot/imap-login", "dovecot-imapd");
  requireProgram("/usr/lib/dovecot/pop3-login", "dovecot-pop3d");
  requireProgram("/usr/lib/dovecot/lmtp", "dovecot-lmtpd");
  requireProgram("/usr/lib/dovecot/managesieve-login", "dovecot-managesieved");
  const dir = await ownedDir(join(ctx.work, "dovecot"));
  const cert = await installCert(ctx.certFiles, join(dir, "tls"));
  const ports = { imap: await freePort(), pop3: await freePort(), lmtp: await freePort(), sieve: await freePort() };
  const mail = await ownedDir(join(dir, "mail"), "dovecot", 0o700);
  const config = await ownedFile(join(dir, "dovecot.conf"), `\
# sockurl interop: one dovecot, four STARTTLS services on loopback
protocols = imap pop3 lmtp sieve
listen = 127.0.0.1
base_dir = ${await ownedDir(join(dir, "run"))}
state_dir = ${await ownedDir(join(dir, "state"))}
instance_name = sockurl-interop
log_path = /dev/stderr
ssl = yes
ssl_cert = <${cert.chain}
ssl_key = <${cert.key}
# Logins are never made here; this only gives the services a valid user database.
passdb {
  driver = static
  args = password=interop
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=${mail}/%u
}
mail_location = maildir:~/Maildir
first_valid_uid = 1
service imap-login {
  inet_listener imap {
    port = ${ports.imap}
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    port = ${ports.pop3}
  }
  inet_listener pop3s {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${ports.lmtp}
  }
}
service managesieve-login {
  inet_listener sieve {
    port = ${ports.sieve}
  }
}
protocol sieve {
}
`);
  const daemon = startDaemon("dovecot", dovecot, ["-F", "-c", config], { logPath: join(dir, "dovecot.log") });
  return listening("dovecot", [daemon], ports, since);
}
