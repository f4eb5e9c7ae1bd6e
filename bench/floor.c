/*
 * floor.c - the performance floor for TCP socket dumps over NETLINK_SOCK_DIAG.
 *
 * This program does the least work a collector could possibly do per poll:
 * send the dump request and read the reply until NLMSG_DONE, discarding
 * every message. Whatever time and CPU it spends is the kernel's cost plus
 * the bare syscall overhead, so it is the baseline against which the Bun
 * collector's own dump loop is compared.
 *
 * The requests are byte-for-byte the ones the Bun code sends, because the
 * extension mask and state mask decide how much the kernel has to serialise:
 * a cheaper request would make the floor meaninglessly low.
 *   --family all   (default, the collector's default) one TCPDIAG_GETSOCK
 *                  request (76 bytes: nlmsghdr + inet_diag_req with every
 *                  extension): one walk of the socket tables for IPv4 and
 *                  IPv6 alike;
 *   --family both  one SOCK_DIAG_BY_FAMILY request per family (72 bytes:
 *                  nlmsghdr + inet_diag_req_v2), IPv4 then IPv6: two walks,
 *                  as M-Lab's collector and `collector --per-family-dumps`;
 *   --family 4|6   one of those. The state mask defaults to
 * every state; --states takes the mask the code under test asks for (the
 * collector leaves out SYN_RECV, TIME_WAIT, CLOSE and NEW_SYN_RECV), so both
 * sides make the kernel walk and serialise the same sockets.
 *
 * Scheduling between cycles, like the two kinds of loop being compared:
 *   --interval-ms M  sleep M ms after each cycle (gap between cycles);
 *   --period-ms M    start a cycle every M ms (fixed rate, as the collector's
 *                    poll loop does: a cycle that overruns is followed at
 *                    once, never by a burst of catch-up cycles).
 *
 * Network namespaces: each --netns PATH (repeatable; /var/run/netns/NAME,
 * /proc/PID/ns/net, /proc/self/ns/net for its own) adds a namespace: a socket
 * is made inside each (setns, socket, setns back, as the collector does) and
 * a cycle dumps every namespace in turn. Without --netns, only its own.
 *
 * Usage: floor [--family all|both|4|6] [--reps N] [--states HEX]
 *              [--interval-ms M | --period-ms M] [--netns PATH]...
 * Output: one JSON line on stdout at the end.
 * Build:  cc -O2 -o bench/build/floor bench/floor.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The request must be exactly 72 bytes to match the Bun implementation. */
struct diag_request {
	struct nlmsghdr nlh;
	struct inet_diag_req_v2 req;
};
_Static_assert(sizeof(struct nlmsghdr) == 16, "nlmsghdr must be 16 bytes");
_Static_assert(sizeof(struct inet_diag_req_v2) == 56, "inet_diag_req_v2 must be 56 bytes");
_Static_assert(sizeof(struct diag_request) == 72, "request must be 72 bytes");

/* Every family in one walk: the kernel ignores the family of a dump made this way. */
struct walk_request {
	struct nlmsghdr nlh;
	struct inet_diag_req req;
};
_Static_assert(sizeof(struct walk_request) == 76, "one-walk request must be 76 bytes");

/* One receive buffer, reused for every chunk of every dump, so the floor
 * measures no allocation. 64 KiB exceeds the largest chunk the kernel builds
 * for a dump (it sizes dump skbs from the reader's buffer, capped at 32 KiB). */
#define RECV_BUF_SIZE (64 * 1024)
static unsigned char recv_buf[RECV_BUF_SIZE] __attribute__((aligned(NLMSG_ALIGNTO)));

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void __attribute__((noreturn)) usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--family all|both|4|6] [--reps N] [--states HEX] [--interval-ms M | --period-ms M] [--netns PATH]...\n", argv0);
	exit(2);
}

/* Parse a non-negative decimal integer or exit: a typo in a benchmark option
 * must not silently become 0. */
static long parse_count(const char *s, const char *what)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0) {
		fprintf(stderr, "floor: invalid %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

/* Parse a 32-bit mask in hex ("0xffffffff" or "ffffffff") or exit. */
static uint32_t parse_mask(const char *s, const char *what)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 16);
	if (errno != 0 || end == s || *end != '\0' || v > 0xFFFFFFFFull || s[0] == '-') {
		fprintf(stderr, "floor: invalid %s: %s\n", what, s);
		exit(2);
	}
	return (uint32_t)v;
}

