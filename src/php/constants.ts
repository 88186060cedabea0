/**
 * PHP's stream and socket constants, with the values PHP 8.2 has on Linux.
 */

/** stream_socket_client(): flags. */
export const STREAM_CLIENT_PERSISTENT = 1;
export const STREAM_CLIENT_ASYNC_CONNECT = 2;
export const STREAM_CLIENT_CONNECT = 4;

/** stream_socket_server(): flags. */
export const STREAM_SERVER_BIND = 4;
export const STREAM_SERVER_LISTEN = 8;

/** stream_socket_enable_crypto() methods: the low bit marks a client method. */
export const STREAM_CRYPTO_METHOD_SSLv2_CLIENT = 3;
export const STREAM_CRYPTO_METHOD_SSLv3_CLIENT = 5;
export const STREAM_CRYPTO_METHOD_SSLv23_CLIENT = 57;
export const STREAM_CRYPTO_METHOD_ANY_CLIENT = 127;
export const STREAM_CRYPTO_METHOD_TLS_CLIENT = 121;
export const STREAM_CRYPTO_METHOD_TLSv1_0_CLIENT = 9;
export const STREAM_CRYPTO_METHOD_TLSv1_1_CLIENT = 17;
export const STREAM_CRYPTO_METHOD_TLSv1_2_CLIENT = 33;
export const STREAM_CRYPTO_METHOD_TLSv1_3_CLIENT = 65;
export const STREAM_CRYPTO_METHOD_SSLv2_SERVER = 2;
export const STREAM_CRYPTO_METHOD_SSLv3_SERVER = 4;
export const STREAM_CRYPTO_METHOD_SSLv23_SERVER = 120;
export const STREAM_CRYPTO_METHOD_ANY_SERVER = 126;
export const STREAM_CRYPTO_METHOD_TLS_SERVER = 120;
export const STREAM_CRYPTO_METHOD_TLSv1_0_SERVER = 8;
export const STREAM_CRYPTO_METHOD_TLSv1_1_SERVER = 16;
export const STREAM_CRYPTO_METHOD_TLSv1_2_SERVER = 32;
export const STREAM_CRYPTO_METHOD_TLSv1_3_SERVER = 64;

/** Protocol bits (the `crypto_method` masks without the client bit). */
export const STREAM_CRYPTO_PROTO_SSLv3 = 4;
export const STREAM_CRYPTO_PROTO_TLSv1_0 = 8;
export const STREAM_CRYPTO_PROTO_TLSv1_1 = 16;
export const STREAM_CRYPTO_PROTO_TLSv1_2 = 32;
export const STREAM_CRYPTO_PROTO_TLSv1_3 = 64;

/** stream_socket_shutdown() modes. */
export const STREAM_SHUT_RD = 0;
export const STREAM_SHUT_WR = 1;
export const STREAM_SHUT_RDWR = 2;

/** stream_socket_recvfrom() / stream_socket_sendto() flags. */
export const STREAM_OOB = 1;
export const STREAM_PEEK = 2;

/** stream_socket_pair() domains, types and protocols (Linux values). */
export const STREAM_PF_UNIX = 1;
export const STREAM_PF_INET = 2;
export const STREAM_PF_INET6 = 10;
export const STREAM_SOCK_STREAM = 1;
export const STREAM_SOCK_DGRAM = 2;
export const STREAM_SOCK_RAW = 3;
export const STREAM_SOCK_RDM = 4;
export const STREAM_SOCK_SEQPACKET = 5;
export const STREAM_IPPROTO_IP = 0;
export const STREAM_IPPROTO_TCP = 6;
export const STREAM_IPPROTO_UDP = 17;
export const STREAM_IPPROTO_ICMP = 1;
export const STREAM_IPPROTO_RAW = 255;

/** Error levels, as error_get_last() reports them. */
export const E_ERROR = 1;
export const E_WARNING = 2;
export const E_NOTICE = 8;
export const E_DEPRECATED = 8192;
