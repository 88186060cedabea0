/**
 * stream_select(): argument errors, readiness of sockets, servers and datagrams, keys preserved,
 * timeouts, and PHP's shortcut for data already in a stream's read buffer.
 */
import type { Group, Twin } from "../harness.js";
import { client, sleep } from "./common.js";

/** Opens n line-server connections (not recorded). */
async function lines(t: Twin, n: number): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) out.push(await t.php.stream_socket_client(`tcp://127.0.0.1:${t.env.line}`, t.php.ref(0), t.php.ref(""), 2));
  return out;
}

const PHP_LINES = `
function lines($n) { global $E; $out = []; for ($i = 0; $i < $n; $i++) $out[] = stream_socket_client("tcp://127.0.0.1:{$E['line']}", $no, $str, 2); return $out; }
/** Which of $streams the (filtered) array holds, as key => index. */
function which($arr, $streams) { if ($arr === null) return null; $o = []; foreach ($arr as $k => $s) $o[$k] = array_search($s, $streams, true); return $o; }
`;

/** The TS twin of which(): key → index of the stream in `streams`. */
function which(arr: unknown, streams: unknown[]): unknown {
  if (arr === null || arr === undefined) return null;
  const entries: [string, unknown][] = Array.isArray(arr)
    ? Object.keys(arr).map((k) => [k, (arr as unknown[])[Number(k)]])
    : arr instanceof Map
      ? [...arr.entries()].map(([k, v]) => [String(k), v])
      : Object.entries(arr as Record<string, unknown>);
  const out = new Map<string, unknown>();
  for (const [k, s] of entries) {
    const i = streams.indexOf(s);
    out.set(k, i < 0 ? false : i);
  }
  // A list stays a list (as in PHP, where an array with keys 0..n-1 in order is a list).
  const keys = [...out.keys()];
  if (keys.every((k, i) => k === String(i))) return [...out.values()];
  return out;
}

