/**
 * The `sockurl` command: finds the subcommand, prints help, and turns any failure into one
 * line on stderr and an exit code. Each subcommand parses its flags and calls the library.
 */
import { readFileSync } from "node:fs";
import { report, UsageError } from "./errors.js";
import { HELP, MAIN_HELP } from "./help.js";

type Command = (argv: string[]) => Promise<number>;

/** Each command is loaded when run: the time to first byte of `sockurl connect` is its startup. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  connect: async () => (await import("./connect.js")).connectCommand,
  listen: async () => (await import("./listen.js")).listenCommand,
  probe: async () => (await import("./probe.js")).probeCommand,
  demo: async () => (await import("./demo.js")).demoCommand,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

const wantsHelp = (argv: string[]) => {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h");
};

/**
 * Runs the command with `argv` (without node and the script) and returns the exit code.
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2));
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h") {
    process.stdout.write(MAIN_HELP);
    return first === undefined ? 2 : 0;
  }
  if (first === "--version" || first === "-V") {
    process.stdout.write(`sockurl ${version()}\n`);
    return 0;
  }
  try {
    if (first === "help") {
      const topic = rest[0];
      if (topic === undefined) {
        process.stdout.write(MAIN_HELP);
        return 0;
      }
      const text = HELP[topic];
      if (text === undefined) throw new UsageError(`no help for "${topic}"; commands: ${Object.keys(COMMANDS).join(", ")}`);
      process.stdout.write(text);
      return 0;
    }
    const load = COMMANDS[first];
    if (load === undefined) {
      throw new UsageError(`unknown command "${first}"; commands: ${Object.keys(COMMANDS).join(", ")}`);
    }
    if (wantsHelp(rest)) {
      process.stdout.write(HELP[first]!);
      return 0;
    }
    const command = await load();
    return await command(rest);
  } catch (err) {
    return report(err);
  }
}
