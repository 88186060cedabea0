/**
 * InspIRCd 3 (Debian `inspircd`): an IRC client port on 127.0.0.1 with the IRCv3 STARTTLS
 * extension (modules ssl_gnutls and starttls), from a config file of its own, in the foreground as
 * root (`inspircd --config FILE --nofork --runasroot --nopid`). ngircd has no STARTTLS.
 */
import { join } from "node:path";
import {
  freePort, installCert, listening, ownedDir, ownedFile, requireProgram, startDaemon,
  type RunningServer, type SetupContext,
} from "./daemon.js";

/** The server name the interop test expects in replies. */
export const IRC_SERVER_NAME = "irc.sockurl.test";

/** Starts inspircd; ports: { irc }. */
export async function startInspircd(ctx: SetupContext): Promise<RunningServer> {
  const since = performance.now();
  const inspircd = requireProgram("/usr/sbin/inspircd", "inspircd");
  const dir = await ownedDir(join(ctx.work, "inspircd"));
  const cert = await installCert(ctx.certFiles, join(dir, "tls"));
  const port = await freePort();
  const motd = await ownedFile(join(dir, "motd.txt"), "sockurl interop\n");
  const config = await ownedFile(join(dir, "inspircd.conf"), `\
<server name="${IRC_SERVER_NAME}" description="sockurl interop" network="SockurlTest">
<admin name="sockurl" nick="sockurl" email="root@localhost">
<bind address="127.0.0.1" port="${port}" type="clients">
<connect name="main" allow="*" timeout="30" pingfreq="120" localmax="50" globalmax="50"
         hardsendq="262144" softsendq="8192" recvq="8192" threshold="100" commandrate="1000"
         fakelag="no" resolvehostnames="no" useident="no">
<module name="ssl_gnutls">
<sslprofile name="starttls" provider="gnutls" certfile="${cert.chain}" keyfile="${cert.key}"
            cafile="" crlfile="" dhfile="" requestclientcert="no" hash="sha256">
<module name="starttls">
<starttls provider="starttls">
<files motd="${motd}">
<dns server="127.0.0.1" timeout="1">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="${join(dir, "inspircd-file.log")}">
<options prefixquit="Quit: " syntaxhints="no">
<security hideserver="" userstats="Pu">
<performance softlimit="128" somaxconn="64" netbuffersize="10240">
<whowas groupsize="10" maxgroups="1000" maxkeep="1h">
`);
  const daemon = startDaemon("inspircd", inspircd, ["--config", config, "--nofork", "--runasroot", "--nopid"], {
    cwd: dir,
    logPath: join(dir, "inspircd.log"),
    logFiles: [join(dir, "inspircd-file.log")],
  });
  return listening("inspircd", [daemon], { irc: port }, since);
}
