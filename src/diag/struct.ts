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

const KIND: Record<FieldType, number> = { u8: 0, u16: 1, u32: 2, u64: 3, s32: 4, be16: 5, be32: 6 };

/**
 * Fields read as numbers in a hot loop (one value per field per snapshot): the table
 * compiled to flat arrays, so a read is a numeric switch, not an object walk and a string
 * switch. u64 values above 2^53 round (analysis only: counters stay exact elsewhere).
 */
export class NumberFields {
  private readonly off: Int32Array;
  private readonly end: Int32Array;
  private readonly kind: Uint8Array;
  private readonly shift: Uint8Array;
  private readonly mask: Int32Array;

  constructor(fields: readonly Field[]) {
    this.off = Int32Array.from(fields, (f) => f.offset);
    this.end = Int32Array.from(fields, (f) => f.offset + SIZE[f.type]);
    this.kind = Uint8Array.from(fields, (f) => KIND[f.type]);
    this.shift = Uint8Array.from(fields, (f) => f.bits?.[0] ?? 0);
    this.mask = Int32Array.from(fields, (f) => (f.bits ? (1 << f.bits[1]) - 1 : -1));
  }

  /** Field `k` of the struct at dv[at, at + len), or NaN when the kernel sent too few bytes. */
  read(dv: DataView, at: number, len: number, k: number): number {
    if (this.end[k] > len) return NaN;
    const o = at + this.off[k];
    let v: number;
    switch (this.kind[k]) {
      case 0: v = dv.getUint8(o); break;
      case 1: v = dv.getUint16(o, true); break;
      case 2: v = dv.getUint32(o, true); break;
      case 3: return dv.getUint32(o, true) + dv.getUint32(o + 4, true) * 4294967296;
      case 4: return dv.getInt32(o, true);
      case 5: v = dv.getUint16(o, false); break;
      default: v = dv.getUint32(o, false); break;
    }
    return this.mask[k] === -1 ? v : (v >>> this.shift[k]) & this.mask[k];
  }
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
