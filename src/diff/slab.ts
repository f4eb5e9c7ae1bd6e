// Fixed-size slots carved out of shared chunks, for the cache's snapshot copies: one
// ArrayBuffer per 64 slots instead of a buffer and two views per connection, which
// saves memory and keeps the copies close together.
import { bytesOf, type Bytes } from "./bytes.ts";

const SLOTS_PER_CHUNK = 64;
const CLASS_STEP = 128;
const MAX_CLASS_BYTES = 8192;

/** Where a copy lives: a chunk (shared), a byte offset in it, and the slot's size. */
export interface SlabSlot {
  chunk: Bytes;
  offset: number;
  capacity: number;
  /** Global slot id within its size class, for free(); -1 for an oversize buffer of its own. */
  slot: number;
}

class SizeClass {
  readonly chunks: Bytes[] = [];
  readonly free: number[] = [];
  constructor(readonly size: number) {}

  take(): number {
    if (this.free.length === 0) {
      const base = this.chunks.length * SLOTS_PER_CHUNK;
      this.chunks.push(bytesOf(new Uint8Array(this.size * SLOTS_PER_CHUNK)));
      // Hand out low slots first: pushed in reverse, popped from the end.
      for (let i = SLOTS_PER_CHUNK - 1; i >= 0; i--) this.free.push(base + i);
    }
    return this.free.pop()!;
  }
}

export class SlabAllocator {
  private readonly classes: SizeClass[] = [];
  /** Bytes reserved in chunks (used or free), for tests and metrics. */
  reserved = 0;

  constructor() {
    for (let size = CLASS_STEP; size <= MAX_CLASS_BYTES; size += CLASS_STEP) this.classes.push(new SizeClass(size));
  }

  /** Points `into` at a free slot of at least `length` bytes. */
  alloc(into: SlabSlot, length: number): void {
    if (length > MAX_CLASS_BYTES) {
      into.chunk = bytesOf(new Uint8Array((length + 3) & ~3));
      into.offset = 0;
      into.capacity = into.chunk.u8.byteLength;
      into.slot = -1;
      return;
    }
    const cls = this.classes[Math.max(0, Math.ceil(length / CLASS_STEP) - 1)];
    const before = cls.chunks.length;
    const slot = cls.take();
    if (cls.chunks.length !== before) this.reserved += cls.size * SLOTS_PER_CHUNK;
    into.chunk = cls.chunks[Math.floor(slot / SLOTS_PER_CHUNK)];
    into.offset = (slot % SLOTS_PER_CHUNK) * cls.size;
    into.capacity = cls.size;
    into.slot = slot;
  }

  /** Returns the slot of `s` for reuse. */
  free(s: SlabSlot): void {
    if (s.slot < 0) return;
    this.classes[s.capacity / CLASS_STEP - 1].free.push(s.slot);
    s.slot = -1;
  }
}
