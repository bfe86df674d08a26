# syntax=docker/dockerfile:1
# Berth container image: `docker build -t berth .`, then see deploy/ (compose with 2 replicas + PostgreSQL + S3,
# Kubernetes manifests). Stateless when metadata.url is PostgreSQL and storage.driver is s3; with the defaults
# (SQLite + files) everything lives in the /data volume and only one replica may use it.

# Build: compile TypeScript to dist/.
FROM node:24-bookworm-slim AS build
WORKDIR /app
# Compilers only for the case that better-sqlite3 has no prebuilt binary for this platform.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# Production dependencies only (native better-sqlite3 built or fetched here, not in the runtime image).
FROM node:24-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    BERTH_SERVER_HOST=0.0.0.0 \
    BERTH_SERVER_PORT=5000 \
    BERTH_DATA_DIR=/data
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY web ./web
COPY docs ./docs
# `berth` on PATH for the admin commands (`docker exec <container> berth user create alice`); BERTH_DATA_DIR points
# them at the server's /data. The image's `node` user (uid 1000) owns the data directory; Berth never needs root.
RUN chmod 0755 dist/main.js && ln -s /app/dist/main.js /usr/local/bin/berth && mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 5000
# /healthz checks the database too (readiness); /livez only the process. Plain HTTP inside the container.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.BERTH_SERVER_PORT || 5000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/main.js"]
CMD ["serve"]
