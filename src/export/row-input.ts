// What one snapshot row is made from: a buffer holding the decoded inet_diag_msg and
// attributes, with where each lies, and the exact time. The archive scanner's lines are
// one (valid until the next line); CopiedRow keeps one beyond that (--every holds the
// last line it dropped).

export interface RowInput {
  readonly bytes: Uint8Array;
  readonly idmOffset: number;
  readonly idmLength: number;
  /** Unix seconds and nanoseconds. */
  readonly sec: number;
  readonly nsec: number;
  /** Where attribute `type` lies in `bytes` (-1: absent), and its length. */
  offset(type: number): number;
  length(type: number): number;
}

const TYPES = 64;

export class CopiedRow implements RowInput {
  bytes = new Uint8Array(1024);
  idmOffset = 0;
  idmLength = 0;
  sec = 0;
  nsec = 0;
  private readonly at = new Int32Array(TYPES).fill(-1);
  private readonly len = new Int32Array(TYPES);

  offset(type: number): number {
    return type < TYPES ? this.at[type] : -1;
  }

  length(type: number): number {
    return type < TYPES && this.at[type] >= 0 ? this.len[type] : 0;
  }

  private room(n: number): void {
    if (this.bytes.length < n) this.bytes = new Uint8Array(n * 2);
  }

  /** Copies `src` (its bytes may be reused afterwards). */
  copyFrom(src: RowInput): this {
    let end = src.idmOffset + src.idmLength;
    for (let t = 0; t < TYPES; t++) {
      this.at[t] = src.offset(t);
      this.len[t] = src.length(t);
      if (this.at[t] >= 0) end = Math.max(end, this.at[t] + this.len[t]);
    }
    this.room(end);
    this.bytes.set(src.bytes.subarray(0, end));
    this.idmOffset = src.idmOffset;
    this.idmLength = src.idmLength;
    this.sec = src.sec;
    this.nsec = src.nsec;
    return this;
  }
}
