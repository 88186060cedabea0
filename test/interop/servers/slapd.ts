/**
 * OpenLDAP slapd 2.5 (Debian `slapd`): ldap:// on 127.0.0.1 with StartTLS, from a slapd.conf of
 * its own with one empty mdb database (`slapd -d stats -f FILE -h ldap://127.0.0.1:PORT/`).
 */
import { join } from "node:path";
import {
  freePort, installCert, listening, ownedDir, ownedFile, requireProgram, startDaemon,
  type RunningServer, type SetupContext,
} from "./daemon.js";

/** Starts slapd; ports: { ldap }. */
export async function startSlapd(ctx: SetupContext): Promise<RunningServer> {
  const since = performance.now();
  const slapd = requireProgram("/usr/sbin/slapd", "slapd");
  const dir = await ownedDir(join(ctx.work, "slapd"));
  const cert = await installCert(ctx.certFiles, join(dir, "tls"));
  const port = await freePort();
  const config = await ownedFile(join(dir, "slapd.conf"), `\
include /etc/ldap/schema/core.schema
pidfile ${join(dir, "slapd.pid")}
argsfile ${join(dir, "slapd.args")}
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile ${cert.ca}
TLSCertificateFile ${cert.chain}
TLSCertificateKeyFile ${cert.key}
database mdb
suffix "dc=sockurl,dc=test"
rootdn "cn=admin,dc=sockurl,dc=test"
directory ${await ownedDir(join(dir, "db"), undefined, 0o700)}
maxsize 16777216
`);
  // -d: stay in the foreground and log to stderr; "stats" also shows each connection and
  // operation (with -d 0, configuration errors would only go to syslog, which is absent here).
  const daemon = startDaemon("slapd", slapd, ["-d", "stats", "-f", config, "-h", `ldap://127.0.0.1:${port}/`], {
    logPath: join(dir, "slapd.log"),
  });
  return listening("slapd", [daemon], { ldap: port }, since);
}
