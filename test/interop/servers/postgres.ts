/**
 * PostgreSQL 15 (Debian `postgresql`): a throwaway cluster (`initdb -A trust` as the postgres
 * user) whose postmaster listens on 127.0.0.1 with ssl=on, so SSLRequest is answered 'S'.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  freePort, installCert, listening, ownedDir, runStep, startDaemon,
  type RunningServer, type SetupContext,
} from "./daemon.js";

/** The newest /usr/lib/postgresql/N/bin holding initdb and postgres. */
function binDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const bin = join(root, v, "bin");
    if (existsSync(join(bin, "initdb")) && existsSync(join(bin, "postgres"))) return bin;
  }
  throw new Error(`no PostgreSQL server under ${root}: install the Debian package postgresql (.ci/run does)`);
}

/** Starts postgres; ports: { postgres }. */
export async function startPostgres(ctx: SetupContext): Promise<RunningServer> {
  const since = performance.now();
  const bin = binDir();
  const dir = await ownedDir(join(ctx.work, "postgres"), "postgres");
  // The key must be 0600 and belong to the server's user, or postgres refuses to start.
  const cert = await installCert(ctx.certFiles, join(dir, "tls"), "postgres");
  const data = join(dir, "data");
  const logPath = join(dir, "postgres.log");
  await runStep("initdb", join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"], {
    user: "postgres",
    logPath,
    timeoutMs: 60_000,
  });
  const port = await freePort();
  const daemon = startDaemon("postgres", join(bin, "postgres"), [
    "-D", data,
    "-c", "listen_addresses=127.0.0.1",
    "-c", `port=${port}`,
    "-c", `unix_socket_directories=${await ownedDir(join(dir, "run"), "postgres")}`,
    "-c", "ssl=on",
    "-c", `ssl_cert_file=${cert.chain}`,
    "-c", `ssl_key_file=${cert.key}`,
    "-c", "fsync=off",
    "-c", "shared_buffers=16MB",
    "-c", "max_connections=20",
  ], {
    user: "postgres",
    // SIGINT is the fast shutdown (SIGTERM would wait for clients to leave).
    stopSignal: "SIGINT",
    logPath,
  });
  // The port listens while the startup process still runs ("the database system is starting up").
  return listening("postgres", [daemon], { postgres: port }, since, /database system is ready to accept connections/);
}
