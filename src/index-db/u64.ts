// SQLite integers are signed 64-bit; tcp_info byte counters are unsigned 64-bit. Storing
// the two's-complement signed value keeps every bit (2^63 + 5 round-trips) at the cost of
// meaningless SQL ordering of values >= 2^63, which no query here relies on.

export function u64ToSql(v: bigint | null): bigint | null {
  return v === null ? null : BigInt.asIntN(64, v);
}

export function u64FromSql(v: bigint | number | null): bigint | null {
  if (v === null) return null;
  return BigInt.asUintN(64, BigInt(v));
}

const HEX16 = /^[0-9A-F]{16}$/;

/** Parses the 16-hex cookie column back to the kernel's unsigned value. */
export function cookieFromHex(hex: string): bigint {
  if (!HEX16.test(hex)) throw new Error(`malformed cookie in index: ${JSON.stringify(hex)}`);
  return BigInt(`0x${hex}`);
}
