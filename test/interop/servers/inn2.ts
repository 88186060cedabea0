/**
 * INN 2.7's nnrpd (Debian `inn2`): the NNTP reader daemon on 127.0.0.1 with STARTTLS (RFC 4642),
 * standalone in the foreground (`nnrpd -D -f -b 127.0.0.1 -p PORT`), reading an inn.conf of its
 * own through INNCONF (Debian's /etc/news/inn.conf plus domain, pathrun and the TLS files). innd
 * itself is not needed to greet, list capabilities and negotiate TLS.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  freePort, installCert, listening, runStep, ownedDir, ownedFile, requireProgram, startDaemon,
  type RunningServer, type SetupContext,
} from "./daemon.js";

/** Starts nnrpd; ports: { nntp }. */
export async function startInn2(ctx: SetupContext): Promise<RunningServer> {
  const since = performance.now();
  const nnrpd = requireProgram("/usr/lib/news/bin/nnrpd", "inn2");
  const base = await readFile("/etc/news/inn.conf", "utf8").catch(() => {
    throw new Error("/etc/news/inn.conf is missing: install the Debian package inn2 (.ci/run does)");
  });
  const dir = await ownedDir(join(ctx.work, "inn2"), "news");
  // nnrpd drops to the news user and insists on a key that only news can read.
  const cert = await installCert(ctx.certFiles, join(dir, "tls"), "news");
  const run = await ownedDir(join(dir, "run"), "news");
  const overrides: Record<string, string> = {
    domain: "localdomain",
    pathhost: "localhost",
    pathrun: run,
    pathoverview: await ownedDir(join(dir, "overview"), "news"),
    tlscafile: cert.ca,
    tlscertfile: cert.chain,
    tlskeyfile: cert.key,
  };
  const kept = base.split("\n").filter((line) => !Object.keys(overrides).some((k) => new RegExp(`^\\s*${k}\\s*:`).test(line)));
  const config = await ownedFile(join(dir, "inn.conf"), [
    ...kept,
    "# sockurl interop",
    ...Object.entries(overrides).map(([k, v]) => `${k}: ${/^[\w./-]+$/.test(v) ? v : JSON.stringify(v)}`),
    "",
  ].join("\n"), "news");
  // nnrpd answers "400 NNTP server unavailable" when it cannot open the overview database, which
  // innd would have created: makehistory -O (-x: no history file) creates an empty one.
  await runStep("makehistory", "/usr/lib/news/bin/makehistory", ["-O", "-x"], {
    user: "news",
    cwd: dir,
    env: { INNCONF: config },
    logPath: join(dir, "nnrpd.log"),
  });
  const port = await freePort();
  const daemon = startDaemon("nnrpd", nnrpd, ["-D", "-f", "-b", "127.0.0.1", "-p", String(port)], {
    env: { INNCONF: config },
    logPath: join(dir, "nnrpd.log"),
  });
  return listening("inn2", [daemon], { nntp: port }, since);
}
