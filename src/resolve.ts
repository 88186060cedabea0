/**
 * Name resolution and Happy Eyeballs (RFC 8305): addresses of both families are
 * interleaved and dialled in staggered, overlapping attempts; the first to connect wins.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { socketError, toSocketError } from "./errors.js";
import type { Lookup, LookupAddress } from "./options.js";

/** RFC 8305 §8 recommends 250 ms between connection attempts. */
export const DEFAULT_ATTEMPT_DELAY = 250;

const systemLookup: Lookup = async (hostname, { family }) => {
  const found = await dnsLookup(hostname, { all: true, family, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/**
 * The addresses for `host`: an IP literal as is, a name through `lookup` (default: the
 * system resolver), filtered to `family` when one is asked for, and ordered by RFC 8305 §4.
 *
 * @example
 * ```ts
 * await resolveHost("localhost", { family: 0 }, "tcp://localhost:80");
 * // [{ address: "::1", family: 6 }, { address: "127.0.0.1", family: 4 }]
 * ```
 */
export async function resolveHost(
  host: string,
  options: { family?: 0 | 4 | 6 | undefined; lookup?: Lookup | undefined },
  url: string,
): Promise<LookupAddress[]> {
  const family = options.family ?? 0;
  const literal = literalAddress(host, family, url);
  if (literal !== null) return literal;
  let found: readonly LookupAddress[];
  try {
    found = await (options.lookup ?? systemLookup)(host, { family });
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === "string" && code !== "") throw toSocketError(err, "resolve", url);
    // A custom resolver that failed without saying how: a resolver failure, not a socket state.
    const text = err instanceof Error ? err.message : String(err);
    throw socketError("EAI_FAIL", "resolve", url, `the resolver failed for ${host}: ${text}`, { cause: err });
  }
  const usable = Array.isArray(found)
    ? found.filter((a) => isIP(a?.address) !== 0 && (family === 0 || isIP(a.address) === family))
    : [];
  if (usable.length === 0) {
    throw socketError("ENOTFOUND", "resolve", url, `host not found: no ${family ? `IPv${family} ` : ""}address for ${host}`);
  }
  return interleaveFamilies(usable.map((a) => ({ address: a.address, family: isIP(a.address) as 4 | 6 })));
}

/**
 * The address of an IP literal, without a resolver round trip; null for a name.
 *
 * @example
 * ```ts
 * literalAddress("::1", 0, url); // [{ address: "::1", family: 6 }]
 * ```
 */
export function literalAddress(host: string, family: 0 | 4 | 6, url: string): LookupAddress[] | null {
  const literal = isIP(host);
  if (literal === 0) return null;
  if (family !== 0 && family !== literal) {
    throw socketError("EAFNOSUPPORT", "resolve", url, `${host} is not an IPv${family} address`);
  }
  return [{ address: host, family: literal as 4 | 6 }];
}

/**
 * Alternates address families, starting with the family of the first address (RFC 8305 §4),
 * so a broken family costs one attempt delay, not one timeout per address.
 *
 * @example
 * ```ts
 * interleaveFamilies([v6a, v6b, v4a]); // [v6a, v4a, v6b]
 * ```
 */
export function interleaveFamilies(addresses: LookupAddress[]): LookupAddress[] {
  if (addresses.length < 2) return addresses;
  const first = addresses[0]!.family;
  const same = addresses.filter((a) => a.family === first);
  const other = addresses.filter((a) => a.family !== first);
  const out: LookupAddress[] = [];
  for (let i = 0; i < Math.max(same.length, other.length); i++) {
    if (i < same.length) out.push(same[i]!);
    if (i < other.length) out.push(other[i]!);
  }
  return out;
}

/** One connection attempt: its outcome and a way to abandon it. */
export interface Attempt<T> {
  promise: Promise<T>;
  cancel(): void;
}

/** Why one address failed, kept for the final error's `cause`. */
export interface AttemptFailure {
  address: LookupAddress;
  error: unknown;
}

/**
 * Starts `dial(addresses[0])`, then the next address every `delay` ms or as soon as the
 * running attempts have all failed, leaving earlier attempts running. The first success
 * wins; the others are cancelled, and a late winner is handed to `discard`.
 * Rejects with the list of failures when every attempt failed.
 *
 * @example
 * ```ts
 * const race = happyEyeballs(addresses, (a) => dialTcp(a, 443), 250, (s) => s.destroy());
 * const socket = await race.promise;
 * ```
 */
export function happyEyeballs<T>(
  addresses: readonly LookupAddress[],
  dial: (address: LookupAddress) => Attempt<T>,
  delay: number,
  discard: (loser: T) => void,
): Attempt<T> & { failures: AttemptFailure[] } {
  const failures: AttemptFailure[] = [];
  const running = new Set<Attempt<T>>();
  let next = 0;
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  let resolveRace!: (value: T) => void;
  let rejectRace!: (failures: AttemptFailure[]) => void;
  const promise = new Promise<T>((resolve, reject) => {
    resolveRace = resolve;
    rejectRace = reject;
  });

  const stopAll = (): void => {
    settled = true;
    clearTimeout(timer);
    for (const a of running) a.cancel();
    running.clear();
  };

  const startNext = (): void => {
    clearTimeout(timer);
    if (settled || next >= addresses.length) return;
    const address = addresses[next++]!;
    const attempt = dial(address);
    running.add(attempt);
    attempt.promise.then(
      (value) => {
        running.delete(attempt);
        if (settled) return discard(value);
        stopAll();
        resolveRace(value);
      },
      (error: unknown) => {
        running.delete(attempt);
        if (settled) return;
        failures.push({ address, error });
        if (next < addresses.length) startNext();
        else if (running.size === 0) {
          settled = true;
          rejectRace(failures);
        }
      },
    );
    if (next < addresses.length) timer = setTimeout(startNext, delay);
  };

  if (addresses.length === 0) {
    settled = true;
    rejectRace(failures);
  } else {
    startNext();
  }
  return { promise, cancel: stopAll, failures };
}
