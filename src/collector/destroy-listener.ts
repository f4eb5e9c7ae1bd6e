// Listens to the kernel's TCP destroy multicast groups (what `ss -E` shows): one final
// inet_diag_msg, with tcp_info, for every TCP socket the kernel frees. This catches
// connections that live and die between two polls, and every connection's true final
// counters.
import { NetlinkSocket } from "../ffi/netlink-socket.ts";
import { ENOBUFS, SyscallError } from "../ffi/errno.ts";
import { TCP_DESTROY_GROUPS } from "../diag/constants.ts";
import { newSplitState, splitMessages, type MessageVisitor } from "../diag/netlink-messages.ts";

/** Default socket receive buffer: room for a burst of ~50,000 destroy messages. */
export const DESTROY_RCVBUF = 32 * 1024 * 1024;

export interface DrainResult {
  messages: number;
  /** Times the kernel reported ENOBUFS: destroy messages were lost. */
  overruns: number;
  malformed: number;
}

export class DestroyListener {
  private readonly sock: NetlinkSocket;
  /** The receive buffer every message view points into. */
  readonly buffer: Uint8Array;
  private readonly split = newSplitState();
  readonly receiveBuffer: number;

  /** `enter` runs socket creation where the events belong (a network namespace); `buffer` may be shared. */
  constructor(rcvbuf = DESTROY_RCVBUF, enter: <T>(make: () => T) => T = (make) => make(), buffer?: Uint8Array) {
    this.sock = enter(() => new NetlinkSocket(undefined, TCP_DESTROY_GROUPS));
    try {
      this.receiveBuffer = this.sock.setReceiveBuffer(rcvbuf);
    } catch (e) {
      this.sock.close();
      throw e;
    }
    this.buffer = buffer ?? new Uint8Array(64 * 1024);
  }

  /**
   * Reads every queued destroy message without blocking, calling `visit` for each.
   * An overrun (ENOBUFS) is counted and reading goes on: the messages still queued
   * are good, and polling notices the lost ones as vanished sockets.
   */
  drain(visit: MessageVisitor, limit = 1_000_000): DrainResult {
    const result: DrainResult = { messages: 0, overruns: 0, malformed: 0 };
    while (result.messages < limit) {
      let n: number;
      try {
        n = this.sock.receive(this.buffer, true);
      } catch (e) {
        if (e instanceof SyscallError && e.errno === ENOBUFS) {
          result.overruns++;
          continue;
        }
        throw e;
      }
      if (n === 0) break;
      if (splitMessages(this.buffer, n, visit, this.split) === 3 /* Malformed */) result.malformed++;
      result.messages += this.split.messages;
    }
    return result;
  }

  close(): void {
    this.sock.close();
  }
}
