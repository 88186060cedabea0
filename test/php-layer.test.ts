/**
 * sockurl/php against sockurl servers on loopback (no php binary here; test/php/ compares with
 * the real one): PHP's return values, errno/errstr, warnings, metadata and quirks, and the three
 * ported examples of examples/php-port/.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, X509Certificate } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { listen, type DatagramSocket, type Server, type Socket } from "../src/index.js";
import * as P from "../src/php/index.js";
import {
  ref, error_clear_last, error_get_last, php_warnings, fclose, feof, fgetc, fgets, fread, fwrite, fputs,
  stream_get_contents, stream_get_line, stream_get_meta_data, stream_select, stream_set_blocking, stream_set_timeout,
  stream_socket_accept, stream_socket_client, stream_socket_enable_crypto, stream_socket_get_name, stream_socket_pair,
  stream_socket_recvfrom, stream_socket_sendto, stream_socket_server, stream_socket_shutdown, fsockopen, pfsockopen,
  stream_context_create, stream_context_get_options, stream_context_set_option, stream_get_transports,
  type PhpStream, type SelectArray,
} from "../src/php/index.js";
import { makePki } from "./fixtures/pki.js";
import { sleep, tempDir } from "./helpers.js";

const pki = await makePki();
const tmp = tempDir();
after(() => tmp.cleanup());
const file = (name: string, text: string) => {
  const path = join(tmp.dir, name);
  writeFileSync(path, text);
  return path;
};
const CA = file("ca.pem", pki.caBundle);
const certFiles = (name: "valid" | "selfSigned" | "cnOnly" | "wrongHost" | "untrusted" | "wildcard" | "ipOnly") => ({
  local_cert: file(`${name}.crt`, pki[name].chain),
  local_pk: file(`${name}.key`, pki[name].key),
});

/** The warnings since the last call, as PHP prints them. */
function warnings(): string[] {
  const out = php_warnings().map((w) => w.message);
  error_clear_last();
  return out;
}

function must<T>(v: T | false): T {
  assert.notEqual(v, false, `unexpected false; warnings: ${JSON.stringify(php_warnings().map((w) => w.message))}`);
  return v as T;
}

/** A connected pair through the layer: client `c`, accepted `s`. */
async function pair(): Promise<{ c: PhpStream; s: PhpStream; close: () => Promise<void> }> {
  const srv = must(await stream_socket_server("tcp://127.0.0.1:0"));
  const c = must(await stream_socket_client(`tcp://${stream_socket_get_name(srv, false)}`));
  const s = must(await stream_socket_accept(srv, 2));
  return {
    c, s, close: async () => {
      for (const x of [c, s, srv]) if (!x.closed) await fclose(x);
    },
  };
}

describe("sockurl/php: targets and connection errors", () => {
  test("pre-connect failures: errno 0, PHP's errstr, one warning (getaddrinfo: two)", async () => {
    const cases: Array<[string, string, number]> = [
      ["tcp://127.0.0.1", 'Failed to parse address "127.0.0.1"', 1],
      ["127.0.0.1", 'Failed to parse address "127.0.0.1"', 1],
      ["tcp://127.0.0.1:", 'Failed to parse address "127.0.0.1:"', 1],
      ["", 'Failed to parse address ""', 1],
      ["tcp://[::1]", 'Failed to parse IPv6 address "[::1]"', 1],
      ["tcp://[::1]x", 'Failed to parse IPv6 address "[::1]x"', 1],
      ["TCP://127.0.0.1:1", 'Unable to find the socket transport "TCP" - did you forget to enable it when you configured PHP?', 1],
      ["sslv3://127.0.0.1:1", 'Unable to find the socket transport "sslv3" - did you forget to enable it when you configured PHP?', 1],
      ["abcdefghijklmnopqrstuvwxyz0123456789://h:1", 'Unable to find the socket transport "abcdefghijklmnopqrstuvwxyz01234" - did you forget to enable it when you configured PHP?', 1],
      ["tcp://::1:80", "php_network_getaddresses: getaddrinfo for  failed: Name or service not known", 2],
      ["x://127.0.0.1:1", "php_network_getaddresses: getaddrinfo for x failed: Name or service not known", 2],
      ["user@127.0.0.1:1", "php_network_getaddresses: getaddrinfo for user@127.0.0.1 failed: Name or service not known", 2],
    ];
    for (const [target, errstr, count] of cases) {
      const errno = ref(-1), message = ref("?");
      assert.equal(await stream_socket_client(target, errno, message, 2), false, target);
      assert.equal(errno.value, 0, target);
      assert.equal(message.value, errstr, target);
      const w = warnings();
      assert.equal(w.length, count, target);
      assert.equal(w.at(-1), `stream_socket_client(): Unable to connect to ${target} (${errstr})`);
      if (count === 2) assert.equal(w[0], `stream_socket_client(): ${errstr}`);
    }
  });

  test("connect failures: the OS errno and glibc's text", async () => {
    const errno = ref(0), errstr = ref("");
    for (const target of ["tcp://127.0.0.1:1", "tcp://127.0.0.1:0", "tcp://[::1]:"]) {
      assert.equal(await stream_socket_client(target, errno, errstr, 2), false);
      assert.deepEqual([errno.value, errstr.value], [111, "Connection refused"], target);
    }
    assert.equal(await stream_socket_client(`unix://${join(tmp.dir, "missing.sock")}`, errno, errstr), false);
    assert.deepEqual([errno.value, errstr.value], [2, "No such file or directory"]);
    assert.deepEqual(warnings().at(-1), `stream_socket_client(): Unable to connect to unix://${join(tmp.dir, "missing.sock")} (No such file or directory)`);
  });

  test("ports go through atoi and wrap to 16 bits; text after the port is ignored; 127.1 is an address", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    const port = (server.address as { port: number }).port;
    try {
      for (const target of [`127.0.0.1:${port}/path?q`, `tcp://127.0.0.1:${port + 65536}`, `tcp://127.1:${port}`, `tcp://[127.0.0.1]:${port}`, `127.0.0.1:${port}abc`]) {
        const fp = await stream_socket_client(target);
        assert.notEqual(fp, false, target);
        assert.equal(stream_socket_get_name(fp as PhpStream, true), `127.0.0.1:${port}`);
        await fclose(fp as PhpStream);
      }
    } finally {
      await server.close();
    }
  });

  test("fsockopen forms: host + port, port ≤ 0 uses the host string, the warning shows HOST:PORT", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    const port = (server.address as { port: number }).port;
    try {
      for (const [host, p] of [["127.0.0.1", port], [`127.0.0.1:${port}`, -1], [`tcp://127.0.0.1:${port}`, 0], ["tcp://127.0.0.1", port]] as const) {
        const errno = ref(9), errstr = ref("x");
        const fp = must(await fsockopen(host, p, errno, errstr, 2));
        assert.deepEqual([errno.value, errstr.value], [0, ""]);
        await fclose(fp);
      }
      const errno = ref(0), errstr = ref("");
      assert.equal(await fsockopen("127.0.0.1", -1, errno, errstr), false);
      assert.deepEqual(warnings(), ['fsockopen(): Unable to connect to 127.0.0.1:-1 (Failed to parse address "127.0.0.1")']);
      assert.equal(await fsockopen("::1", port, errno, errstr), false);
      assert.equal(errstr.value, "php_network_getaddresses: getaddrinfo for  failed: Name or service not known");
      warnings();
    } finally {
      await server.close();
    }
  });

  test("pfsockopen hands out the same open stream; after fclose, a new one", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    const port = (server.address as { port: number }).port;
    try {
      const a = must(await pfsockopen("127.0.0.1", port));
      const b = must(await pfsockopen("127.0.0.1", port));
      assert.equal(a, b);
      await fclose(a);
      const c = must(await pfsockopen("127.0.0.1", port));
      assert.notEqual(c, a);
      await fclose(c);
    } finally {
      await server.close();
    }
  });

  test("STREAM_CLIENT_ASYNC_CONNECT returns at once; stream_select reports writable when connected", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    try {
      const fp = must(await stream_socket_client(server.url.replace("tcp://", ""), null, null, 2, P.STREAM_CLIENT_ASYNC_CONNECT | P.STREAM_CLIENT_CONNECT));
      const w = ref<SelectArray | null>([fp]);
      assert.equal(await stream_select(null, w, null, 2), 1);
      assert.equal(await fwrite(fp, "hi"), 2);
      const peer = await server.accept();
      assert.equal((await peer.read())?.toString(), "hi");
      peer.destroy();
      await fclose(fp);
    } finally {
      await server.close();
    }
  });

  test("context socket options: bindto rules (not a string fails; a name or a failed bind warns and goes on)", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    const target = server.url;
    try {
      const errno = ref(0), errstr = ref("");
      assert.equal(await stream_socket_client(target, errno, errstr, 2, 4, stream_context_create({ socket: { bindto: 5 } })), false);
      assert.equal(errstr.value, "local_addr context option is not a string.");
      warnings();
      const named = must(await stream_socket_client(target, null, null, 2, 4, stream_context_create({ socket: { bindto: "localhost:0" } })));
      assert.deepEqual(warnings(), ["stream_socket_client(): Invalid IP Address: localhost"]);
      await fclose(named);
      const bound = must(await stream_socket_client(target, null, null, 2, 4, stream_context_create({ socket: { bindto: "127.0.0.1:0", tcp_nodelay: true } })));
      assert.match(stream_socket_get_name(bound, false) as string, /^127\.0\.0\.1:\d+$/);
      await fclose(bound);
    } finally {
      await server.close();
    }
  });
});

