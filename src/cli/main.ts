/**
 * The `sockurl` command: parses flags and calls the library. Subcommands arrive with the
 * CLI issue; for now `--help` and `--version` work.
 */
import { readFileSync } from "node:fs";
import { formatDemo, runDemo } from "./demo.js";

const HELP = `sockurl — TCP, UDP, TLS and unix sockets addressed by transport URLs

Usage:
  sockurl demo           start loopback servers (tcp, udp, unix, udg), talk to each, print a table
  sockurl --help         show this help
  sockurl --version      print the version

Transport URLs:
  tcp://127.0.0.1:80  tcp://[::1]:80  udp://127.0.0.1:53  unix:///run/app.sock  udg:///run/log.sock
  127.0.0.1:80 (no transport means tcp)

Examples:
  npx sockurl demo

The connect, listen and probe subcommands, and TLS in the demo, arrive in later versions.
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

/**
 * Runs the command with `argv` (without node and the script) and returns the exit code.
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2));
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  const [first] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    process.stdout.write(HELP);
    return first === undefined ? 2 : 0;
  }
  if (first === "--version" || first === "-V") {
    process.stdout.write(`sockurl ${version()}\n`);
    return 0;
  }
  if (first === "demo") {
    if (argv[1] === "--help" || argv[1] === "-h") {
      process.stdout.write("Usage: sockurl demo\n\nStarts servers on loopback for tcp, tcp6, udp, unix and udg, talks to each\nthrough the library and prints transport, URL, result, reply and round-trip time.\nExit code 0 when every transport works.\n\nExample:\n  npx sockurl demo\n");
      return 0;
    }
    const rows = await runDemo();
    process.stdout.write(formatDemo(rows));
    return rows.every((r) => r.ok) ? 0 : 1;
  }
  process.stderr.write(`sockurl: unknown command "${first}" (ERR_USAGE); the subcommands arrive in a later version. Try: sockurl --help\n`);
  return 2;
}
