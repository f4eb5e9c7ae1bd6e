# syntax=docker/dockerfile:1
# tcp-info-bun: per-connection TCP statistics collector.
#
# Build:  docker build -t tcp-info-bun .
# Run:    docker run --rm --network host --cap-add NET_ADMIN \
#           -v /var/spool/tcpinfo:/data -v /var/run/tcpinfo:/var/run/tcpinfo tcp-info-bun
#
# Privileges: sock_diag only sees the sockets of the network namespace it runs in, so the
# container must share the host's (--network host). NET_ADMIN is needed to join the
# kernel's TCP destroy multicast groups (final snapshots) and for the mark/class fields;
# without it run with --no-destroy-events.

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
    TCPINFO_LISTEN=0.0.0.0:9990
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json bunfig.toml ./
COPY src ./src
VOLUME ["/data"]
EXPOSE 9990
# The collector needs root inside the container for netlink sock_diag with NET_ADMIN.
USER root
ENTRYPOINT ["bun", "src/index.ts"]
CMD ["collector"]