describe("sockurl/php: the data path", () => {
  test("fgets, fread after fgets, timeouts with timed_out, feof and PHP's returns at end of stream", async () => {
    const { c, s, close } = await pair();
    try {
      await fwrite(s, "line1\nline2\npartial");
      await sleep(30);
      assert.equal(await fgets(c), "line1\n");
      assert.equal(stream_get_meta_data(c).unread_bytes, 13);
      stream_set_timeout(c, 0, 150_000);
      // PHP copies what is buffered, then waits for more up to the timeout.
      assert.equal(await fread(c, 100), "line2\npartial");
      assert.equal(stream_get_meta_data(c).timed_out, true);
      assert.equal(await fread(c, 100), false);
      assert.equal(stream_get_meta_data(c).timed_out, true);
      assert.equal(feof(c), false);
      await fwrite(s, "abc");
      await sleep(20);
      assert.equal(await fread(c, 1), "a");
      assert.deepEqual([stream_get_meta_data(c).timed_out, stream_get_meta_data(c).unread_bytes], [false, 2]);
      assert.equal(await fread(c, 100), "bc");
      await fwrite(s, "x\ny");
      await sleep(20);
      assert.equal(await fgets(c, 1), false);
      assert.equal(await fgets(c, 2), "x");
      assert.equal(await fgets(c), "\n");
      assert.equal(await fgets(c), "y"); // the partial line, after the timeout
      assert.equal(stream_get_meta_data(c).timed_out, true);
      await fwrite(s, "z");
      assert.equal(await stream_socket_shutdown(s, P.STREAM_SHUT_WR), true);
      await sleep(20);
      assert.equal(feof(c), false);
      assert.equal(await fgets(c), "z");
      assert.equal(feof(c), true);
      assert.equal(await fgets(c), false);
      assert.equal(await fread(c, 10), "");
      assert.equal(await fgetc(c), false);
      assert.equal(await stream_get_line(c, 10), false);
      assert.equal(await stream_get_contents(c), "");
      assert.deepEqual(Object.keys(stream_get_meta_data(c)), ["timed_out", "blocked", "eof", "stream_type", "mode", "unread_bytes", "seekable"]);
      assert.deepEqual(stream_get_meta_data(c), { timed_out: false, blocked: true, eof: true, stream_type: "tcp_socket/ssl", mode: "r+", unread_bytes: 0, seekable: false });
      // Writing after our own SHUT_WR: PHP's notice and false; the other direction still works.
      assert.equal(await fwrite(s, "more"), false);
      assert.deepEqual(error_get_last(), { type: P.E_NOTICE, message: "fwrite(): Send of 4 bytes failed with errno=32 Broken pipe", file: "", line: 0 });
      assert.equal(await fputs(c, "back"), 4);
      assert.equal(await fread(s, 10), "back");
      warnings();
    } finally {
      await close();
    }
  });

  test("stream_get_line: the delimiter must lie within length; timeouts keep the data; the tail at end of stream", async () => {
    const { c, s, close } = await pair();
    try {
      await fwrite(s, "a||b||c||d");
      await sleep(20);
      assert.equal(await stream_get_line(c, 100, "||"), "a");
      assert.equal(await stream_get_line(c, 1, "||"), "b");
      assert.equal(await stream_get_line(c, 100, "||"), "");
      assert.equal(await stream_get_line(c, 2, "||"), "c|");
      stream_set_timeout(c, 0, 100_000);
      assert.equal(await stream_get_line(c, 100, "||"), false);
      assert.equal(stream_get_meta_data(c).unread_bytes, 2);
      await fwrite(s, "tail");
      await fclose(s);
      await sleep(20);
      assert.equal(await stream_get_line(c, 0, "||"), "|dtail");
      assert.equal(await stream_get_line(c, 100, "||"), false);
    } finally {
      await close();
    }
  });

  test("stream_get_contents: up to end of stream, a length, a timeout (with what came), offsets on sockets fail", async () => {
    const { c, s, close } = await pair();
    try {
      await fwrite(s, "hello");
      stream_set_timeout(c, 0, 100_000);
      assert.equal(await stream_get_contents(c), "hello");
      assert.equal(stream_get_meta_data(c).timed_out, true);
      await fwrite(s, "hello world");
      await sleep(20);
      assert.equal(await stream_get_contents(c, 3), "hel");
      assert.equal(await stream_get_contents(c, 0), "");
      assert.equal(await stream_get_contents(c, 3, 2), false);
      assert.deepEqual(warnings(), ["stream_get_contents(): Stream does not support seeking", "stream_get_contents(): Failed to seek to position 2 in the stream"]);
      await assert.rejects(stream_get_contents(c, -2), { name: "ValueError", message: "stream_get_contents(): Argument #2 ($length) must be greater than or equal to -1" });
      await fclose(s);
      assert.equal(await stream_get_contents(c), "lo world");
    } finally {
      await close();
    }
  });

  test("ValueErrors and closed resources", async () => {
    const { c, close } = await pair();
    try {
      await assert.rejects(fread(c, 0), { name: "ValueError", message: "fread(): Argument #2 ($length) must be greater than 0" });
      await assert.rejects(fgets(c, 0), { name: "ValueError", message: "fgets(): Argument #2 ($length) must be greater than 0" });
      await assert.rejects(stream_get_line(c, -1), { name: "ValueError", message: "stream_get_line(): Argument #2 ($length) must be greater than or equal to 0" });
      await assert.rejects(stream_socket_shutdown(c, 3), { name: "ValueError", message: "stream_socket_shutdown(): Argument #2 ($mode) must be one of STREAM_SHUT_RD, STREAM_SHUT_WR, or STREAM_SHUT_RDWR" });
      assert.equal(await fclose(c), true);
      await assert.rejects(fread(c, 1), { name: "TypeError", message: "fread(): supplied resource is not a valid stream resource" });
      assert.throws(() => feof(c), { name: "TypeError", message: "feof(): supplied resource is not a valid stream resource" });
    } finally {
      await close();
    }
  });

  test("non-blocking mode: reads take what is there ('' or false), partial lines come back from fgets", async () => {
    const { c, s, close } = await pair();
    try {
      assert.equal(stream_set_blocking(c, false), true);
      assert.equal(await fread(c, 10), "");
      assert.equal(await fgets(c), false);
      assert.equal(await fgetc(c), false);
      assert.equal(await stream_get_line(c, 10, "\n"), false);
      assert.equal(await stream_get_contents(c), "");
      assert.equal(stream_get_meta_data(c).blocked, false);
      await fwrite(s, "ab");
      await sleep(20);
      assert.equal(await fgets(c), "ab");
      await fwrite(s, "cd\nef");
      await sleep(20);
      assert.equal(await fgets(c), "cd\n");
      assert.equal(await fgets(c), "ef");
      await fwrite(s, "gh");
      await sleep(20);
      assert.equal(await stream_get_line(c, 10, "\n"), false);
      assert.equal(stream_get_meta_data(c).unread_bytes, 2);
    } finally {
      await close();
    }
  });

  test("fwrite lengths, binary safety (every byte value), toBinaryString, and characters that are not bytes", async () => {
    const { c, s, close } = await pair();
    try {
      assert.equal(await fwrite(c, "hello", 2), 2);
      assert.equal(await fwrite(c, "hello", 0), 0);
      assert.equal(await fwrite(c, ""), 0);
      assert.equal(await fread(s, 10), "he");
      const all = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");
      assert.equal(await fwrite(c, all), 256);
      assert.equal(await fwrite(c, new Uint8Array([0, 255, 10])), 3);
      assert.equal(await fwrite(c, P.toBinaryString("é\n")), 3);
      stream_set_timeout(s, 0, 100_000);
      const got = await stream_get_contents(s);
      assert.equal(got, `${all}\x00\xff\n\xc3\xa9\n`);
      assert.equal(P.fromBinaryString((got as string).slice(-3)), "é\n");
      await assert.rejects(fwrite(c, "€"), TypeError);
    } finally {
      await close();
    }
  });

  test("STREAM_SHUT_RD: what arrived is read, then end of stream", async () => {
    const { c, s, close } = await pair();
    try {
      await fwrite(s, "before");
      await sleep(20);
      assert.equal(await stream_socket_shutdown(c, P.STREAM_SHUT_RD), true);
      assert.equal(await fread(c, 100), "before");
      assert.equal(await fread(c, 100), "");
      assert.equal(feof(c), true);
      assert.equal(await stream_socket_shutdown(c, P.STREAM_SHUT_RDWR), true);
      assert.equal(await fread(s, 10), "");
      assert.equal(feof(s), true);
    } finally {
      await close();
    }
  });

  test("stream_socket_recvfrom on TCP bypasses PHP's buffer and can peek", async () => {
    const { c, s, close } = await pair();
    try {
      await fwrite(c, "tcpdata");
      await sleep(20);
      const address = ref<string | null>("x");
      assert.equal(await stream_socket_recvfrom(s, 3, P.STREAM_PEEK, address), "tcp");
      assert.equal(address.value, "");
      assert.equal(await stream_socket_recvfrom(s, 4), "tcpd");
      assert.equal(await fread(s, 100), "ata");
      assert.equal(await stream_socket_sendto(s, "hi", 0, "127.0.0.1:1"), 2);
      assert.equal(await fread(c, 10), "hi");
    } finally {
      await close();
    }
  });
});

