/*
 * load.c - TCP connection load generator for the collector benchmarks.
 *
 * The collector's cost grows with the number of sockets in the kernel's
 * tables and with how often they change, so the benchmark needs three kinds
 * of population, all produced by one single-threaded epoll program:
 *
 *   idle    N established connections, no traffic: the tcp_info of each socket
 *           stays (almost) unchanged, so this measures the pure dump + parse +
 *           diff cost at a given socket count.
 *   active  the same N connections, each written to every --period-ms: every
 *           poll sees changed counters, so every socket produces a record.
 *   churn   --rate short connections per second, each closed as soon as its
 *           handshake completes: measures open/close detection, and how many
 *           sub-poll-interval connections a poller misses.
 *
 * Usage:
 *   load server --bind IP --ports P1[,P2|Pa-Pb..] [--backlog N] [--max-conns N] [--seconds S]
 *   load client --connect IP --ports ... --mode idle|active|churn
 *               [--conns N] [--seconds S] [--period-ms M] [--bytes B]
 *               [--rate K] [--max-inflight N] [--setup-timeout S]
 *
 * stdout protocol (for a driver): one "READY <n>" line when the population is
 * in place (server: n = listening sockets; idle/active client: n = established
 * connections, printed once every one of the --conns attempts has settled;
 * churn prints none), then one JSON summary line on exit. Diagnostics go to
 * stderr. SIGINT/SIGTERM end the run cleanly and still print the summary.
 *
 * Build: cc -O2 -o bench/build/load bench/load.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_PORTS 256
#define MAX_EVENTS 1024
/* Upper bound on accepts / reads handled for one fd per wakeup, so one busy
 * socket cannot starve the others (fds are level-triggered: leftovers fire
 * again on the next epoll_wait). */
#define PER_EVENT_BUDGET 256

/* ------------------------------------------------------------------------ */
/* Options                                                                  */

enum role { ROLE_SERVER, ROLE_CLIENT };
enum mode { MODE_IDLE, MODE_ACTIVE, MODE_CHURN };

struct options {
	enum role role;
	enum mode mode;
	const char *ip;          /* --bind (server) or --connect (client) */
	uint16_t ports[MAX_PORTS];
	int nports;
	long conns;              /* idle/active: connections to hold */
	double seconds;          /* run length; 0 = until signalled (not for churn) */
	long period_ms;          /* active: write period per connection */
	long bytes;              /* active: payload per write */
	long rate;               /* churn: connections per second */
	long max_inflight;       /* client: concurrent unfinished handshakes */
	long backlog;            /* server: listen() backlog */
	long max_conns;          /* server: connections to size RLIMIT_NOFILE for; 0 = as many as allowed */
	double setup_timeout;    /* idle/active: give up if not settled by then */
};

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr,
		"usage:\n"
		"  load server --bind IP --ports P1[,P2|Pa-Pb..] [--backlog N] [--max-conns N] [--seconds S]\n"
		"  load client --connect IP --ports ... --mode idle|active|churn [--conns N]\n"
		"              [--seconds S] [--period-ms M] [--bytes B] [--rate K]\n"
		"              [--max-inflight N] [--setup-timeout S]\n");
	exit(2);
}

/* Strict number parsing: a typo must fail loudly rather than become 0. */
static long parse_long(const char *s, const char *what, long min, long max)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "load: invalid %s: %s (expected %ld..%ld)\n", what, s, min, max);
		exit(2);
	}
	return v;
}

