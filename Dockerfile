# b24-bridge: the bridge runs its TypeScript sources through tsx (no build step), so tsx is needed
# at run time. It is a production dependency of the emulator workspace, so `npm ci --omit=dev`
# keeps it, and the workspace link (node_modules/b24-emulator) gives `b24-bridge demo` its portal.
#
#   docker build -t b24-bridge .
#   docker run -d --name b24-bridge -p 3000:3000 -v b24-data:/data \
#     -v $PWD/bridge.json:/config/bridge.json:ro -e B24_BRIDGE_CONFIG=/config/bridge.json \
#     -e B24_BRIDGE_BITRIX_CLIENT_SECRET=… -e B24_BRIDGE_ADMIN_PASSWORD=… b24-bridge

FROM node:20-bookworm-slim AS deps
WORKDIR /app
# better-sqlite3 is native: its prebuilt binary is fetched when one matches, else it is compiled.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY emulator/package.json emulator/package.json
COPY simulator/package.json simulator/package.json
COPY emulator/bin emulator/bin
COPY emulator/src emulator/src
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    B24_BRIDGE_HOST=0.0.0.0 \
    B24_BRIDGE_PORT=3000 \
    B24_BRIDGE_SQLITE_PATH=/data/bridge.sqlite
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=deps /app/emulator emulator
COPY package.json ./
COPY bin bin
COPY src src
# /data holds the SQLite file (WAL), recordings and admin-lines.json: back it up (README).
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:3000/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# SIGTERM lets the bridge close its store cleanly; node is PID 1, so it must handle it (it does).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/b24-bridge.js"]
CMD ["serve"]