describe("sockurl/php: servers, names, pairs, transports, contexts", () => {
  test("bind errors: errno 0 with the system's text; accept timeouts; the peer name", async () => {
    const srv = must(await stream_socket_server("tcp://127.0.0.1:0"));
    const name = stream_socket_get_name(srv, false) as string;
    try {
      assert.equal(stream_socket_get_name(srv, true), false);
      const errno = ref(-1), errstr = ref("");
      assert.equal(await stream_socket_server(`tcp://${name}`, errno, errstr), false);
      assert.deepEqual([errno.value, errstr.value], [0, "Address already in use"]);
      assert.deepEqual(warnings(), [`stream_socket_server(): Unable to connect to tcp://${name} (Address already in use)`]);
      assert.equal(await stream_socket_server("tcp://127.0.0.1", errno, errstr), false);
      assert.equal(errstr.value, 'Failed to parse address "127.0.0.1"');
      assert.equal(await stream_socket_server("udp://127.0.0.1:0", errno, errstr), false);
      assert.deepEqual(warnings(), [
        'stream_socket_server(): Unable to connect to tcp://127.0.0.1 (Failed to parse address "127.0.0.1")',
        "stream_socket_server(): Unable to connect to udp://127.0.0.1:0 (Unknown error)",
      ]);
      const started = performance.now();
      assert.equal(await stream_socket_accept(srv, 0.15), false);
      assert.ok(performance.now() - started >= 140);
      assert.deepEqual(warnings(), ["stream_socket_accept(): Accept failed: Connection timed out"]);
      const c = must(await stream_socket_client(`tcp://${name}`));
      const peer = ref<string | null>(null);
      const a = must(await stream_socket_accept(srv, 0, peer));
      assert.equal(peer.value, stream_socket_get_name(c, false));
      assert.equal(stream_socket_get_name(a, false), name);
      assert.equal(stream_socket_get_name(c, true), name);
      // On a connected socket PHP polls first: a timeout when nothing arrives, EINVAL when data does.
      assert.equal(await stream_socket_accept(c, 0.05), false);
      assert.deepEqual(warnings(), ["stream_socket_accept(): Accept failed: Connection timed out"]);
      await fwrite(a, "x");
      assert.equal(await stream_socket_accept(c, 1), false);
      assert.deepEqual(warnings(), ["stream_socket_accept(): Accept failed: Invalid argument"]);
      await fclose(a);
      await fclose(c);
    } finally {
      await fclose(srv);
    }
  });

  test("IPv6 names are bracketed", async () => {
    const srv = must(await stream_socket_server("tcp://[::1]:0"));
    const name = stream_socket_get_name(srv, false) as string;
    assert.match(name, /^\[::1\]:\d+$/);
    const c = must(await stream_socket_client(`tcp://${name}`));
    assert.match(stream_socket_get_name(c, false) as string, /^\[::1\]:\d+$/);
    await fclose(c);
    await fclose(srv);
  });

  test("unix sockets: names as PHP gives them, unix_socket streams", async () => {
    const path = join(tmp.dir, "u.sock");
    const srv = must(await stream_socket_server(`unix://${path}`));
    try {
      assert.deepEqual([stream_socket_get_name(srv, false), stream_socket_get_name(srv, true), stream_get_meta_data(srv).stream_type], [path, false, "unix_socket"]);
      const c = must(await stream_socket_client(`unix://${path}`));
      const a = must(await stream_socket_accept(srv, 1));
      assert.deepEqual([stream_socket_get_name(c, false), stream_socket_get_name(c, true)], [false, path]);
      assert.deepEqual([stream_socket_get_name(a, false), stream_socket_get_name(a, true)], [path, false]);
      await fwrite(c, "over unix\n");
      assert.equal(await fgets(a), "over unix\n");
      await fclose(c);
      await fclose(a);
    } finally {
      await fclose(srv);
    }
  });

  test("stream_socket_pair: generic_socket streams without names; PF_INET fails as PHP does", async () => {
    const [a, b] = must(await stream_socket_pair(P.STREAM_PF_UNIX, P.STREAM_SOCK_STREAM, 0));
    assert.equal(stream_get_meta_data(a).stream_type, "generic_socket");
    assert.deepEqual([stream_socket_get_name(a, true), stream_socket_get_name(a, false)], [false, false]);
    await fwrite(a, "ping");
    assert.equal(await fread(b, 10), "ping");
    await fwrite(b, "pong");
    assert.equal(await fread(a, 10), "pong");
    await fclose(a);
    assert.equal(await fread(b, 10), "");
    await fclose(b);
    const [x, y] = must(await stream_socket_pair(P.STREAM_PF_UNIX, P.STREAM_SOCK_DGRAM, 0));
    await fwrite(x, "d1");
    assert.equal(await fread(y, 10), "d1");
    await fwrite(y, "d2");
    assert.equal(await fread(x, 10), "d2");
    await fclose(x);
    await fclose(y);
    assert.equal(await stream_socket_pair(P.STREAM_PF_INET, P.STREAM_SOCK_STREAM, 0), false);
    assert.equal(await stream_socket_pair(99, P.STREAM_SOCK_STREAM, 0), false);
    assert.deepEqual(warnings(), [
      "stream_socket_pair(): Failed to create sockets: [95]: Operation not supported",
      "stream_socket_pair(): Failed to create sockets: [97]: Address family not supported by protocol",
    ]);
  });

  test("get_resource_type and is_resource", async () => {
    const { c, close } = await pair();
    assert.deepEqual([P.get_resource_type(c), P.is_resource(c), P.get_resource_type(stream_context_create()), P.is_resource("x")], ["stream", true, "stream-context", false]);
    await close();
    assert.deepEqual([P.get_resource_type(c), P.is_resource(c)], ["Unknown", false]);
  });

  test("stream_get_transports and the constants", () => {
    assert.deepEqual(stream_get_transports(), ["tcp", "udp", "unix", "udg", "ssl", "tls", "tlsv1.0", "tlsv1.1", "tlsv1.2", "tlsv1.3"]);
    assert.deepEqual([P.STREAM_CLIENT_CONNECT, P.STREAM_CLIENT_ASYNC_CONNECT, P.STREAM_CLIENT_PERSISTENT, P.STREAM_SERVER_BIND, P.STREAM_SERVER_LISTEN], [4, 2, 1, 4, 8]);
    assert.deepEqual([P.STREAM_CRYPTO_METHOD_ANY_CLIENT, P.STREAM_CRYPTO_METHOD_TLS_CLIENT, P.STREAM_CRYPTO_METHOD_TLS_SERVER, P.STREAM_CRYPTO_METHOD_SSLv23_CLIENT, P.STREAM_CRYPTO_METHOD_TLSv1_3_CLIENT], [127, 121, 120, 57, 65]);
    assert.deepEqual([P.STREAM_SHUT_RD, P.STREAM_SHUT_WR, P.STREAM_SHUT_RDWR, P.STREAM_PEEK, P.STREAM_OOB], [0, 1, 2, 2, 1]);
    assert.deepEqual([P.STREAM_PF_UNIX, P.STREAM_PF_INET, P.STREAM_PF_INET6, P.STREAM_SOCK_STREAM, P.STREAM_SOCK_DGRAM], [1, 2, 10, 1, 2]);
  });

  test("contexts: create, set (both forms, on a stream too), get; PHP's form error", async () => {
    const ctx = stream_context_create({ ssl: { verify_peer: false } });
    assert.equal(stream_context_set_option(ctx, "ssl", "peer_name", "a.example"), true);
    assert.equal(stream_context_set_option(ctx, { socket: { bindto: "0:0" } }), true);
    assert.deepEqual(stream_context_get_options(ctx), { ssl: { verify_peer: false, peer_name: "a.example" }, socket: { bindto: "0:0" } });
    assert.throws(() => stream_context_create({ ssl: 5 } as never), { name: "ValueError", message: 'Options should have the form ["wrappername"]["optionname"] = $value' });
    const { c, close } = await pair();
    stream_context_set_option(c, "ssl", "cafile", "x");
    assert.deepEqual(stream_context_get_options(c), { ssl: { cafile: "x" } });
    await close();
  });

  test("warnings go to a handler when one is set; error_get_last and error_clear_last", async () => {
    error_clear_last();
    const seen: string[] = [];
    const previous = P.set_error_handler((errno, errstr) => {
      seen.push(`${errno} ${errstr}`);
      return true;
    });
    assert.equal(previous, null);
    await stream_socket_client("tcp://127.0.0.1");
    assert.deepEqual(seen, ['2 stream_socket_client(): Unable to connect to tcp://127.0.0.1 (Failed to parse address "127.0.0.1")']);
    assert.equal(error_get_last(), null);
    P.restore_error_handler();
    await stream_socket_client("tcp://127.0.0.1");
    assert.equal(error_get_last()?.type, P.E_WARNING);
    error_clear_last();
    assert.equal(error_get_last(), null);
  });
});

