import { test } from "node:test";
import assert from "node:assert/strict";
import { domainToASCII } from "node:url";
import fc from "fast-check";
import {
  formatAddress,
  INET_TRANSPORTS,
  LOCAL_TRANSPORTS,
  parseAddress,
  type Address,
  type ParseAddressOptions,
} from "../src/address.js";
import { SocketError } from "../src/errors.js";

const NUM_RUNS = 3000;

// Generators of valid addresses, in the canonical form parseAddress produces.
const ipv4 = fc.ipV4();
const zone = fc.stringMatching(/^[A-Za-z0-9._~-]{1,15}$/);

/** An independent RFC 5952 formatter, the oracle for the parser's canonical IPv6 form. */
function rfc5952(groups: number[]): string {
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${[groups[6]! >> 8, groups[6]! & 255, groups[7]! >> 8, groups[7]! & 255].join(".")}`;
  }
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLen).join(":")}`;
}
const group = fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
const ipv6Text = fc.oneof(
  fc.array(group, { minLength: 8, maxLength: 8 }).map(rfc5952),
  fc.ipV4().map((v4) => `::ffff:${v4}`),
);
const ipv6 = fc
  .tuple(ipv6Text, fc.option(zone, { nil: undefined }))
  .map(([addr, z]) => (z === undefined ? addr : `${addr}%${z}`));
const label = fc.stringMatching(/^[a-z0-9_-]{1,20}$/).filter((l) => !l.startsWith("xn--"));
const tld = fc.stringMatching(/^[a-z][a-z0-9-]{0,9}$/).filter((l) => !l.startsWith("xn--"));
const idnLabel = fc
  .constantFrom("bücher", "münchen", "中国", "россия", "ñandú", "straße", "ελλάδα", "日本語")
  .map((l) => domainToASCII(l));
const dns = fc
  .tuple(fc.array(fc.oneof(label, idnLabel), { minLength: 0, maxLength: 4 }), tld, fc.boolean())
  .map(([labels, top, dot]) => [...labels, top].join(".") + (dot ? "." : ""));
const host = fc.oneof(ipv4, ipv6, dns, fc.domain().filter((d) => !/(^|\.)xn--/.test(d)));
// fc.record builds null-prototype objects; spread them so deepEqual compares like with like.
const inetAddress = fc
  .record({ transport: fc.constantFrom(...INET_TRANSPORTS), host, port: fc.integer({ min: 0, max: 65535 }) })
  .map((a) => ({ ...a }));
const localAddress = fc
  .record({
    transport: fc.constantFrom(...LOCAL_TRANSPORTS),
    path: fc.string({ unit: "binary", minLength: 1, maxLength: 40 }).filter((p) => !/[\p{Cc}\p{Cs}]/u.test(p)),
  })
  .map((a) => ({ ...a }));
const address: fc.Arbitrary<Address> = fc.oneof(inetAddress, localAddress);

test("parseAddress(formatAddress(a)) deep-equals a for every valid address", () => {
  fc.assert(
    fc.property(address, (a) => {
      assert.deepEqual(parseAddress(formatAddress(a)), a);
    }),
    { numRuns: NUM_RUNS },
  );
});

test("the fsockopen form agrees with the URL form", () => {
  fc.assert(
    fc.property(inetAddress, (a) => {
      const withoutPort = `${a.transport}://${a.host.includes(":") ? a.host.replace(/%(?=25)/, "%25") : a.host}`;
      assert.deepEqual(parseAddress(withoutPort, { port: a.port }), a);
    }),
    { numRuns: NUM_RUNS },
  );
});

// Strings assembled from the grammar's own pieces reach far deeper than random text.
const fragment = fc.oneof(
  fc.constantFrom(
    "tcp://", "udp://", "TLS://", "tlsv1.3://", "unix://", "udg://", "http://", "://", "tcp:",
    "[", "]", ":", "::", "%", "%25", "@", "/", "?", "#", ".", "-", "_", " ", "\0",
    "0", "1", "80", "65535", "65536", "-1", "127.0.0.1", "::1", "fe80::1", "eth0", "example", "com",
    "bücher", "ＥＸ", "xn--", "0x7f", "\u200b", "\ud800",
  ),
  fc.string({ maxLength: 3 }),
);
const grammarString = fc.array(fragment, { maxLength: 12 }).map((parts) => parts.join(""));
const target = fc.oneof(
  fc.string(),
  fc.string({ unit: "binary" }),
  fc.string({ unit: "grapheme" }),
  grammarString,
  grammarString,
  grammarString,
  fc.anything(),
);
const options = fc.oneof(
  fc.constant(undefined),
  fc.record(
    {
      port: fc.oneof(
        fc.integer({ min: -2, max: 65537 }),
        fc.double(),
        fc.constantFrom(NaN, Infinity, -0, 80.5, undefined),
        fc.anything(),
      ),
    },
    { requiredKeys: [] },
  ),
  fc.anything(),
);

test("parseAddress returns an address or throws a SocketError, nothing else", () => {
  fc.assert(
    fc.property(target, options, (t, o) => {
      let result: Address;
      try {
        result = parseAddress(t as string, o as ParseAddressOptions);
      } catch (err) {
        assert.ok(err instanceof SocketError, `threw ${String(err)}`);
        assert.equal(err.phase, "address");
        return;
      }
      // Whatever is accepted is canonicalised to a form that parses back to itself.
      assert.deepEqual(parseAddress(formatAddress(result)), result);
    }),
    { numRuns: NUM_RUNS },
  );
});
