/**
 * vsftpd 3.0 (Debian `vsftpd`): FTP on 127.0.0.1 with AUTH TLS (RFC 4217), standalone in the
 * foreground from a config file of its own (`vsftpd FILE`).
 */
import { join } from "node:path";
import {
  freePort, installCert, listening, ownedDir, ownedFile, requireProgram, startDaemon,
  type RunningServer, type SetupContext,
} from "./daemon.js";

/** Starts vsftpd; ports: { ftp }. */
export async function startVsftpd(ctx: SetupContext): Promise<RunningServer> {
  const since = performance.now();
  const vsftpd = requireProgram("/usr/sbin/vsftpd", "vsftpd");
  const dir = await ownedDir(join(ctx.work, "vsftpd"));
  const cert = await installCert(ctx.certFiles, join(dir, "tls"));
  const port = await freePort();
  const config = await ownedFile(join(dir, "vsftpd.conf"), `\
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=${port}
background=NO
# The empty, root-owned directory each session is chrooted into before login
# (Debian's default is /var/run/vsftpd/empty; this one belongs to the suite).
secure_chroot_dir=${await ownedDir(join(dir, "empty"), undefined, 0o555)}
# vsftpd refuses to greet ("500 OOPS") when both kinds of login are off: local logins are on,
# but the user list allows nobody (userlist_deny=NO with an empty list).
anonymous_enable=NO
local_enable=YES
userlist_enable=YES
userlist_deny=NO
userlist_file=${await ownedFile(join(dir, "allowed-users"), "")}
write_enable=NO
ssl_enable=YES
rsa_cert_file=${cert.chain}
rsa_private_key_file=${cert.key}
# vsftpd 3.0.3's default cipher list is DES-CBC3-SHA alone (no ECDSA, no TLS 1.2 suite).
ssl_ciphers=HIGH
require_ssl_reuse=NO
force_local_logins_ssl=NO
force_local_data_ssl=NO
# The seccomp sandbox of 3.0.3 predates bookworm's glibc system calls.
seccomp_sandbox=NO
xferlog_enable=NO
vsftpd_log_file=${join(dir, "vsftpd-sessions.log")}
dual_log_enable=YES
`, undefined, 0o600);
  const daemon = startDaemon("vsftpd", vsftpd, [config], {
    logPath: join(dir, "vsftpd.log"),
    logFiles: [join(dir, "vsftpd-sessions.log")],
  });
  return listening("vsftpd", [daemon], { ftp: port }, since);
}