describe("sockurl/php: udp and udg", () => {
  test("recvfrom with PEEK and truncation, sendto, timeouts, bad addresses, OOB", async () => {
    const srv = must(await stream_socket_server("udp://127.0.0.1:0", null, null, P.STREAM_SERVER_BIND));
    const name = stream_socket_get_name(srv, false) as string;
    const c = must(await stream_socket_client(`udp://${name}`));
    try {
      assert.equal(stream_get_meta_data(c).stream_type, "udp_socket");
      assert.equal(stream_socket_get_name(srv, true), false);
      assert.equal(stream_socket_get_name(c, true), name);
      assert.equal(await fwrite(c, "hello world"), 11);
      assert.equal(await fwrite(c, "second"), 6);
      await assert.rejects(stream_socket_recvfrom(srv, 0), { name: "ValueError" });
      const from = ref<string | null>(null);
      assert.equal(await stream_socket_recvfrom(srv, 5, P.STREAM_PEEK, from), "hello");
      assert.equal(from.value, stream_socket_get_name(c, false));
      assert.equal(await stream_socket_recvfrom(srv, 5, 0, from), "hello"); // the rest is lost
      assert.equal(await stream_socket_recvfrom(srv, 100, 0, from), "second");
      assert.equal(await stream_socket_sendto(srv, "reply", 0, from.value!), 5);
      assert.equal(await fread(c, 100), "reply");
      assert.equal(await stream_socket_sendto(srv, "x", 0, "nonsense"), false);
      assert.equal(await stream_socket_sendto(c, "x", P.STREAM_OOB), -1);
      assert.deepEqual(warnings(), ["stream_socket_sendto(): Failed to parse `nonsense' into a valid network address", "stream_socket_sendto(): Operation not supported\n"]);
      stream_set_timeout(srv, 0, 100_000);
      assert.equal(await fread(srv, 10), false);
      assert.deepEqual(stream_get_meta_data(srv), { timed_out: true, blocked: true, eof: false, stream_type: "udp_socket", mode: "r+", unread_bytes: 0, seekable: false });
      stream_set_blocking(srv, false);
      from.value = "x";
      assert.equal(await stream_socket_recvfrom(srv, 10, 0, from), false);
      assert.equal(from.value, null);
    } finally {
      await fclose(c);
      await fclose(srv);
    }
  });

  test("a udp client whose peer is closed: fread false, then eof (ICMP port unreachable)", async () => {
    const probe = await listen("udp://127.0.0.1:0") as DatagramSocket;
    const port = probe.local.port;
    await probe.close();
    const fp = must(await fsockopen("udp://127.0.0.1", port));
    stream_set_timeout(fp, 1);
    assert.equal(await fwrite(fp, "x"), 1);
    assert.equal(await fread(fp, 10), false);
    assert.equal(stream_get_meta_data(fp).eof, true);
    await fclose(fp);
  });

  test("udg: a bound server and a client", async () => {
    const path = join(tmp.dir, "g.sock");
    const srv = must(await stream_socket_server(`udg://${path}`, null, null, P.STREAM_SERVER_BIND));
    const c = must(await stream_socket_client(`udg://${path}`));
    assert.deepEqual([stream_socket_get_name(srv, false), stream_socket_get_name(c, false), stream_socket_get_name(c, true)], [path, false, path]);
    assert.equal(await fwrite(c, "dgram"), 5);
    const from = ref<string | null>(null);
    assert.equal(await stream_socket_recvfrom(srv, 100, 0, from), "dgram");
    assert.equal(from.value, "");
    await fclose(c);
    await fclose(srv);
  });
});

