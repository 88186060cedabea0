/** Every scenario group of the differential suite, in the order they run. */
import type { Group } from "../harness.js";
import { address } from "./address.js";
import { fsockopen } from "./fsockopen.js";
import { clientFlags } from "./client.js";
import { servers } from "./server.js";
import { udp } from "./udp.js";
import { stream } from "./stream.js";
import { select } from "./select.js";
import { context } from "./context.js";
import { tlsFingerprint, tlsVerify } from "./tls.js";
import { cryptoMethods } from "./crypto-method.js";
import { startTls } from "./starttls.js";
import { serverCrypto } from "./server-crypto.js";

export const groups: Group[] = [address, clientFlags, fsockopen, servers, udp, stream, select, context, tlsVerify, tlsFingerprint, cryptoMethods, startTls, serverCrypto];
