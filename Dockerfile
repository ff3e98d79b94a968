# Self-hosting: `deno task start` on an embedded database in the /data volume.
#   docker build -t orders-api .
#   docker run -p 8000:8000 -v orders-data:/data \
#     -e JWT_SECRET=... -e PII_ENCRYPTION_KEY=... orders-api
# For several instances, set DATABASE_URL (libsql://…) and DATABASE_AUTH_TOKEN
# to one libSQL server and UPSTASH_REDIS_REST_URL/TOKEN to one Redis instead of
# the volume (see docs/deploy.md).
ARG DENO_VERSION=2.9.6

FROM denoland/deno:debian-${DENO_VERSION} AS build
WORKDIR /app
COPY deno.json deno.lock ./
COPY . .
# Dependencies (the native libSQL driver included) and the module graph,
# exactly as locked.
RUN deno install --frozen && deno cache --frozen main.ts tools/db_migrate.ts \
  && mkdir -p /data

FROM denoland/deno:distroless-${DENO_VERSION}
WORKDIR /app
COPY --from=build /deno-dir /deno-dir
COPY --from=build /app /app
# The database lives in the volume, owned by the unprivileged user.
COPY --from=build --chown=65532:65532 /data /data
ENV DENO_DIR=/deno-dir \
  HOST=0.0.0.0 \
  PORT=8000 \
  DATABASE_URL=file:/data/orders.db
VOLUME ["/data"]
EXPOSE 8000
USER 65532:65532
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:8000/readyz'); Deno.exit(r.ok ? 0 : 1)"]
CMD ["task", "start"]
