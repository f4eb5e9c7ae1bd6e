// JSON with exact 64-bit integers: bigint values are written as plain number literals,
// so counters past 2^53 keep every digit (JSON.stringify would throw on them).

const MARK = "\u0000big:";

function replacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? MARK + value.toString() : value;
}

const MARKED = new RegExp(`"${MARK.replace("\u0000", "\\\\u0000")}(-?\\d+)"`, "g");

export function stringifyExact(value: unknown, space?: number): string {
  return JSON.stringify(value, replacer, space).replace(MARKED, "$1");
}
