/**
 * url-parse-linear: the time side of the test "URL parse work is linear"
 * (test/stress/fuzz-url.test.ts, which counts the parser's work instead). parseAddress runs
 * on each adversarial shape of test/stress/util-work.ts; one run parses the same number of
 * characters either way. Unit: characters parsed per second.
 *
 * sockurl column: each shape once at 1,000,000 characters.
 * baseline column: each shape ten times at 100,000 characters.
 *
 * The ratio (1M ÷ 100k) is 1 for a parser whose time grows linearly; a superlinear shape
 * makes it fall well below 1. No bar: it is a timing on a possibly busy machine, reported so a
 * reader can see it, while the test asserts the counted work.
 */
import { parseAddress, SocketError } from "../src/index.js";
import { SHAPES } from "../test/stress/util-work.js";
import { now, scaled, type Impl, type RunOptions, type Sample } from "./common.js";

const LONG = 1_000_000;

export async function urlParseLinear(impl: Impl, { scale }: RunOptions): Promise<Sample> {
  const long = scaled(LONG, scale, 1_000);
  const [size, times] = impl === "sockurl" ? [long, 1] : [Math.round(long / 10), 10];
  const inputs = SHAPES.map(([, make]) => make(size));
  let chars = 0;
  const start = now();
  for (const input of inputs) {
    for (let i = 0; i < times; i++) {
      try {
        parseAddress(input);
      } catch (err) {
        if (!(err instanceof SocketError)) throw err;
      }
      chars += input.length;
    }
  }
  const seconds = (now() - start) / 1000;
  return { value: chars / seconds };
}
