// bench/results.md is shared by the benchmarks: each owns one "## " section of it. Also here:
// what every benchmark script reads its command line with, and the median they report.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

/** The script's arguments, and `flag(name, dflt)`: the value after `name` among them, or `dflt`. */
export const args = process.argv.slice(2);
export const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i < 0 ? dflt : args[i + 1];
};

/** The median of `xs` (the mean of the middle two when their number is even). */
export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

/** Replaces the section headed `head` in the file `out` with `section` (or appends it), keeping
 * the others. */
export function writeSection(out, head, section) {
  let text = existsSync(out) ? readFileSync(out, "utf8") : "# Benchmark results\n";
  const start = text.indexOf(head);
  if (start >= 0) {
    const next = text.indexOf("\n## ", start + head.length);
    text = text.slice(0, start) + section + (next >= 0 ? text.slice(next + 1) : "");
  } else {
    text = text.replace(/\n*$/, "\n\n") + section;
  }
  writeFileSync(out, text);
  console.log(`wrote ${out}`);
}

/** The same event for every SDK and benchmark: 10 properties, built fresh on every call as an app
 * would; page source of a function of the call's index. */
export const EVENT_SRC = `(i) => ({ sku: "SKU-" + i, price: 49.99, qty: 2, currency: "USD", category: "books",
  coupon: null, inStock: true, tags: ["gift", "sale"], position: i, list: "search results" })`;

