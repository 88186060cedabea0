/**
 * Prosody 0.12 (Debian `prosody`): XMPP client-to-server and server-to-server streams on
 * 127.0.0.1 for the virtual host "localhost", each offering <starttls/>, from a config file of its
 * own, in the foreground as the prosody user (`prosody --config FILE -F`).
 */
import { join } from "node:path";
import {
  freePort, installCert, listening, ownedDir, ownedFile, requireProgram, startDaemon,
  type RunningServer, type SetupContext,
} from "./daemon.js";

/** Starts prosody; ports: { xmpp (c2s), "xmpp-server" (s2s) }. */
export async function startProsody(ctx: SetupContext): Promise<RunningServer> {
  const since = performance.now();
  const prosody = requireProgram("/usr/bin/prosody", "prosody");
  const dir = await ownedDir(join(ctx.work, "prosody"), "prosody");
  const cert = await installCert(ctx.certFiles, join(dir, "tls"), "prosody");
  const ports = { xmpp: await freePort(), "xmpp-server": await freePort() };
  const lua = (s: string) => JSON.stringify(s); // a Lua string literal (paths have no exotic characters)
  const config = await ownedFile(join(dir, "prosody.cfg.lua"), `\
-- sockurl interop: one virtual host, c2s and s2s on loopback
pidfile = ${lua(join(dir, "prosody.pid"))}
data_path = ${lua(await ownedDir(join(dir, "data"), "prosody", 0o750))}
certificates = ${lua(join(dir, "tls"))}
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { ${ports.xmpp} }
s2s_ports = { ${ports["xmpp-server"]} }
c2s_direct_tls_ports = { }
s2s_direct_tls_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
-- mod_posix would daemonize and manage a pid file; the suite keeps prosody in the foreground.
modules_disabled = { "posix" }
modules_enabled = { "roster"; "saslauth"; "tls"; "dialback"; "disco"; "ping" }
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = false
authentication = "internal_hashed"
storage = "internal"
log = { { levels = { min = "info" }, to = "console" } }
ssl = {
  certificate = ${lua(cert.chain)};
  key = ${lua(cert.key)};
}
VirtualHost "localhost"
  ssl = {
    certificate = ${lua(cert.chain)};
    key = ${lua(cert.key)};
  }
`, "prosody");
  const daemon = startDaemon("prosody", prosody, ["--config", config, "-F"], {
    user: "prosody",
    cwd: dir,
    logPath: join(dir, "prosody.log"),
  });
  return listening("prosody", [daemon], ports, since);
}