describe("sockurl/php: stream_select", () => {
  test("ValueErrors, keys kept, arrays filtered, buffered data first, servers and end of stream", async () => {
    const { c, s, close } = await pair();
    const second = await pair();
    try {
      await assert.rejects(stream_select(ref(null), ref(null), ref(null), 0), { name: "ValueError", message: "No stream arrays were passed" });
      await assert.rejects(stream_select(ref([]), ref([]), null, 0), { name: "ValueError", message: "No stream arrays were passed" });
      await assert.rejects(stream_select(ref([c]), null, null, -1), { name: "ValueError", message: "stream_select(): Argument #4 ($seconds) must be greater than or equal to 0" });
      await assert.rejects(stream_select(ref([c]), null, null, null, 5), { name: "ValueError", message: "stream_select(): Argument #5 ($microseconds) must be null when argument #4 ($seconds) is null" });
      await assert.rejects(stream_select(ref([c, "x" as never]), null, null, 0), { name: "TypeError", message: "stream_select(): supplied argument is not a valid stream resource" });
      let r = ref<SelectArray | null>({ a: c, 5: second.c });
      let w = ref<SelectArray | null>({ x: c, y: s });
      let e = ref<SelectArray | null>([c]);
      assert.equal(await stream_select(r, w, e, 0, 100_000), 2);
      assert.deepEqual([Object.keys(r.value!), Object.keys(w.value!), e.value], [[], ["x", "y"], []]);
      r = ref({ a: c, 5: second.c });
      const started = performance.now();
      assert.equal(await stream_select(r, null, null, 0, 150_000), 0);
      assert.ok(performance.now() - started >= 140);
      await fwrite(second.s, "hello\nworld");
      r = ref({ a: c, 5: second.c });
      assert.equal(await stream_select(r, null, null, 2), 1);
      assert.deepEqual(Object.keys(r.value!), ["5"]);
      assert.equal(await fgets(second.c), "hello\n");
      r = ref({ a: c, 5: second.c });
      w = ref({ x: c });
      e = ref([]);
      assert.equal(await stream_select(r, w, e, 1), 1); // buffered "world": only that stream
      assert.deepEqual([Object.keys(r.value!), w.value, e.value], [["5"], {}, []]);
      r = ref([c, c]);
      await fwrite(s, "x");
      assert.equal(await stream_select(r, null, null, 1), 1);
      assert.deepEqual(r.value, [c, c]);
      await fclose(s);
      assert.equal(await fread(c, 10), "x");
      r = ref([c]);
      assert.equal(await stream_select(r, null, null, 1), 1); // end of stream is readable
      r = ref({ 1: c });
      w = ref({ 3: c });
      assert.equal(await stream_select(r, w, null, 0), 2);
      const srv = must(await stream_socket_server("tcp://127.0.0.1:0"));
      r = ref([srv]);
      assert.equal(await stream_select(r, null, null, 0), 0);
      const client = must(await stream_socket_client(`tcp://${stream_socket_get_name(srv, false)}`));
      await sleep(20);
      r = ref([srv]);
      assert.equal(await stream_select(r, null, null, 0), 1);
      assert.notEqual(await stream_socket_accept(srv, 0), false);
      await fclose(client);
      await fclose(srv);
    } finally {
      await close();
      await second.close();
    }
  });

  test("waits for a datagram, and nothing is lost when select moves on", async () => {
    const a = must(await stream_socket_server("udp://127.0.0.1:0", null, null, P.STREAM_SERVER_BIND));
    const b = must(await stream_socket_server("udp://127.0.0.1:0", null, null, P.STREAM_SERVER_BIND));
    const sender = must(await stream_socket_client(`udp://${stream_socket_get_name(b, false)}`));
    try {
      setTimeout(() => void fwrite(sender, "late"), 50);
      const r = ref<SelectArray | null>({ a, b });
      assert.equal(await stream_select(r, null, null, 2), 1);
      assert.deepEqual(Object.keys(r.value!), ["b"]);
      assert.equal(await fread(b, 100), "late");
    } finally {
      await fclose(sender);
      await fclose(a);
      await fclose(b);
    }
  });
});

