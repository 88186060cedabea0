/**
 * Crypto methods: the tlsv1.x:// transports, `crypto_method` masks and spans, and the constants.
 */
import type { Env } from "../servers.js";
import type { Group, Scenario, Twin } from "../harness.js";
import { client } from "./common.js";

const PHP_CONNECT = `
function connect_with(string $url, array $ssl) {
    $fp = client($url, 2, stream_context_create(['ssl' => $ssl + ['cafile' => $GLOBALS['E']['pki']['ca']]]));
    if ($fp !== false) rec('protocol', stream_get_meta_data($fp)['crypto']['protocol']);
    return $fp;
}
`;

async function connectWith(t: Twin, url: string, ssl: Record<string, unknown>): Promise<unknown> {
  const fp = await client(t, url, 2, t.php.stream_context_create({ ssl: { cafile: t.env.pki.ca, ...ssl } }));
  if (fp !== false) t.rec("protocol", (t.php.stream_get_meta_data(fp) as { crypto: { protocol: unknown } }).crypto.protocol);
  return fp;
}

/** A case: scheme, server, and `crypto_method` given as PHP constant names (joined with |). */
function method(name: string, scheme: string, server: keyof Env["tls"], constants: string[] = []): Scenario {
  const phpSsl = constants.length ? `['crypto_method' => ${constants.join(" | ")}]` : "[]";
  return {
    name,
    php: PHP_CONNECT + `connect_with("${scheme}://127.0.0.1:{$E['tls']['${server}']}", ${phpSsl});`,
    async ts(t) {
      const ssl: Record<string, unknown> = {};
      if (constants.length) ssl.crypto_method = constants.reduce((m, c) => m | (t.php[c] as number), 0);
      await connectWith(t, `${scheme}://127.0.0.1:${t.env.tls[server]}`, ssl);
    },
  };
}

export const cryptoMethods: Group = {
  name: "crypto-method",
  scenarios: [
    method("ssl:// negotiates the best version", "ssl", "valid"),
    method("tls:// against a TLS 1.2-only server", "tls", "tls12"),
    method("tlsv1.2:// pins 1.2", "tlsv1.2", "valid"),
    method("tlsv1.3:// pins 1.3", "tlsv1.3", "valid"),
    method("tlsv1.3:// against a TLS 1.2-only server", "tlsv1.3", "tls12"),
    method("tlsv1.2:// against a TLS 1.3-only server", "tlsv1.2", "tls13"),
    method("tlsv1.0:// against a TLS 1.2+ server", "tlsv1.0", "valid"),
    method("tlsv1.1:// against a TLS 1.2+ server", "tlsv1.1", "valid"),
    method("tlsv1.2:// ignores crypto_method", "tlsv1.2", "valid", ["STREAM_CRYPTO_METHOD_TLSv1_3_CLIENT"]),
    method("tls:// with crypto_method TLSv1_2_CLIENT", "tls", "valid", ["STREAM_CRYPTO_METHOD_TLSv1_2_CLIENT"]),
    method("ssl:// with crypto_method TLSv1_2 | TLSv1_3", "ssl", "valid", ["STREAM_CRYPTO_METHOD_TLSv1_2_CLIENT", "STREAM_CRYPTO_METHOD_TLSv1_3_CLIENT"]),
    method("ssl:// with crypto_method TLSv1_0 | TLSv1_1", "ssl", "valid", ["STREAM_CRYPTO_METHOD_TLSv1_0_CLIENT", "STREAM_CRYPTO_METHOD_TLSv1_1_CLIENT"]),
    method("ssl:// with crypto_method ANY_CLIENT", "ssl", "valid", ["STREAM_CRYPTO_METHOD_ANY_CLIENT"]),
    method("ssl:// with crypto_method TLSv1_3 against TLS 1.2 only", "ssl", "tls12", ["STREAM_CRYPTO_METHOD_TLSv1_3_CLIENT"]),
    method("ssl:// with crypto_method SSLv3_CLIENT only", "ssl", "valid", ["STREAM_CRYPTO_METHOD_SSLv3_CLIENT"]),
    method("ssl:// with crypto_method TLSv1_1 | TLSv1_3 (a span)", "ssl", "tls12", ["STREAM_CRYPTO_METHOD_TLSv1_1_CLIENT", "STREAM_CRYPTO_METHOD_TLSv1_3_CLIENT"]),
    {
      name: "constants",
      php: `
        foreach (['STREAM_CRYPTO_METHOD_ANY_CLIENT', 'STREAM_CRYPTO_METHOD_TLS_CLIENT', 'STREAM_CRYPTO_METHOD_SSLv23_CLIENT', 'STREAM_CRYPTO_METHOD_TLSv1_3_SERVER',
                  'STREAM_CRYPTO_METHOD_TLS_SERVER', 'STREAM_CRYPTO_PROTO_TLSv1_3', 'STREAM_SHUT_RDWR', 'STREAM_PEEK', 'STREAM_OOB', 'STREAM_PF_UNIX',
                  'STREAM_PF_INET', 'STREAM_PF_INET6', 'STREAM_SOCK_STREAM', 'STREAM_SOCK_DGRAM', 'STREAM_IPPROTO_IP', 'STREAM_CLIENT_ASYNC_CONNECT',
                  'STREAM_SERVER_LISTEN'] as $c) rec($c, constant($c));`,
      async ts(t) {
        for (const c of ["STREAM_CRYPTO_METHOD_ANY_CLIENT", "STREAM_CRYPTO_METHOD_TLS_CLIENT", "STREAM_CRYPTO_METHOD_SSLv23_CLIENT", "STREAM_CRYPTO_METHOD_TLSv1_3_SERVER",
          "STREAM_CRYPTO_METHOD_TLS_SERVER", "STREAM_CRYPTO_PROTO_TLSv1_3", "STREAM_SHUT_RDWR", "STREAM_PEEK", "STREAM_OOB", "STREAM_PF_UNIX",
          "STREAM_PF_INET", "STREAM_PF_INET6", "STREAM_SOCK_STREAM", "STREAM_SOCK_DGRAM", "STREAM_IPPROTO_IP", "STREAM_CLIENT_ASYNC_CONNECT",
          "STREAM_SERVER_LISTEN"]) {
          t.rec(c, t.php[c]);
        }
      },
    },
  ],
};