/* Sleep until the CLOCK_MONOTONIC time `deadline_ns`. */
static void sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline_ns / 1000000000ull),
			       .tv_nsec = (long)(deadline_ns % 1000000000ull) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* Totals for one dump (one family). */
struct dump_result {
	uint64_t messages; /* inet_diag_msg replies, i.e. sockets */
	uint64_t bytes;    /* bytes returned by recv(), headers included */
};

/*
 * Send one dump request for `family` and drain the reply.
 * Returns 0 on success, -1 on a socket error or a netlink error message.
 */
static int dump_once(int fd, uint8_t family, uint32_t states, uint32_t seq, struct dump_result *out)
{
	struct diag_request rq;
	struct walk_request wq;
	const void *request = &rq;
	size_t request_len = sizeof(rq);
	memset(&rq, 0, sizeof(rq)); /* id (ports, addresses, cookie) all zero */
	rq.nlh.nlmsg_len = sizeof(rq);
	rq.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	rq.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP; /* 0x301 */
	rq.nlh.nlmsg_seq = seq;
	rq.nlh.nlmsg_pid = 0; /* addressed to the kernel */
	rq.req.sdiag_family = family;
	rq.req.sdiag_protocol = IPPROTO_TCP;
	rq.req.idiag_ext = 0xFF;          /* ask for every extension: worst-case payload */
	rq.req.pad = 0;
	rq.req.idiag_states = states;     /* default: every TCP state, listeners and TIME_WAIT included */
	if (family == AF_UNSPEC) {
		memset(&wq, 0, sizeof(wq));
		wq.nlh.nlmsg_len = sizeof(wq);
		wq.nlh.nlmsg_type = TCPDIAG_GETSOCK;
		wq.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		wq.nlh.nlmsg_seq = seq;
		wq.req.idiag_ext = 0xFF;
		wq.req.idiag_states = states;
		request = &wq;
		request_len = sizeof(wq);
	}

	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t sent;
	do {
		sent = sendto(fd, request, request_len, 0, (struct sockaddr *)&kernel, sizeof(kernel));
	} while (sent < 0 && errno == EINTR);
	if (sent != (ssize_t)request_len) {
		perror("floor: sendto");
		return -1;
	}

	out->messages = 0;
	out->bytes = 0;
	for (;;) {
		ssize_t n = recv(fd, recv_buf, sizeof(recv_buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("floor: recv");
			return -1;
		}
		if (n == 0) {
			fprintf(stderr, "floor: netlink socket returned EOF mid-dump\n");
			return -1;
		}
		out->bytes += (uint64_t)n;

		/* Walk the headers only to find the end of the dump; the payload is
		 * deliberately left untouched. */
		int len = (int)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)recv_buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				fprintf(stderr, "floor: netlink error %d (%s)\n", e->error,
					strerror(-e->error));
				return -1;
			}
			out->messages++;
		}
	}
}