describe("sockurl/php: TLS clients (PHP's verification rules)", () => {
  let servers: Server[] = [];
  before(() => {
    servers = [];
  });
  after(async () => {
    for (const s of servers) await s.close();
  });
  /** A sockurl TLS server that greets and closes. */
  async function tlsServer(name: "valid" | "selfSigned" | "cnOnly" | "wrongHost" | "untrusted" | "wildcard" | "ipOnly", alpn?: string[]): Promise<string> {
    const server = await listen("tls://127.0.0.1:0", { tls: { cert: pki[name].chain, key: pki[name].key, ...(alpn ? { alpn } : {}) } });
    servers.push(server);
    void (async () => {
      for await (const socket of server) {
        void socket.write("hi\n").then(() => sleep(50)).then(() => socket.close()).catch(() => {});
      }
    })();
    return server.url.replace("tls://", "");
  }
  async function attempt(url: string, ssl: Record<string, unknown>): Promise<{ ok: boolean; errno: number; errstr: string; warnings: string[]; fp: PhpStream | false }> {
    error_clear_last();
    const errno = ref(-1), errstr = ref("?");
    const fp = await stream_socket_client(url, errno, errstr, 3, P.STREAM_CLIENT_CONNECT, stream_context_create({ ssl }));
    return { ok: fp !== false, errno: errno.value, errstr: errstr.value, warnings: warnings(), fp };
  }
  const failed = (url: string, first: string[]) => [...first.map((t) => `stream_socket_client(): ${t}`), "stream_socket_client(): Failed to enable crypto", `stream_socket_client(): Unable to connect to ${url} (Unknown error)`];

  test("a verified connection: crypto metadata first, then the usual keys; ssl:// and tlsv1.2://", async () => {
    const addr = await tlsServer("valid", ["http/1.1"]);
    const r = await attempt(`tls://${addr}`, { cafile: CA, alpn_protocols: "h2,http/1.1", capture_peer_cert: true, capture_peer_cert_chain: true });
    assert.deepEqual([r.ok, r.errno, r.errstr, r.warnings], [true, 0, "", []]);
    const fp = r.fp as PhpStream;
    const meta = stream_get_meta_data(fp);
    assert.deepEqual(Object.keys(meta), ["crypto", "timed_out", "blocked", "eof", "stream_type", "mode", "unread_bytes", "seekable"]);
    assert.deepEqual(meta.crypto, { protocol: "TLSv1.3", cipher_name: "TLS_AES_256_GCM_SHA384", cipher_bits: 256, cipher_version: "TLSv1.3", alpn_protocol: "http/1.1" });
    assert.equal(await fgets(fp), "hi\n");
    const captured = stream_context_get_options(fp).ssl!;
    assert.ok(captured.peer_certificate instanceof X509Certificate);
    assert.equal((captured.peer_certificate_chain as X509Certificate[]).length, 2);
    await fclose(fp);
    const v12 = await attempt(`tlsv1.2://${addr}`, { cafile: CA });
    assert.equal(stream_get_meta_data(v12.fp as PhpStream).crypto?.cipher_version, "TLSv1.2");
    assert.equal(stream_get_meta_data(v12.fp as PhpStream).crypto?.cipher_bits, 128);
    await fclose(v12.fp as PhpStream);
    const ssl = await attempt(`ssl://${addr}`, { cafile: CA, crypto_method: P.STREAM_CRYPTO_METHOD_TLSv1_2_CLIENT });
    assert.equal(stream_get_meta_data(ssl.fp as PhpStream).crypto?.protocol, "TLSv1.2");
    await fclose(ssl.fp as PhpStream);
  });

  test("chain failures look like OpenSSL's; allow_self_signed; verify_peer false", async () => {
    const untrusted = await tlsServer("untrusted");
    const verifyFailed = "SSL operation failed with code 1. OpenSSL Error messages:\nerror:0A000086:SSL routines::certificate verify failed";
    const r = await attempt(`tls://${untrusted}`, { cafile: CA });
    assert.deepEqual([r.ok, r.errno, r.errstr, r.warnings], [false, 0, "", failed(`tls://${untrusted}`, [verifyFailed])]);
    const selfSigned = await tlsServer("selfSigned");
    assert.deepEqual((await attempt(`tls://${selfSigned}`, { cafile: CA })).warnings, failed(`tls://${selfSigned}`, [verifyFailed]));
    const allowed = await attempt(`tls://${selfSigned}`, { cafile: CA, allow_self_signed: true });
    assert.equal(allowed.ok, true);
    await fclose(allowed.fp as PhpStream);
    const open = await attempt(`tls://${untrusted}`, { verify_peer: false });
    assert.equal(open.ok, true);
    await fclose(open.fp as PhpStream);
    const depth = await attempt(`tls://${await tlsServer("valid")}`, { cafile: CA, verify_depth: 0 });
    assert.equal(depth.ok, false);
    const missing = await attempt(`tls://${untrusted}`, { cafile: "/nonexistent.pem" });
    assert.deepEqual(missing.warnings, ["failed loading cafile stream: `/nonexistent.pem'", "stream_socket_client(): Failed to enable crypto", `stream_socket_client(): Unable to connect to tls://${untrusted} (Unknown error)`]);
  });

  test("names: subjectAltName first, the CN when there is no DNS subjectAltName (PHP accepts CN-only certificates)", async () => {
    const wrong = await tlsServer("wrongHost");
    assert.deepEqual((await attempt(`tls://${wrong}`, { cafile: CA })).warnings, failed(`tls://${wrong}`, ["Peer certificate subjectAltName did not match expected name `127.0.0.1'"]));
    assert.deepEqual((await attempt(`tls://${wrong}`, { verify_peer: false })).warnings.length, 3);
    const open = await attempt(`tls://${wrong}`, { verify_peer: false, verify_peer_name: false });
    assert.equal(open.ok, true);
    await fclose(open.fp as PhpStream);
    const cnOnly = await tlsServer("cnOnly");
    const cn = await attempt(`tls://${cnOnly}`, { cafile: CA, peer_name: "localhost" });
    assert.equal(cn.ok, true, cn.warnings.join("\n"));
    await fclose(cn.fp as PhpStream);
    assert.deepEqual((await attempt(`tls://${cnOnly}`, { cafile: CA, peer_name: "other" })).warnings, failed(`tls://${cnOnly}`, ["Peer certificate CN=`localhost' did not match expected CN=`other'"]));
    const wildcard = await tlsServer("wildcard");
    const one = await attempt(`tls://${wildcard}`, { cafile: CA, peer_name: "A.sockurl.test" });
    assert.equal(one.ok, true);
    await fclose(one.fp as PhpStream);
    assert.equal((await attempt(`tls://${wildcard}`, { cafile: CA, peer_name: "a.b.sockurl.test" })).ok, false);
    const ipOnly = await tlsServer("ipOnly");
    const byIp = await attempt(`tls://${ipOnly}`, { cafile: CA });
    assert.equal(byIp.ok, true);
    await fclose(byIp.fp as PhpStream);
    assert.deepEqual((await attempt(`tls://${ipOnly}`, { cafile: CA, peer_name: "localhost" })).warnings[0], "stream_socket_client(): Peer certificate CN=`127.0.0.1' did not match expected CN=`localhost'");
    warnings();
  });

  test("peer_fingerprint: md5/sha1 strings, [algo => hex] arrays, PHP's messages; a match does not skip the chain", async () => {
    const addr = await tlsServer("valid");
    const der = new X509Certificate(pki.valid.cert).raw;
    const hex = (algo: string) => createHash(algo).update(der).digest("hex");
    for (const fp of [hex("md5"), hex("sha1").toUpperCase(), { sha256: hex("sha256") }, { sha256: hex("sha256"), sha1: hex("sha1") }]) {
      const r = await attempt(`tls://${addr}`, { cafile: CA, peer_fingerprint: fp });
      assert.equal(r.ok, true, JSON.stringify(fp));
      await fclose(r.fp as PhpStream);
    }
    const cases: Array<[unknown, string[]]> = [
      ["a".repeat(32), ["peer_fingerprint match failure"]],
      [hex("sha256"), ["peer_fingerprint match failure"]],
      [5, ["Expected peer fingerprint must be a string or an array"]],
      [["x"], ["Invalid peer_fingerprint array; [algo => fingerprint] form required", "peer_fingerprint match failure"]],
      [{}, ["Invalid peer_fingerprint array; [algo => fingerprint] form required", "peer_fingerprint match failure"]],
      [{ nope: "aa" }, ["Unknown digest algorithm", "peer_fingerprint match failure"]],
    ];
    for (const [fp, first] of cases) {
      assert.deepEqual((await attempt(`tls://${addr}`, { cafile: CA, peer_fingerprint: fp })).warnings, failed(`tls://${addr}`, first), JSON.stringify(fp));
    }
    const untrusted = await tlsServer("untrusted");
    const pinned = createHash("md5").update(new X509Certificate(pki.untrusted.cert).raw).digest("hex");
    assert.match((await attempt(`tls://${untrusted}`, { cafile: CA, peer_fingerprint: pinned })).warnings[0]!, /certificate verify failed/);
  });

  test("TLS 1.0/1.1 only: a legacy hello is sent, as PHP does, and a TLS 1.2+ server refuses it", async () => {
    const addr = await tlsServer("valid");
    for (const [url, method] of [[`tls://${addr}`, P.STREAM_CRYPTO_METHOD_TLSv1_0_CLIENT | P.STREAM_CRYPTO_METHOD_TLSv1_1_CLIENT], [`tlsv1.1://${addr}`, undefined]] as const) {
      const r = await attempt(url, { cafile: CA, ...(method === undefined ? {} : { crypto_method: method }) });
      assert.equal(r.ok, false);
      assert.deepEqual(r.warnings, failed(url, ["SSL operation failed with code 1. OpenSSL Error messages:\nerror:0A00042E:SSL routines::tlsv1 alert protocol version"]));
    }
    // A mask naming no TLS version (SSLv3 only) restricts nothing.
    const any = await attempt(`ssl://${addr}`, { cafile: CA, crypto_method: P.STREAM_CRYPTO_METHOD_SSLv3_CLIENT });
    assert.equal(stream_get_meta_data(any.fp as PhpStream).crypto?.protocol, "TLSv1.3");
    await fclose(any.fp as PhpStream);
  });
});

