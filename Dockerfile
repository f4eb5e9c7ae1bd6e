# syntax=docker/dockerfile:1
# tcp-info-bun: per-connection TCP statistics collector.
#
# Build:  docker build -t tcp-info-bun .
# Run:    docker run --rm --network host --cap-add NET_ADMIN \
#           -v /var/spool/tcpinfo:/data -v /var/run/tcpinfo:/var/run/tcpinfo tcp-info-bun
#
# The API (every connection on the host: addresses, ports, uids) listens on the host's
# 127.0.0.1:9990 only. To reach it from elsewhere, set TCPINFO_LISTEN=0.0.0.0:9990 AND
# TCPINFO_API_TOKEN_FILE (a file holding a bearer token, mounted read-only): without a
# token anyone who can reach the port reads it all.
#
# Privileges: sock_diag only sees the sockets of the network namespace it runs in, so the
# container must share the host's (--network host). NET_ADMIN is what the kernel asks
# before it sends a socket's mark (INET_DIAG_MARK); dumps and TCP destroy events need no
# capability. Without it the collector runs, says so at start, and archives no mark.

# Stage 1: install dependencies with npm, which builds zstd-napi's native addon against
# Node's headers (node-gyp needs python3, make and g++, all in this image).
FROM node:20-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && node -e "require('zstd-napi')"

# Stage 2: Bun's official image runs the TypeScript directly; the addon uses N-API, which
# Bun implements, so the module built above loads unchanged (same Debian bookworm glibc).
FROM oven/bun:1.4.5-debian AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    TCPINFO_OUTPUT=/data \
    TCPINFO_LISTEN=127.0.0.1:9990
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json bunfig.toml LICENSE NOTICE ./
COPY src ./src
VOLUME ["/data"]
# Documentation only: with --network host the port is the host's, on 127.0.0.1.
EXPOSE 9990
# The collector needs root inside the container for netlink sock_diag with NET_ADMIN.
USER root
# Healthy while the collector polls: /healthz answers 503 after 60 s without a poll.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["bun", "src/healthcheck.ts"]
ENTRYPOINT ["bun", "src/index.ts"]
CMD ["collector"]