static double parse_seconds(const char *s, const char *what)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0) || v > 1e6) {
		fprintf(stderr, "load: invalid %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

/* "8000,8001" or "8000-8009" or a mix. */
static void parse_ports(const char *s, struct options *o)
{
	char *copy = strdup(s);
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *dash = strchr(tok, '-');
		long lo, hi;
		if (dash) {
			*dash = '\0';
			lo = parse_long(tok, "port", 1, 65535);
			hi = parse_long(dash + 1, "port", lo, 65535);
		} else {
			lo = hi = parse_long(tok, "port", 1, 65535);
		}
		for (long p = lo; p <= hi; p++) {
			if (o->nports >= MAX_PORTS) {
				fprintf(stderr, "load: at most %d ports\n", MAX_PORTS);
				exit(2);
			}
			o->ports[o->nports++] = (uint16_t)p;
		}
	}
	free(copy);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof(*o));
	o->mode = MODE_IDLE;
	o->conns = 10000;
	o->period_ms = 10;
	o->bytes = 100;
	o->rate = 1000;
	o->max_inflight = 1000;
	o->backlog = 65535;
	o->max_conns = 0;
	o->setup_timeout = 120;
	bool seconds_given = false;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "server") == 0)
		o->role = ROLE_SERVER;
	else if (strcmp(argv[1], "client") == 0)
		o->role = ROLE_CLIENT;
	else
		usage();

	for (int i = 2; i < argc; i++) {
		const char *k = argv[i];
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		if (strcmp(k, "--bind") == 0 && o->role == ROLE_SERVER)
			o->ip = v;
		else if (strcmp(k, "--connect") == 0 && o->role == ROLE_CLIENT)
			o->ip = v;
		else if (strcmp(k, "--ports") == 0)
			parse_ports(v, o);
		else if (strcmp(k, "--mode") == 0) {
			if (strcmp(v, "idle") == 0)
				o->mode = MODE_IDLE;
			else if (strcmp(v, "active") == 0)
				o->mode = MODE_ACTIVE;
			else if (strcmp(v, "churn") == 0)
				o->mode = MODE_CHURN;
			else
				usage();
		} else if (strcmp(k, "--conns") == 0)
			o->conns = parse_long(v, k, 1, 10000000);
		else if (strcmp(k, "--seconds") == 0) {
			o->seconds = parse_seconds(v, k);
			seconds_given = true;
		} else if (strcmp(k, "--period-ms") == 0)
			o->period_ms = parse_long(v, k, 1, 3600000);
		else if (strcmp(k, "--bytes") == 0)
			o->bytes = parse_long(v, k, 1, 65536);
		else if (strcmp(k, "--rate") == 0)
			o->rate = parse_long(v, k, 1, 1000000);
		else if (strcmp(k, "--max-inflight") == 0)
			o->max_inflight = parse_long(v, k, 1, 1000000);
		else if (strcmp(k, "--backlog") == 0)
			o->backlog = parse_long(v, k, 1, 1 << 20);
		else if (strcmp(k, "--max-conns") == 0)
			o->max_conns = parse_long(v, k, 1, 10000000);
		else if (strcmp(k, "--setup-timeout") == 0)
			o->setup_timeout = parse_seconds(v, k);
		else
			usage();
	}
	if (o->ip == NULL || o->nports == 0)
		usage();
	/* Churn is a bounded request loop by construction: it needs an end. */
	if (o->role == ROLE_CLIENT && o->mode == MODE_CHURN && (!seconds_given || o->seconds <= 0)) {
		fprintf(stderr, "load: churn needs --seconds > 0\n");
		exit(2);
	}
}

/* ------------------------------------------------------------------------ */
/* Small utilities                                                          */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "load: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Numeric IPv4 or IPv6 address into a sockaddr (no DNS: benchmarks must not
 * depend on resolvers). Returns the address length. */
static socklen_t make_addr(const char *ip, uint16_t port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		return sizeof(*a6);
	}
	fprintf(stderr, "load: not a numeric IPv4/IPv6 address: %s\n", ip);
	exit(2);
}

/*
 * Ten thousand connections need ten thousand descriptors, far above the usual
 * soft limit of 1024. Raise the soft limit, and the hard one too when we may
 * (it needs CAP_SYS_RESOURCE, which a container's root may lack), but never
 * past fs.nr_open, which setrlimit would reject.
 * With `strict`, failing to reach `want` is fatal (exit 3) with a message
 * saying so: better than a run that quietly stops at EMFILE.
 * Returns the soft limit actually in force.
 */