describe("sockurl/php: stream_socket_enable_crypto", () => {
  function serverCtx(): P.PhpContext {
    return stream_context_create({ ssl: certFiles("valid") });
  }

  test("STARTTLS both ways through the layer, then PHP's answers to a second enable and to disable", async () => {
    const srv = must(await stream_socket_server("tcp://127.0.0.1:0", null, null, 12, serverCtx()));
    const serving = (async () => {
      const conn = must(await stream_socket_accept(srv, 2));
      await fwrite(conn, "220 ready\r\n");
      assert.equal(await fgets(conn), "STARTTLS\r\n");
      await fwrite(conn, "220 go ahead\r\n");
      assert.equal(await stream_socket_enable_crypto(conn, true, P.STREAM_CRYPTO_METHOD_TLS_SERVER), true);
      assert.equal(await fgets(conn), "EHLO secret\r\n");
      await fwrite(conn, "250 ok\r\n");
      await fclose(conn);
    })();
    const fp = must(await stream_socket_client(`tcp://${stream_socket_get_name(srv, false)}`));
    assert.equal(await fgets(fp), "220 ready\r\n");
    await assert.rejects(stream_socket_enable_crypto(fp, true), { name: "ValueError", message: "stream_socket_enable_crypto(): Argument #3 ($crypto_method) must be specified when enabling encryption" });
    await fwrite(fp, "STARTTLS\r\n");
    assert.equal(await fgets(fp), "220 go ahead\r\n");
    stream_context_set_option(fp, "ssl", "cafile", CA);
    stream_context_set_option(fp, "ssl", "peer_name", "localhost");
    assert.equal(await stream_socket_enable_crypto(fp, true, P.STREAM_CRYPTO_METHOD_TLS_CLIENT), true);
    assert.equal(stream_get_meta_data(fp).crypto?.protocol, "TLSv1.3");
    assert.equal(await stream_socket_enable_crypto(fp, true, P.STREAM_CRYPTO_METHOD_TLS_CLIENT), false);
    assert.deepEqual(warnings(), ["stream_socket_enable_crypto(): SSL/TLS already set-up for this stream"]);
    await fwrite(fp, "EHLO secret\r\n");
    assert.equal(await fgets(fp), "250 ok\r\n");
    assert.equal(await stream_socket_enable_crypto(fp, false), false);
    await serving;
    await fclose(fp);
    await fclose(srv);
  });

  test("a non-blocking handshake returns 0 until it is done; crypto_method from the context", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    const serving = (async () => {
      const peer: Socket = await server.accept();
      await peer.startTls({ server: true, cert: pki.valid.chain, key: pki.valid.key });
      await peer.write("secret\n");
      return peer;
    })();
    const fp = must(await stream_socket_client(server.url, null, null, 2, 4, stream_context_create({ ssl: { cafile: CA, peer_name: "localhost", crypto_method: P.STREAM_CRYPTO_METHOD_TLS_CLIENT } })));
    stream_set_blocking(fp, false);
    const answers: Array<boolean | 0> = [];
    for (let i = 0; i < 200; i++) {
      const r = await stream_socket_enable_crypto(fp, true);
      answers.push(r);
      if (r !== 0) break;
      await sleep(5);
    }
    assert.equal(answers[0], 0);
    assert.equal(answers.at(-1), true);
    stream_set_blocking(fp, true);
    assert.equal(await fgets(fp), "secret\n");
    (await serving).destroy();
    await fclose(fp);
    await server.close();
  });

  test("buffered plaintext at STARTTLS is refused with a warning (PHP would hand it to TLS)", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    const fp = must(await stream_socket_client(server.url));
    const peer = await server.accept();
    await peer.write("220 go ahead\r\n250 injected\r\n");
    assert.equal(await fgets(fp), "220 go ahead\r\n");
    stream_context_set_option(fp, "ssl", "cafile", CA);
    assert.equal(await stream_socket_enable_crypto(fp, true, P.STREAM_CRYPTO_METHOD_TLS_CLIENT), false);
    assert.match(warnings()[0]!, /^stream_socket_enable_crypto\(\): Refusing to enable crypto: unread plaintext .*CVE-2011-0411/);
    assert.equal(await fgets(fp), "250 injected\r\n");
    peer.destroy();
    await fclose(fp);
    await server.close();
  });

  test("failures: a certificate the name check refuses, a server without local_cert, streams without crypto", async () => {
    const server = await listen("tcp://127.0.0.1:0");
    const fp = must(await stream_socket_client(server.url, null, null, 2, 4, stream_context_create({ ssl: { cafile: CA, peer_name: "other.test" } })));
    const peer = await server.accept();
    const upgraded = peer.startTls({ server: true, cert: pki.valid.chain, key: pki.valid.key }).catch(() => {});
    assert.equal(await stream_socket_enable_crypto(fp, true, P.STREAM_CRYPTO_METHOD_TLS_CLIENT), false);
    assert.deepEqual(warnings(), ["stream_socket_enable_crypto(): Peer certificate subjectAltName did not match expected name `other.test'"]);
    await upgraded;
    peer.destroy();
    const plain = must(await stream_socket_client(server.url));
    const peer2 = await server.accept();
    const conn = must(await stream_socket_client(server.url));
    const peer3 = await server.accept();
    void conn;
    const accepted = new (P.PhpStream as unknown as new (init: unknown) => PhpStream)({ kind: "socket", context: stream_context_create(), streamType: "tcp_socket/ssl", transport: "tcp", socket: peer3 });
    assert.equal(await stream_socket_enable_crypto(accepted, true, P.STREAM_CRYPTO_METHOD_TLS_SERVER), false);
    assert.match(warnings()[0]!, /SSL_R_NO_SHARED_CIPHER: no suitable shared cipher could be used\. {2}This could be because the server is missing an SSL certificate \(local_cert context option\)$/);
    const udp = must(await stream_socket_client("udp://127.0.0.1:9"));
    assert.equal(await stream_socket_enable_crypto(udp, true, P.STREAM_CRYPTO_METHOD_TLS_CLIENT), false);
    assert.deepEqual(warnings(), ["stream_socket_enable_crypto(): This stream does not support SSL/crypto"]);
    for (const x of [plain, conn, udp]) await fclose(x);
    peer2.destroy();
    await server.close();
  });

  test("a server handshake that the client never starts ends at the stream timeout", async () => {
    const srv = must(await stream_socket_server("tcp://127.0.0.1:0", null, null, 12, serverCtx()));
    const fp = must(await stream_socket_client(`tcp://${stream_socket_get_name(srv, false)}`));
    const conn = must(await stream_socket_accept(srv, 2));
    stream_set_timeout(conn, 0, 200_000);
    assert.equal(await stream_socket_enable_crypto(conn, true, P.STREAM_CRYPTO_METHOD_TLS_SERVER), false);
    assert.deepEqual(warnings(), ["stream_socket_enable_crypto(): SSL: Handshake timed out"]);
    await fclose(fp);
    await fclose(srv);
  });

  test("a tls:// server through the layer accepts a tls:// client of the layer", async () => {
    const srv = must(await stream_socket_server("tls://127.0.0.1:0", null, null, 12, serverCtx()));
    const name = stream_socket_get_name(srv, false);
    const client = stream_socket_client(`tls://${name}`, null, null, 2, 4, stream_context_create({ ssl: { cafile: CA, peer_name: "localhost" } }));
    const conn = must(await stream_socket_accept(srv, 2));
    const fp = must(await client);
    assert.equal(stream_get_meta_data(conn).crypto?.protocol, "TLSv1.3");
    await fwrite(conn, "over tls\n");
    assert.equal(await fgets(fp), "over tls\n");
    await fclose(fp);
    await fclose(conn);
    await fclose(srv);
  });
});

