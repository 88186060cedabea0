/**
 * Postfix 3.7 (Debian `postfix`): smtpd on 127.0.0.1 with STARTTLS offered (security level
 * "may"), from a configuration directory of its own, in the foreground (`postfix start-fg`).
 */
import { join } from "node:path";
import {
  freePort, installCert, runStep, listening, ownedDir, ownedFile, requireProgram, startDaemon,
  type RunningServer, type SetupContext,
} from "./daemon.js";

// Only the services an SMTP session on smtpd touches, none chrooted (the chroot would need copies
// of /etc files inside the queue directory).
const MASTER_CF = (port: number) => `\
${port}   inet  n  -  n  -  -  smtpd
pickup    unix  n  -  n  60  1  pickup
cleanup   unix  n  -  n  -  0  cleanup
qmgr      unix  n  -  n  300  1  qmgr
tlsmgr    unix  -  -  n  1000?  1  tlsmgr
rewrite   unix  -  -  n  -  -  trivial-rewrite
bounce    unix  -  -  n  -  0  bounce
defer     unix  -  -  n  -  0  bounce
trace     unix  -  -  n  -  0  bounce
verify    unix  -  -  n  -  1  verify
flush     unix  n  -  n  1000?  0  flush
proxymap  unix  -  -  n  -  -  proxymap
showq     unix  n  -  n  -  -  showq
error     unix  -  -  n  -  -  error
retry     unix  -  -  n  -  -  error
discard   unix  -  -  n  -  -  discard
anvil     unix  -  -  n  -  1  anvil
scache    unix  -  -  n  -  1  scache
postlog   unix-dgram  n  -  n  -  1  postlogd
`;

/** Starts postfix; ports: { smtp }. */
export async function startPostfix(ctx: SetupContext): Promise<RunningServer> {
  const since = performance.now();
  const postfix = requireProgram("/usr/sbin/postfix", "postfix");
  const master = requireProgram("/usr/lib/postfix/sbin/master", "postfix");
  const dir = await ownedDir(join(ctx.work, "postfix"));
  const etc = await ownedDir(join(dir, "etc"));
  const cert = await installCert(ctx.certFiles, join(dir, "tls"));
  const port = await freePort();
  await ownedFile(join(etc, "main.cf"), `\
compatibility_level = 3.6
queue_directory = ${await ownedDir(join(dir, "spool"))}
data_directory = ${await ownedDir(join(dir, "data"), "postfix")}
mail_owner = postfix
setgid_group = postdrop
myhostname = localhost
mydomain = localdomain
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
biff = no
smtpd_tls_cert_file = ${cert.chain}
smtpd_tls_key_file = ${cert.key}
smtpd_tls_security_level = may
maillog_file = /dev/stdout
`);
  await ownedFile(join(etc, "master.cf"), MASTER_CF(port));
  const logPath = join(dir, "postfix.log");
  // "postfix check" creates the queue directories with their owners (post-install create-missing);
  // then master runs as this process's child (what "postfix start-fg" runs under a shell), so that
  // it is the one to reap its services when stopped.
  await runStep("postfix check", postfix, ["-c", etc, "check"], { logPath });
  const daemon = startDaemon("postfix", master, ["-c", etc, "-s"], { logPath });
  return listening("postfix", [daemon], { smtp: port }, since);
}