static rlim_t raise_nofile(rlim_t want, bool strict)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		die("getrlimit");
	if (rl.rlim_cur >= want)
		return rl.rlim_cur;

	rlim_t nr_open = 1048576;
	FILE *f = fopen("/proc/sys/fs/nr_open", "r");
	if (f) {
		unsigned long long v;
		if (fscanf(f, "%llu", &v) == 1)
			nr_open = (rlim_t)v;
		fclose(f);
	}
	if (want > nr_open)
		want = nr_open;

	struct rlimit nrl = { .rlim_cur = want, .rlim_max = rl.rlim_max > want ? rl.rlim_max : want };
	if (setrlimit(RLIMIT_NOFILE, &nrl) != 0) {
		/* Not privileged to raise the hard limit: settle for it. */
		int why = errno;
		nrl.rlim_max = rl.rlim_max;
		nrl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		if (setrlimit(RLIMIT_NOFILE, &nrl) != 0)
			die("setrlimit(RLIMIT_NOFILE)");
		if (strict && nrl.rlim_cur < want) {
			fprintf(stderr,
				"load: need %llu descriptors but the RLIMIT_NOFILE hard limit is %llu "
				"and cannot be raised (%s); split the load over several processes\n",
				(unsigned long long)want, (unsigned long long)rl.rlim_max, strerror(why));
			exit(3);
		}
	}
	return nrl.rlim_cur;
}

/* Count failures by errno so the summary says *why* connects failed
 * (EADDRNOTAVAIL = local ports exhausted, ECONNREFUSED = no listener, ...). */
#define MAX_ERRNO_SLOTS 16
struct errno_counts {
	int code[MAX_ERRNO_SLOTS];
	uint64_t count[MAX_ERRNO_SLOTS];
	int used;
};

static void errno_count(struct errno_counts *ec, int code)
{
	for (int i = 0; i < ec->used; i++) {
		if (ec->code[i] == code) {
			ec->count[i]++;
			return;
		}
	}
	if (ec->used < MAX_ERRNO_SLOTS) {
		ec->code[ec->used] = code;
		ec->count[ec->used++] = 1;
	}
}

static void errno_print_json(const struct errno_counts *ec)
{
	printf("{");
	for (int i = 0; i < ec->used; i++) {
		const char *name = strerrorname_np(ec->code[i]);
		if (name)
			printf("%s\"%s\":%llu", i ? "," : "", name, (unsigned long long)ec->count[i]);
		else
			printf("%s\"E%d\":%llu", i ? "," : "", ec->code[i], (unsigned long long)ec->count[i]);
	}
	printf("}");
}

/*
 * Signals arrive through a signalfd in the epoll set, so the loop never races
 * a flag against epoll_wait and shutdown always goes through the same path
 * that prints the summary. SIGPIPE is ignored: a peer reset must show up as
 * EPIPE from send(), not kill the generator.
 */
static int setup_signals(void)
{
	signal(SIGPIPE, SIG_IGN);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
		die("sigprocmask");
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		die("signalfd");
	return fd;
}

static void epoll_add(int ep, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
		die("epoll_ctl(ADD)");
}

static void epoll_mod(int ep, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) != 0)
		die("epoll_ctl(MOD)");
}

/* A periodic timer in the epoll set paces active writes and churn connects
 * without busy-waiting. */
static int make_timer(uint64_t interval_ns)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		die("timerfd_create");
	struct itimerspec its = {
		.it_interval = { .tv_sec = (time_t)(interval_ns / 1000000000ull),
				 .tv_nsec = (long)(interval_ns % 1000000000ull) },
	};
	its.it_value = its.it_interval;
	if (timerfd_settime(fd, 0, &its, NULL) != 0)
		die("timerfd_settime");
	return fd;
}