// ------------------------------------------------------------------ the ported examples

const here = fileURLToPath(new URL(".", import.meta.url));
const examplesSource = join(here, "..", "..", "examples", "php-port");
const examplesBuilt = join(here, "..", "examples", "php-port");

/** Compiles one example (examples/ is outside the project's tsconfig) next to dist/test. */
async function example<T>(name: string): Promise<T> {
  mkdirSync(examplesBuilt, { recursive: true });
  const source = readFileSync(join(examplesSource, `${name}.ts`), "utf8");
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  const out = join(examplesBuilt, `${name}.js`);
  writeFileSync(out, outputText);
  return (await import(out)) as T;
}

describe("examples/php-port", () => {
  test("smtp-starttls.ts: EHLO, STARTTLS, EHLO over TLS, a message, QUIT", async () => {
    const { smtpSend } = await example<{ smtpSend: (h: string, p: number, f: string, t: string, m: string, ca: string) => Promise<string[]> }>("smtp-starttls");
    const server = await listen("tcp://127.0.0.1:0");
    let received = "";
    const serving = (async () => {
      const s = await server.accept();
      const say = (line: string) => s.write(`${line}\r\n`);
      await say("220 mail.test ESMTP");
      assert.equal(await s.readLine(), "EHLO client.example");
      await say("250-mail.test\r\n250-STARTTLS\r\n250 SIZE 10240000");
      assert.equal(await s.readLine(), "STARTTLS");
      await say("220 2.0.0 go ahead");
      await s.startTls({ server: true, cert: pki.valid.chain, key: pki.valid.key });
      assert.equal(await s.readLine(), "EHLO client.example");
      await say("250-mail.test\r\n250 AUTH PLAIN");
      assert.equal(await s.readLine(), "MAIL FROM:<a@example.test>");
      await say("250 2.1.0 ok");
      assert.equal(await s.readLine(), "RCPT TO:<b@example.test>");
      await say("250 2.1.5 ok");
      assert.equal(await s.readLine(), "DATA");
      await say("354 go on");
      for (let line; (line = await s.readLine()) !== "."; ) received += `${line}\n`;
      await say("250 2.0.0 queued");
      assert.equal(await s.readLine(), "QUIT");
      await say("221 bye");
      await s.close();
    })();
    try {
      const log = await smtpSend("127.0.0.1", (server.address as { port: number }).port, "a@example.test", "b@example.test", "Subject: hi\n\n.leading dot\nGrüße\n", CA);
      await serving;
      assert.deepEqual(log.slice(0, 6), ["S: 220 mail.test ESMTP", "C: EHLO client.example", "S: 250-mail.test\r\n250-STARTTLS\r\n250 SIZE 10240000", "C: STARTTLS", "S: 220 2.0.0 go ahead", "-- TLS TLSv1.3"]);
      assert.equal(log.at(-1), "S: 221 bye");
      assert.equal(received, "Subject: hi\n\n..leading dot\nGrüße\n\n");
    } finally {
      await server.close();
    }
  });

  test("whois.ts: asks, follows refer:, reads to end of stream", async () => {
    const { whois } = await example<{ whois: (d: string, s?: string, p?: number) => Promise<string> }>("whois");
    const second = await listen("tcp://127.0.0.1:0");
    const first = await listen("tcp://127.0.0.1:0");
    const answer = (server: Server, reply: (q: string) => string) => (async () => {
      const s = await server.accept();
      const q = await s.readLine();
      await s.write(reply(q ?? ""));
      await s.close();
    })();
    const a = answer(first, (q) => `% IANA WHOIS server\r\ndomain: ${q.toUpperCase()}\r\nrefer: 127.0.0.1:${(second.address as { port: number }).port}\r\n`);
    const b = answer(second, (q) => `Domain Name: ${q}\r\nRegistrar: Example Registrar\r\n`);
    try {
      const text = await whois("example.test", "127.0.0.1", (first.address as { port: number }).port);
      await Promise.all([a, b]);
      assert.equal(text, "Domain Name: example.test\r\nRegistrar: Example Registrar\r\n");
    } finally {
      await first.close();
      await second.close();
    }
  });

  test("udp-query.ts: a DNS A query and its answer, as byte strings; a timeout when nobody answers", async () => {
    const { dnsQueryA } = await example<{ dnsQueryA: (s: string, p: number, n: string, t?: number) => Promise<string[]> }>("udp-query");
    const dns = await listen("udp://127.0.0.1:0") as DatagramSocket;
    const serving = (async () => {
      const { data, remote } = await dns.receive();
      const question = data.subarray(12);
      const header = Buffer.from([data[0]!, data[1]!, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0]);
      const answer = (ip: number[]) => Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, ...ip]);
      await dns.sendTo(Buffer.concat([header, question, answer([192, 0, 2, 1]), answer([192, 0, 2, 2])]), remote);
    })();
    try {
      assert.deepEqual(await dnsQueryA("127.0.0.1", dns.local.port, "www.example.test"), ["192.0.2.1", "192.0.2.2"]);
      await serving;
      await assert.rejects(dnsQueryA("127.0.0.1", dns.local.port, "silent.example.test", 0.2), /timed out/);
    } finally {
      await dns.close();
    }
  });
});
