// Kernel structs are described once, as tables of fields, and decoded from the tables.
// A field past the end of the bytes the kernel sent is absent: older kernels send
// shorter structs, newer ones longer (extra bytes are ignored).

export type FieldType = "u8" | "u16" | "u32" | "u64" | "s32" | "be16" | "be32";

export interface Field {
  /** Name in the decoded object (camelCase). */
  readonly name: string;
  readonly offset: number;
  readonly type: FieldType;
  /** For bitfields: [first bit, width] within the (little-endian) unit. */
  readonly bits?: readonly [number, number];
}

export type StructLayout = readonly Field[];

/** Decoded values: u64 fields are bigint so no counter loses precision. */
export type Decoded = Record<string, number | bigint>;

const SIZE: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, u64: 8, s32: 4, be16: 2, be32: 4 };

export function fieldSize(f: Field): number {
  return SIZE[f.type];
}


export function readField(dv: DataView, at: number, f: Field): number | bigint {
  let v: number | bigint;
  switch (f.type) {
    case "u8": v = dv.getUint8(at); break;
    case "u16": v = dv.getUint16(at, true); break;
    case "u32": v = dv.getUint32(at, true); break;
    case "s32": v = dv.getInt32(at, true); break;
    case "be16": v = dv.getUint16(at, false); break;
    case "be32": v = dv.getUint32(at, false); break;
    case "u64": return dv.getBigUint64(at, true);
  }
  if (f.bits) v = (v >>> f.bits[0]) & ((1 << f.bits[1]) - 1);
  return v;
}

/**
 * Decodes the fields of `layout` found in `bytes[start, start+length)`. A field that does
 * not fit entirely inside `length` is left out of the result.
 */
export function decodeStruct(layout: StructLayout, bytes: Uint8Array, start = 0, length = bytes.byteLength - start): Decoded {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + start, Math.max(0, Math.min(length, bytes.byteLength - start)));
  const out: Decoded = {};
  for (const f of layout) {
    if (f.offset + SIZE[f.type] > dv.byteLength) continue;
    out[f.name] = readField(dv, f.offset, f);
  }
  return out;
}


/** Bytes the struct spans: the end of its last field. */
export function layoutSize(l: StructLayout): number {
  let end = 0;
  for (const f of l) end = Math.max(end, f.offset + SIZE[f.type]);
  return end;
}

/** Builds a layout from rows of [name, offset, type] or [name, offset, type, firstBit, width]. */
export function layout(rows: readonly (readonly [string, number, FieldType] | readonly [string, number, FieldType, number, number])[]): StructLayout {
  return rows.map((r) => (r.length === 5 ? { name: r[0], offset: r[1], type: r[2], bits: [r[3], r[4]] as const } : { name: r[0], offset: r[1], type: r[2] }));
}
