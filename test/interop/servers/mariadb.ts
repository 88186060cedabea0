/**
 * MariaDB 10.11 (Debian `mariadb-server`): a throwaway data directory (`mariadb-install-db`),
 * then mariadbd on 127.0.0.1 with TLS, and one password-less account for 127.0.0.1 so that a
 * client can finish a real login over the encrypted channel.
 */
import { join } from "node:path";
import {
  freePort, installCert, listening, ownedDir, ownedFile, requireProgram, runStep, startDaemon,
  type RunningServer, type SetupContext,
} from "./daemon.js";

/** The account the interop test logs in with (no password; TLS required). */
export const MARIADB_USER = "sockurl";

/** Starts mariadbd; ports: { mysql }. */
export async function startMariadb(ctx: SetupContext): Promise<RunningServer> {
  const since = performance.now();
  const installDb = requireProgram("/usr/bin/mariadb-install-db", "mariadb-server");
  const mariadbd = requireProgram("/usr/sbin/mariadbd", "mariadb-server");
  const dir = await ownedDir(join(ctx.work, "mariadb"), "mysql");
  const cert = await installCert(ctx.certFiles, join(dir, "tls"), "mysql");
  const data = join(dir, "data");
  const logPath = join(dir, "mariadb.log");
  await runStep("mariadb-install-db", installDb, [
    "--no-defaults", `--datadir=${data}`, "--user=mysql", "--skip-test-db", "--auth-root-authentication-method=socket",
    "--skip-name-resolve",
  ], { logPath, timeoutMs: 90_000 });
  // Run at every start of this throwaway server: the account the test logs in with.
  const init = await ownedFile(join(dir, "init.sql"), `\
CREATE USER IF NOT EXISTS '${MARIADB_USER}'@'127.0.0.1' IDENTIFIED BY '' REQUIRE SSL;
`, "mysql", 0o600);
  const port = await freePort();
  const daemon = startDaemon("mariadbd", mariadbd, [
    "--no-defaults",
    `--datadir=${data}`,
    "--user=mysql",
    "--bind-address=127.0.0.1",
    `--port=${port}`,
    `--socket=${join(dir, "mysqld.sock")}`,
    `--pid-file=${join(dir, "mysqld.pid")}`,
    `--ssl-ca=${cert.ca}`,
    `--ssl-cert=${cert.chain}`,
    `--ssl-key=${cert.key}`,
    `--init-file=${init}`,
    "--skip-name-resolve",
    "--skip-log-bin",
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=8M",
    "--performance-schema=OFF",
    "--max-connections=20",
  ], { logPath });
  return listening("mariadb", [daemon], { mysql: port }, since, /mariadbd: ready for connections/);
}
