/**
 * Flags: parsing with node:util parseArgs (mistakes become UsageErrors), and the mapping
 * from flags to the library's options.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { parseAddress, type Address } from "../address.js";
import { STARTTLS_PROTOCOLS, type StartTlsProtocol } from "../starttls/types.js";
import type { TlsOptions } from "../tls-options.js";
import { UsageError } from "./errors.js";

type Spec = NonNullable<ParseArgsConfig["options"]>;
type Parsed<O extends Spec> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>>;

/** Flags every subcommand has. */
export const COMMON_FLAGS = {
  help: { type: "boolean", short: "h" },
} as const satisfies Spec;

/** Flags that become TLS options (connect, probe). */
export const TLS_FLAGS = {
  ca: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  servername: { type: "string" },
  alpn: { type: "string" },
  fingerprint: { type: "string" },
} as const satisfies Spec;

/** Connect deadline when --timeout is not given. */
export const DEFAULT_TIMEOUT = 10_000;

/**
 * Parses `argv` against `options`; an unknown flag or a missing value is a UsageError.
 *
 * @example
 * ```ts
 * const { values, positionals } = parseFlags("connect", argv, { verbose: { type: "boolean", short: "v" } });
 * ```
 */
export function parseFlags<O extends Spec>(command: string, argv: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args: joinNegativeValues(argv, options), options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(parseArgsMessage(err), command);
  }
}

/**
 * `--timeout -1` as `--timeout=-1`: parseArgs takes a value that starts with a dash for a flag
 * and reports the option as taking no value, which hides the real mistake (a negative number).
 * Joined, the value reaches the flag's own check and its message.
 */
function joinNegativeValues(argv: string[], options: Spec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const name = arg.startsWith("--") ? arg.slice(2)
      : /^-[^-]$/.test(arg) ? Object.keys(options).find((k) => options[k]!.short === arg[1]) : undefined;
    const next = argv[i + 1];
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && /^-\d/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

function parseArgsMessage(err: unknown): string {
  const { code, message } = err as { code?: string; message: string };
  const quoted = /'([^']+)'/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && quoted) return `unknown option ${quoted.split(" ")[0]}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && quoted) {
    const flag = quoted.split(" ")[0]!;
    return /argument missing/.test(message) ? `${flag} needs a value` : `${flag} takes no value`;
  }
  return message.split(". ")[0]!;
}

/** The single URL argument, parsed (address errors are the library's SocketErrors). */
export function oneUrl(command: string, positionals: string[]): { url: string; address: Address } {
  if (positionals.length === 0) throw new UsageError(`${command} needs a URL, e.g. sockurl ${command} tcp://127.0.0.1:8080`, command);
  if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}" (${command} takes one URL)`, command);
  const url = positionals[0]!;
  return { url, address: parseAddress(url) };
}

/** `--timeout MS`: a whole number of milliseconds, 0 for none. */
export function timeoutFlag(command: string, value: string | undefined, fallback = DEFAULT_TIMEOUT): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > 2 ** 31 - 1) {
    throw new UsageError(`--timeout must be a whole number of milliseconds from 0 (no limit) to ${2 ** 31 - 1}; "${value}" is not a valid number of milliseconds`, command);
  }
  return Number(value);
}

/** `--starttls PROTO`: one of the protocols the library negotiates. */
export function starttlsFlag(command: string, value: string | undefined): StartTlsProtocol | undefined {
  if (value === undefined) return undefined;
  const name = value.toLowerCase();
  if (!(STARTTLS_PROTOCOLS as readonly string[]).includes(name)) {
    throw new UsageError(`unknown --starttls protocol "${value}"; known: ${STARTTLS_PROTOCOLS.join(", ")}`, command);
  }
  return name as StartTlsProtocol;
}

/** True for tls://, ssl:// and tlsv1.x://. */
export function isTlsTransport(transport: string): boolean {
  return transport === "tls" || transport === "ssl" || transport.startsWith("tlsv1.");
}

/** The version range a tlsv1.x:// transport pins, for upgrades done with startTls(). */
export function pinnedVersions(transport: string): Pick<TlsOptions, "minVersion" | "maxVersion"> {
  const pin = ({ "tlsv1.0": "TLSv1", "tlsv1.1": "TLSv1.1", "tlsv1.2": "TLSv1.2", "tlsv1.3": "TLSv1.3" } as const)[transport as "tlsv1.2"];
  return pin === undefined ? {} : { minVersion: pin, maxVersion: pin };
}

interface TlsFlagValues {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  servername?: string | undefined;
  alpn?: string | undefined;
  fingerprint?: string | undefined;
  insecure?: boolean | undefined;
}

/**
 * TLS options from --ca, --cert, --key, --servername, --alpn, --fingerprint and --insecure,
 * or undefined when none was given. TLS flags on a plaintext URL without --starttls are a UsageError.
 */
export function tlsOptionsFromFlags(command: string, v: TlsFlagValues, address: Address, starttls: boolean): TlsOptions | undefined {
  const given = (["ca", "cert", "key", "servername", "alpn", "fingerprint", "insecure"] as const).filter((k) => v[k] !== undefined && v[k] !== false);
  if (given.length === 0) return undefined;
  if (!isTlsTransport(address.transport) && !starttls) {
    throw new UsageError(`--${given[0]} is for TLS: use a tls:// URL, or add --starttls PROTO`, command);
  }
  if (v.key !== undefined && v.cert === undefined) throw new UsageError("--key needs --cert (the client certificate)", command);
  const alpn = v.alpn?.split(",").map((p) => p.trim()).filter((p) => p !== "");
  if (alpn !== undefined && alpn.length === 0) throw new UsageError(`--alpn takes protocol names separated by commas, e.g. --alpn h2,http/1.1`, command);
  if (v.fingerprint !== undefined && !/^([0-9a-f]{2}:?)+$/i.test(v.fingerprint.trim())) {
    throw new UsageError(`--fingerprint takes the certificate's hex digest (sha256, sha1 or md5; colons optional), got "${v.fingerprint}"`, command);
  }
  return {
    ...(v.ca === undefined ? {} : { caFile: v.ca }),
    ...(v.cert === undefined ? {} : { certFile: v.cert, keyFile: v.key ?? v.cert }),
    ...(v.servername === undefined ? {} : { peerName: v.servername }),
    ...(alpn === undefined ? {} : { alpn }),
    ...(v.fingerprint === undefined ? {} : { fingerprint: v.fingerprint.trim() }),
    ...(v.insecure ? { verifyPeer: false, verifyPeerName: false } : {}),
  };
}
