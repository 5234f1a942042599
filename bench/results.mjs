// bench/results.md is shared by the benchmarks: each owns one "## " section of it.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

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