int main(int argc, char **argv)
{
	const char *family_arg = "all";
	long reps = 100;
	long interval_ms = 0;
	long period_ms = 0;
	uint32_t states = 0xFFFFFFFFu;
	const char **netns = calloc((size_t)argc, sizeof(char *));
	int nnetns = 0;

	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage(argv[0]);
		if (strcmp(argv[i], "--family") == 0)
			family_arg = argv[++i];
		else if (strcmp(argv[i], "--reps") == 0)
			reps = parse_count(argv[++i], "--reps");
		else if (strcmp(argv[i], "--interval-ms") == 0)
			interval_ms = parse_count(argv[++i], "--interval-ms");
		else if (strcmp(argv[i], "--period-ms") == 0)
			period_ms = parse_count(argv[++i], "--period-ms");
		else if (strcmp(argv[i], "--states") == 0)
			states = parse_mask(argv[++i], "--states");
		else if (strcmp(argv[i], "--netns") == 0)
			netns[nnetns++] = argv[++i];
		else
			usage(argv[0]);
	}
	if (interval_ms > 0 && period_ms > 0) {
		fprintf(stderr, "floor: --interval-ms and --period-ms exclude each other\n");
		return 2;
	}
	if (reps < 1) {
		fprintf(stderr, "floor: --reps must be at least 1\n");
		return 2;
	}

	/* One cycle is one dump per requested family, in this order (AF_UNSPEC: one for all). */
	uint8_t families[2];
	int nfamilies;
	if (strcmp(family_arg, "4") == 0) {
		families[0] = AF_INET;
		nfamilies = 1;
	} else if (strcmp(family_arg, "6") == 0) {
		families[0] = AF_INET6;
		nfamilies = 1;
	} else if (strcmp(family_arg, "all") == 0) {
		families[0] = AF_UNSPEC;
		nfamilies = 1;
	} else if (strcmp(family_arg, "both") == 0) {
		families[0] = AF_INET;
		families[1] = AF_INET6;
		nfamilies = 2;
	} else {
		usage(argv[0]);
	}

	/* Allocated up front so that recording a sample never allocates. */
	uint64_t *cycle_ns = calloc((size_t)reps, sizeof(uint64_t));
	if (cycle_ns == NULL) {
		perror("floor: calloc");
		return 1;
	}

	/* One sock_diag socket per namespace, made inside it: a netlink socket
	 * stays bound to the namespace it was created in. */
	int nfds = nnetns > 0 ? nnetns : 1;
	int *fds = calloc((size_t)nfds, sizeof(int));
	int home = nnetns > 0 ? open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC) : -1;
	if (nnetns > 0 && home < 0) {
		perror("floor: open(/proc/self/ns/net)");
		return 1;
	}
	for (int n = 0; n < nfds; n++) {
		int nsfd = -1;
		if (nnetns > 0) {
			nsfd = open(netns[n], O_RDONLY | O_CLOEXEC);
			if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) {
				fprintf(stderr, "floor: entering %s: %s\n", netns[n], strerror(errno));
				return 1;
			}
		}
		fds[n] = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		if (fds[n] < 0) {
			perror("floor: socket(AF_NETLINK, NETLINK_SOCK_DIAG)");
			return 1;
		}
		if (nnetns > 0) {
			if (setns(home, CLONE_NEWNET) != 0) {
				perror("floor: setns(home)");
				return 1;
			}
			close(nsfd);
		}
	}

	uint32_t seq = 1;
	uint64_t last_messages = 0, last_bytes = 0;
	uint64_t next_start = now_ns(CLOCK_MONOTONIC);
	for (long r = 0; r < reps; r++) {
		if (r > 0 && period_ms > 0) {
			/* Fixed rate, as the collector's runLoop: next += period; if that is
			 * already past, start now (no catch-up burst). */
			next_start += (uint64_t)period_ms * 1000000ull;
			uint64_t now = now_ns(CLOCK_MONOTONIC);
			if (next_start < now)
				next_start = now;
			else
				sleep_until(next_start);
		}
		if (r > 0 && interval_ms > 0) {
			/* Sleep between cycles (not before the first or after the last) so
			 * the wall time is reps * cycle + (reps - 1) * interval. */
			struct timespec ts = { .tv_sec = interval_ms / 1000,
					       .tv_nsec = (interval_ms % 1000) * 1000000L };
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
		}
		uint64_t t0 = now_ns(CLOCK_MONOTONIC);
		uint64_t msgs = 0, bytes = 0;
		for (int n = 0; n < nfds; n++) {
			for (int f = 0; f < nfamilies; f++) {
				struct dump_result res;
				if (dump_once(fds[n], families[f], states, seq++, &res) != 0)
					return 1;
				msgs += res.messages;
				bytes += res.bytes;
			}
		}
		cycle_ns[r] = now_ns(CLOCK_MONOTONIC) - t0;
		last_messages = msgs;
		last_bytes = bytes;
	}
	for (int n = 0; n < nfds; n++)
		close(fds[n]);

	uint64_t cpu_ns = now_ns(CLOCK_PROCESS_CPUTIME_ID);

	/* Single JSON line; built with printf because the shape is fixed. */
	printf("{\"reps\":%ld,\"family\":\"%s\",\"states\":%u,\"namespaces\":%d,\"sockets\":%llu,\"bytes\":%llu,\"cycleNs\":[",
	       reps, family_arg, states, nfds, (unsigned long long)last_messages, (unsigned long long)last_bytes);
	for (long r = 0; r < reps; r++)
		printf("%s%llu", r ? "," : "", (unsigned long long)cycle_ns[r]);
	printf("],\"cpuNs\":%llu}\n", (unsigned long long)cpu_ns);
	free(cycle_ns);
	return 0;
}