export const select: Group = {
  name: "select",
  scenarios: [
    {
      name: "no arrays: ValueError",
      php: `$r = null; $w = null; $e = null; attempt('select', fn () => stream_select($r, $w, $e, 0));`,
      async ts(t) {
        const r = t.php.ref(null);
        const w = t.php.ref(null);
        const e = t.php.ref(null);
        await t.attempt("select", () => t.php.stream_select(r, w, e, 0));
      },
    },
    {
      name: "negative seconds and microseconds: ValueError",
      php: PHP_LINES + `
        [$a] = lines(1);
        $r = [$a]; $w = null; $e = null;
        attempt('seconds', fn () => stream_select($r, $w, $e, -1));
        attempt('microseconds', fn () => stream_select($r, $w, $e, 0, -1));`,
      async ts(t) {
        const [a] = await lines(t, 1);
        const r = t.php.ref([a]);
        const w = t.php.ref(null);
        const e = t.php.ref(null);
        await t.attempt("seconds", () => t.php.stream_select(r, w, e, -1));
        await t.attempt("microseconds", () => t.php.stream_select(r, w, e, 0, -1));
      },
    },
    {
      name: "nothing ready: 0 after the timeout, the array emptied",
      php: PHP_LINES + `
        $s = lines(2);
        $r = ['x' => $s[0], 5 => $s[1]]; $w = null; $e = null;
        $t0 = microtime(true);
        rec('select', stream_select($r, $w, $e, 0, 150000));
        $dt = microtime(true) - $t0;
        rec('waited', $dt >= 0.14 && $dt < 10);
        rec('read', which($r, $s));`,
      async ts(t) {
        const s = await lines(t, 2);
        const r = t.php.ref({ x: s[0], 5: s[1] });
        const w = t.php.ref(null);
        const e = t.php.ref(null);
        const t0 = performance.now();
        t.rec("select", await t.php.stream_select(r, w, e, 0, 150000));
        const dt = (performance.now() - t0) / 1000;
        t.rec("waited", dt >= 0.14 && dt < 10);
        t.rec("read", which(r.value, s));
      },
    },
    {
      name: "one readable stream among three, keys preserved",
      php: PHP_LINES + `
        $s = lines(3);
        fwrite($s[2], "ECHO ready\\n");
        usleep(100000);
        $r = ['first' => $s[0], 7 => $s[1], 'third' => $s[2]]; $w = null; $e = null;
        rec('select', stream_select($r, $w, $e, 1));
        rec('read', which($r, $s));
        rec('fgets', fgets($s[2]));`,
      async ts(t) {
        const s = await lines(t, 3);
        await t.php.fwrite(s[2], "ECHO ready\n");
        await sleep(100);
        const r = t.php.ref({ first: s[0], 7: s[1], third: s[2] });
        const w = t.php.ref(null);
        const e = t.php.ref(null);
        t.rec("select", await t.php.stream_select(r, w, e, 1));
        t.rec("read", which(r.value, s));
        t.rec("fgets", await t.php.fgets(s[2]));
      },
    },
    {
      name: "waits for data that arrives later",
      php: PHP_LINES + `
        $s = lines(2);
        fwrite($s[1], "SLEEP 150\\n");
        $r = [$s[0], $s[1]]; $w = null; $e = null;
        $t0 = microtime(true);
        rec('select', stream_select($r, $w, $e, 30));
        $dt = microtime(true) - $t0;
        rec('waited', $dt >= 0.1 && $dt < 10);
        rec('read', which($r, $s));`,
      async ts(t) {
        const s = await lines(t, 2);
        await t.php.fwrite(s[1], "SLEEP 150\n");
        const r = t.php.ref([s[0], s[1]]);
        const w = t.php.ref(null);
        const e = t.php.ref(null);
        const t0 = performance.now();
        t.rec("select", await t.php.stream_select(r, w, e, 30));
        const dt = (performance.now() - t0) / 1000;
        t.rec("waited", dt >= 0.1 && dt < 10);
        t.rec("read", which(r.value, s));
      },
    },
    {
      name: "every connected stream is writable; except stays empty",
      php: PHP_LINES + `
        $s = lines(2);
        $r = null; $w = ['w1' => $s[0], 'w2' => $s[1]]; $e = [$s[0], $s[1]];
        rec('select', stream_select($r, $w, $e, 1));
        rec('write', which($w, $s));
        rec('except', which($e, $s));`,
      async ts(t) {
        const s = await lines(t, 2);
        const r = t.php.ref(null);
        const w = t.php.ref({ w1: s[0], w2: s[1] });
        const e = t.php.ref([s[0], s[1]]);
        t.rec("select", await t.php.stream_select(r, w, e, 1));
        t.rec("write", which(w.value, s));
        t.rec("except", which(e.value, s));
      },
    },
    {
      name: "buffered data answers at once and empties the other arrays",
      php: PHP_LINES + `
        $s = lines(2);
        fwrite($s[0], "TWO\\n");
        rec('fgets', fgets($s[0]));
        $r = [$s[0], $s[1]]; $w = [$s[1]]; $e = [$s[1]];
        rec('select', stream_select($r, $w, $e, 1));
        rec('read', which($r, $s));
        rec('write', which($w, $s));
        rec('except', which($e, $s));`,
      async ts(t) {
        const s = await lines(t, 2);
        await t.php.fwrite(s[0], "TWO\n");
        t.rec("fgets", await t.php.fgets(s[0]));
        const r = t.php.ref([s[0], s[1]]);
        const w = t.php.ref([s[1]]);
        const e = t.php.ref([s[1]]);
        t.rec("select", await t.php.stream_select(r, w, e, 1));
        t.rec("read", which(r.value, s));
        t.rec("write", which(w.value, s));
        t.rec("except", which(e.value, s));
      },
    },
    {
      name: "a listening socket is readable when a client waits",
      php: `
        $srv = stream_socket_server('tcp://127.0.0.1:0');
        $r = [$srv]; $w = null; $e = null;
        rec('before', stream_select($r, $w, $e, 0));
        $c = stream_socket_client('tcp://' . stream_socket_get_name($srv, false));
        $r = ['srv' => $srv]; $w = null; $e = null;
        rec('after', stream_select($r, $w, $e, 1));
        rec('read keys', array_keys($r));`,
      async ts(t) {
        const srv = await t.php.stream_socket_server("tcp://127.0.0.1:0", t.php.ref(0), t.php.ref(""));
        let r = t.php.ref([srv]);
        const w = t.php.ref(null);
        const e = t.php.ref(null);
        t.rec("before", await t.php.stream_select(r, w, e, 0));
        await t.php.stream_socket_client(`tcp://${t.php.stream_socket_get_name(srv, false)}`, t.php.ref(0), t.php.ref(""));
        r = t.php.ref({ srv });
        t.rec("after", await t.php.stream_select(r, t.php.ref(null), t.php.ref(null), 1));
        const v = r.value as object;
        t.rec("read keys", v instanceof Map ? [...v.keys()] : Object.keys(v));
      },
    },
    {
      name: "a udp socket is readable when a datagram waits",
      php: `
        $c = client("udp://127.0.0.1:{$E['udp']}");
        $r = [$c]; $w = null; $e = null;
        rec('before', stream_select($r, $w, $e, 0));
        fwrite($c, "dgram");
        $r = [$c];
        rec('after', stream_select($r, $w, $e, 1));
        rec('read', count($r));
        rec('recvfrom', stream_socket_recvfrom($c, 100));`,
      async ts(t) {
        const c = await client(t, `udp://127.0.0.1:${t.env.udp}`);
        let r = t.php.ref([c]);
        const w = t.php.ref(null);
        const e = t.php.ref(null);
        t.rec("before", await t.php.stream_select(r, w, e, 0));
        await t.php.fwrite(c, "dgram");
        r = t.php.ref([c]);
        t.rec("after", await t.php.stream_select(r, w, e, 1));
        t.rec("read", Array.isArray(r.value) ? r.value.filter(() => true).length : Object.keys(r.value).length);
        t.rec("recvfrom", await t.php.stream_socket_recvfrom(c, 100));
      },
    },
    {
      name: "a stream whose peer closed is readable (EOF)",
      php: `
        $c = client("tcp://127.0.0.1:{$E['line']}");
        fwrite($c, "CLOSE\\n");
        $r = [$c]; $w = null; $e = null;
        rec('select', stream_select($r, $w, $e, 1));
        rec('fread', fread($c, 10));
        rec('feof', feof($c));`,
      async ts(t) {
        const c = await client(t, `tcp://127.0.0.1:${t.env.line}`);
        await t.php.fwrite(c, "CLOSE\n");
        const r = t.php.ref([c]);
        t.rec("select", await t.php.stream_select(r, t.php.ref(null), t.php.ref(null), 1));
        t.rec("fread", await t.php.fread(c, 10));
        t.rec("feof", t.php.feof(c));
      },
    },
  ],
};