static void drain_timer(int fd)
{
	uint64_t expirations;
	/* The count is irrelevant: pacing is computed from the clock. */
	if (read(fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		die("read(timerfd)");
}

/* Milliseconds until `deadline` for epoll_wait, -1 when there is none. */
static int wait_ms_until(uint64_t deadline)
{
	if (deadline == 0)
		return -1;
	uint64_t now = now_ns();
	if (now >= deadline)
		return 0;
	uint64_t ms = (deadline - now + 999999) / 1000000;
	return ms > 1000 ? 1000 : (int)ms;
}

/* Per-descriptor role, indexed by fd number (descriptors are small, dense
 * integers, so a flat array beats any map). */
enum fd_kind {
	FD_NONE = 0,
	FD_LISTENER,
	FD_SERVER_CONN,
	FD_CONNECTING,
	FD_ESTABLISHED,
};

/* ------------------------------------------------------------------------ */
/* Server                                                                   */

static int run_server(const struct options *o)
{
	/* Without --max-conns take all the descriptors we may get: the server
	 * does not know how many clients will come. */
	rlim_t nofile = o->max_conns > 0 ? raise_nofile((rlim_t)o->max_conns + 64, true)
					 : raise_nofile(1048576, false);
	uint8_t *kind = calloc(nofile, 1);
	if (!kind)
		die("calloc");

	int sigfd = setup_signals();
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	epoll_add(ep, sigfd, EPOLLIN);
	int listeners[MAX_PORTS];

	for (int i = 0; i < o->nports; i++) {
		struct sockaddr_storage ss;
		socklen_t len = make_addr(o->ip, o->ports[i], &ss);
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		int one = 1;
		/* Restarting a benchmark must not wait out TIME_WAIT on the port. */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ss.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
			fprintf(stderr, "load: bind %s port %u: %s\n", o->ip, o->ports[i], strerror(errno));
			return 1;
		}
		/* A deep backlog (clamped by the namespace's net.core.somaxconn) lets
		 * connection bursts queue instead of being dropped and retried after a
		 * one-second SYN timeout, which would distort setup and churn. */
		if (listen(fd, (int)o->backlog) != 0)
			die("listen");
		kind[fd] = FD_LISTENER;
		listeners[i] = fd;
		epoll_add(ep, fd, EPOLLIN);
	}

	printf("READY %d\n", o->nports);
	fflush(stdout);

	uint64_t t_start = now_ns();
	uint64_t deadline = o->seconds > 0 ? t_start + (uint64_t)(o->seconds * 1e9) : 0;
	uint64_t accepted = 0, closed = 0, bytes_read = 0, accept_errors = 0;
	uint64_t open_now = 0, max_open = 0;
	static char sink[64 * 1024]; /* read-and-discard buffer */
	struct epoll_event events[MAX_EVENTS];
	bool stop = false;
	bool warned_emfile = false;
	/* Out of descriptors, a level-triggered listener would report readable
	 * forever and spin the loop; so listeners are muted until a connection
	 * closes and frees a descriptor. */
	bool accept_paused = false;

	while (!stop) {
		if (deadline && now_ns() >= deadline)
			break;
		int n = epoll_wait(ep, events, MAX_EVENTS, wait_ms_until(deadline));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			if (fd == sigfd) {
				stop = true;
				continue;
			}
			if (kind[fd] == FD_LISTENER) {
				for (int k = 0; k < PER_EVENT_BUDGET; k++) {
					int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
					if (c < 0) {
						if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
							break;
						accept_errors++;
						if (errno == EMFILE || errno == ENFILE) {
							if (!warned_emfile)
								fprintf(stderr, "load: accept: out of descriptors (%llu open)\n",
									(unsigned long long)open_now);
							warned_emfile = true;
							for (int l = 0; l < o->nports; l++)
								epoll_mod(ep, listeners[l], 0);
							accept_paused = true;
						}
						break;
					}
					if ((rlim_t)c >= nofile) { /* cannot happen below the rlimit; be safe */
						close(c);
						continue;
					}
					kind[c] = FD_SERVER_CONN;
					epoll_add(ep, c, EPOLLIN | EPOLLRDHUP);
					accepted++;
					if (++open_now > max_open)
						max_open = open_now;
				}
				continue;
			}
			/* A client connection: discard whatever arrived; close on EOF/error. */
			bool done = false;
			for (int k = 0; k < PER_EVENT_BUDGET; k++) {
				ssize_t r = read(fd, sink, sizeof(sink));
				if (r > 0) {
					bytes_read += (uint64_t)r;
					if ((size_t)r < sizeof(sink))
						break; /* socket drained; avoid a read just to see EAGAIN */
					continue;
				}
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				done = true; /* r == 0 (peer closed) or a real error */
				break;
			}
			if (done || (events[i].events & (EPOLLERR | EPOLLHUP))) {
				close(fd); /* also removes it from the epoll set */
				kind[fd] = FD_NONE;
				closed++;
				open_now--;
				if (accept_paused) {
					for (int l = 0; l < o->nports; l++)
						epoll_mod(ep, listeners[l], EPOLLIN);
					accept_paused = false;
				}
			}
		}
	}

	double secs = (double)(now_ns() - t_start) / 1e9;
	printf("{\"role\":\"server\",\"ports\":%d,\"accepted\":%llu,\"closedByPeer\":%llu,"
	       "\"openAtExit\":%llu,\"maxOpen\":%llu,\"bytesRead\":%llu,\"acceptErrors\":%llu,"
	       "\"seconds\":%.3f}\n",
	       o->nports, (unsigned long long)accepted, (unsigned long long)closed,
	       (unsigned long long)open_now, (unsigned long long)max_open,
	       (unsigned long long)bytes_read, (unsigned long long)accept_errors, secs);
	fflush(stdout);
	/* Process exit closes every descriptor; no need to walk 50k closes. */
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Client                                                                   */

struct client {
	const struct options *o;
	int ep;
	rlim_t nofile;
	uint8_t *kind;              /* by fd */
	uint64_t *started_ns;       /* by fd: when socket() was called (churn lifetimes) */
	struct sockaddr_storage *addrs; /* one per port */
	socklen_t addrlen;
	uint64_t next_port;         /* round-robin cursor */

	/* Established connections, as a dense list for the active writer; pos[fd]
	 * is the fd's index so removal is O(1) (swap with last). */
	int *list;
	int *pos;
	long nlist;

	uint64_t attempted, established, failed, dropped, inflight;
	struct errno_counts errs;
};

/* Start one non-blocking connect. Returns the fd, or -1 after counting the
 * failure (synchronous failures such as EADDRNOTAVAIL land here). */
static int client_connect(struct client *c)
{
	const struct options *o = c->o;
	const struct sockaddr_storage *dst = &c->addrs[c->next_port++ % (uint64_t)o->nports];
	c->attempted++;
	uint64_t t0 = now_ns();
	int fd = socket(dst->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		c->failed++;
		errno_count(&c->errs, errno);
		return -1;
	}
	if ((rlim_t)fd >= c->nofile) {
		close(fd);
		c->failed++;
		errno_count(&c->errs, EMFILE);
		return -1;
	}
	c->started_ns[fd] = t0;
	if (connect(fd, (const struct sockaddr *)dst, c->addrlen) != 0 && errno != EINPROGRESS) {
		c->failed++;
		errno_count(&c->errs, errno);
		close(fd);
		return -1;
	}
	/* Even if the connect completed synchronously, EPOLLOUT fires at once, so
	 * one completion path handles both cases. */
	c->kind[fd] = FD_CONNECTING;
	c->inflight++;
	epoll_add(c->ep, fd, EPOLLOUT);
	return fd;
}

/* Called on EPOLLOUT/ERR/HUP of a connecting socket: true if the handshake
 * succeeded. SO_ERROR is the only reliable verdict of a non-blocking connect. */
static bool client_finish_connect(struct client *c, int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	c->inflight--;
	if (err != 0) {
		c->failed++;
		errno_count(&c->errs, err);
		close(fd);
		c->kind[fd] = FD_NONE;
		return false;
	}
	c->established++;
	return true;
}

static void list_add(struct client *c, int fd)
{
	c->pos[fd] = (int)c->nlist;
	c->list[c->nlist++] = fd;
	c->kind[fd] = FD_ESTABLISHED;
}

static void list_remove_and_close(struct client *c, int fd)
{
	int i = c->pos[fd];
	int last = c->list[--c->nlist];
	c->list[i] = last;
	c->pos[last] = i;
	c->kind[fd] = FD_NONE;
	close(fd);
	c->dropped++;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int run_client(const struct options *o)
{
	struct client c;
	memset(&c, 0, sizeof(c));
	c.o = o;
	bool churn = o->mode == MODE_CHURN;
	rlim_t want = (rlim_t)(churn ? o->max_inflight : o->conns) + 64;
	c.nofile = raise_nofile(want, true);
	c.kind = calloc(c.nofile, 1);
	c.started_ns = calloc(c.nofile, sizeof(uint64_t));
	c.list = calloc(c.nofile, sizeof(int));
	c.pos = calloc(c.nofile, sizeof(int));
	c.addrs = calloc((size_t)o->nports, sizeof(*c.addrs));
	if (!c.kind || !c.started_ns || !c.list || !c.pos || !c.addrs)
		die("calloc");
	for (int i = 0; i < o->nports; i++)
		c.addrlen = make_addr(o->ip, o->ports[i], &c.addrs[i]);

	int sigfd = setup_signals();
	c.ep = epoll_create1(EPOLL_CLOEXEC);
	if (c.ep < 0)
		die("epoll_create1");
	epoll_add(c.ep, sigfd, EPOLLIN);

	uint64_t t_start = now_ns();
	struct epoll_event events[MAX_EVENTS];
	bool stop = false;

	/* ---- churn ---------------------------------------------------------- */
	if (churn) {
		uint64_t total = (uint64_t)((double)o->rate * o->seconds);
		/* Lifetimes of the first (up to) 4M connections feed the percentiles;
		 * the cap keeps memory bounded for long, fast runs. */
		uint64_t life_cap = total < (1u << 22) ? total : (1u << 22);
		uint64_t *life_ns = calloc(life_cap ? life_cap : 1, sizeof(uint64_t));
		if (!life_ns)
			die("calloc");
		uint64_t nlife = 0, deferred_max = 0;
		/* 1 ms ticks: connects are issued in small per-millisecond batches
		 * that track the target rate, rather than one burst per second. */
		int timer = make_timer(1000000);
		epoll_add(c.ep, timer, EPOLLIN);
		uint64_t send_end = t_start + (uint64_t)(o->seconds * 1e9);
		/* After the last connect, allow in-flight handshakes a bounded grace
		 * period (a lost SYN is retransmitted after 1 s) before giving up. */
		uint64_t hard_end = send_end + 3000000000ull;

		while (!stop) {
			uint64_t now = now_ns();
			if (now >= hard_end || (now >= send_end && c.inflight == 0 && c.attempted >= total))
				break;
			int n = epoll_wait(c.ep, events, MAX_EVENTS, 100);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				die("epoll_wait");
			}
			for (int i = 0; i < n; i++) {
				int fd = events[i].data.fd;
				if (fd == sigfd) {
					stop = true;
					continue;
				}
				if (fd == timer) {
					drain_timer(timer);
					/* The cumulative schedule: by time t, rate*t connects are due.
					 * Falling behind (inflight cap) is caught up later, not lost. */
					uint64_t el = now_ns() - t_start;
					uint64_t due = (uint64_t)((double)o->rate * (double)el / 1e9);
					if (due > total)
						due = total;
					if (due > c.attempted && due - c.attempted > deferred_max)
						deferred_max = due - c.attempted;
					while (c.attempted < due && c.inflight < (uint64_t)o->max_inflight)
						client_connect(&c);
					continue;
				}
				if (c.kind[fd] == FD_CONNECTING) {
					bool ok = client_finish_connect(&c, fd);
					if (ok) {
						/* Handshake done: close immediately. The lifetime runs
						 * from socket() to the return of close(). */
						close(fd);
						c.kind[fd] = FD_NONE;
						if (nlife < life_cap)
							life_ns[nlife++] = now_ns() - c.started_ns[fd];
					}
				}
			}
		}
		uint64_t timed_out = c.inflight; /* still unfinished at the end */
		double secs = (double)(now_ns() - t_start) / 1e9;
		qsort(life_ns, nlife, sizeof(uint64_t), cmp_u64);
		double p50 = nlife ? (double)life_ns[nlife / 2] / 1e3 : 0;
		double p99 = nlife ? (double)life_ns[(nlife * 99) / 100] / 1e3 : 0;
		double pmax = nlife ? (double)life_ns[nlife - 1] / 1e3 : 0;
		printf("{\"role\":\"client\",\"mode\":\"churn\",\"rate\":%ld,\"target\":%llu,"
		       "\"created\":%llu,\"established\":%llu,\"failed\":%llu,\"timedOut\":%llu,"
		       "\"maxBehind\":%llu,\"lifetimeUs\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
		       "\"errors\":",
		       o->rate, (unsigned long long)total, (unsigned long long)c.attempted,
		       (unsigned long long)c.established, (unsigned long long)c.failed,
		       (unsigned long long)timed_out, (unsigned long long)deferred_max, p50, p99, pmax);
		errno_print_json(&c.errs);
		printf(",\"seconds\":%.3f,\"interrupted\":%s}\n", secs, stop ? "true" : "false");
		fflush(stdout);
		return c.established == c.attempted && !stop ? 0 : 1;
	}

	/* ---- idle / active: set up N connections ---------------------------- */
	uint64_t setup_deadline = t_start + (uint64_t)(o->setup_timeout * 1e9);
	bool ready = false, setup_timed_out = false;
	uint64_t ready_ns = 0;
	uint64_t target = (uint64_t)o->conns;

	/* Keep at most max_inflight handshakes outstanding: a burst of 50k SYNs
	 * would overflow the listener's SYN queue and stall on retransmits. */
	while (c.attempted < target && c.inflight < (uint64_t)o->max_inflight)
		client_connect(&c);

	while (!stop && !ready) {
		if (c.established + c.failed >= target) {
			ready = true;
			break;
		}
		if (now_ns() >= setup_deadline) {
			setup_timed_out = true;
			break;
		}
		int n = epoll_wait(c.ep, events, MAX_EVENTS, 100);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			if (fd == sigfd) {
				stop = true;
				continue;
			}
			if (c.kind[fd] == FD_CONNECTING) {
				if (client_finish_connect(&c, fd)) {
					list_add(&c, fd);
					/* From now on only a peer close/reset is interesting. The
					 * server never sends, so EPOLLIN means EOF or error. */
					epoll_mod(c.ep, fd, EPOLLIN | EPOLLRDHUP);
				}
			} else if (c.kind[fd] == FD_ESTABLISHED) {
				list_remove_and_close(&c, fd);
			}
		}
		while (c.attempted < target && c.inflight < (uint64_t)o->max_inflight)
			client_connect(&c);
	}

	if (ready) {
		ready_ns = now_ns();
		if (c.failed > 0)
			fprintf(stderr, "load: %llu of %llu connections failed\n",
				(unsigned long long)c.failed, (unsigned long long)target);
		printf("READY %ld\n", c.nlist);
		fflush(stdout);
	} else if (setup_timed_out) {
		fprintf(stderr, "load: setup timed out after %.0f s: %llu established, %llu in flight\n",
			o->setup_timeout, (unsigned long long)c.established,
			(unsigned long long)c.inflight);
	}

	/* ---- hold (idle) or write (active) ---------------------------------- */
	uint64_t hold_start = now_ns();
	uint64_t deadline = o->seconds > 0 ? hold_start + (uint64_t)(o->seconds * 1e9) : 0;
	uint64_t writes = 0, bytes_written = 0, eagain = 0, partial = 0, overrun_skipped = 0;
	int timer = -1;
	char *payload = NULL;
	/* Writes are paced as a cumulative schedule of "slots": nlist slots per
	 * period, spread evenly over the period. At each tick the writer catches
	 * up to the slots due by now, walking the list round robin, so 10k
	 * connections are covered in ~10 small batches per period instead of one
	 * 10k-write burst. */
	uint64_t slots_done = 0;
	uint64_t period_ns = (uint64_t)o->period_ms * 1000000ull;
	if (ready && o->mode == MODE_ACTIVE) {
		payload = malloc((size_t)o->bytes);
		if (!payload)
			die("malloc");
		memset(payload, 'x', (size_t)o->bytes);
		uint64_t tick = period_ns / 10;
		if (tick < 1000000ull)
			tick = 1000000ull; /* >1k wakeups/s buys no smoothness */
		if (tick > 100000000ull)
			tick = 100000000ull;
		timer = make_timer(tick);
		epoll_add(c.ep, timer, EPOLLIN);
	}

	while (ready && !stop) {
		if (deadline && now_ns() >= deadline)
			break;
		int n = epoll_wait(c.ep, events, MAX_EVENTS, wait_ms_until(deadline));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;
			if (fd == sigfd) {
				stop = true;
				continue;
			}
			if (fd == timer) {
				drain_timer(timer);
				if (c.nlist == 0)
					continue;
				uint64_t el = now_ns() - hold_start;
				uint64_t due = (uint64_t)((double)el / (double)period_ns * (double)c.nlist);
				/* The list can shrink (peer closes), which can pull `due`
				 * below what was already written; nothing is due then. */
				if (due <= slots_done)
					continue;
				/* More than one period behind: skip ahead rather than fire a
				 * catch-up storm; report it, since it means the load is
				 * below its nominal rate. */
				if (due - slots_done > (uint64_t)c.nlist) {
					overrun_skipped += due - slots_done - (uint64_t)c.nlist;
					slots_done = due - (uint64_t)c.nlist;
				}
				while (slots_done < due && c.nlist > 0) {
					int wfd = c.list[slots_done % (uint64_t)c.nlist];
					slots_done++;
					ssize_t w = send(wfd, payload, (size_t)o->bytes, MSG_NOSIGNAL | MSG_DONTWAIT);
					if (w == (ssize_t)o->bytes) {
						writes++;
						bytes_written += (uint64_t)w;
					} else if (w >= 0) {
						/* Send buffer nearly full: the rest is simply dropped;
						 * the payload is meaningless filler. */
						partial++;
						bytes_written += (uint64_t)w;
					} else if (errno == EAGAIN) {
						eagain++;
					} else {
						list_remove_and_close(&c, wfd);
					}
				}
				continue;
			}
			if (c.kind[fd] == FD_ESTABLISHED)
				list_remove_and_close(&c, fd); /* peer closed or reset */
		}
	}

	double secs = (double)(now_ns() - t_start) / 1e9;
	double hold_s = (double)(now_ns() - hold_start) / 1e9;
	double setup_ms = ready ? (double)(ready_ns - t_start) / 1e6 : -1;
	printf("{\"role\":\"client\",\"mode\":\"%s\",\"target\":%llu,\"established\":%llu,"
	       "\"failed\":%llu,\"openAtExit\":%ld,\"dropped\":%llu,\"setupMs\":%.1f,"
	       "\"writes\":%llu,\"bytesWritten\":%llu,\"partialWrites\":%llu,\"eagain\":%llu,"
	       "\"overrunSkipped\":%llu,\"writesPerSec\":%.0f,\"errors\":",
	       o->mode == MODE_ACTIVE ? "active" : "idle", (unsigned long long)target,
	       (unsigned long long)c.established, (unsigned long long)c.failed, c.nlist,
	       (unsigned long long)c.dropped, setup_ms, (unsigned long long)writes,
	       (unsigned long long)bytes_written, (unsigned long long)partial,
	       (unsigned long long)eagain, (unsigned long long)overrun_skipped,
	       ready && hold_s > 0 ? (double)writes / hold_s : 0.0);
	errno_print_json(&c.errs);
	printf(",\"seconds\":%.3f}\n", secs);
	fflush(stdout);
	free(payload);
	/* Exit closes the descriptors in one go. */
	return ready ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct options o;
	parse_options(argc, argv, &o);
	/* Line-buffer stdout so READY reaches a driver reading through a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	return o.role == ROLE_SERVER ? run_server(&o) : run_client(&o);
}
