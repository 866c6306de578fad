# b24-bridge: the compiled bridge (dist/, built here by `npm ci`'s prepare step) on plain Node,
# with production dependencies only. The build stage has TypeScript and the workspaces the
# compiler reads (the emulator and the simulator, for the demo's types); the image has neither,
# nor tsx: `b24-bridge demo` in it says that it needs a development install.
#
#   docker build -t b24-bridge .
#   docker run -d --name b24-bridge -p 3000:3000 -v b24-data:/data \
#     -v $PWD/bridge.yaml:/config/bridge.yaml:ro -e B24_BRIDGE_CONFIG=/config/bridge.yaml \
#     -e B24_BRIDGE_BITRIX_CLIENT_SECRET=… -e B24_BRIDGE_ADMIN_PASSWORD=… b24-bridge

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 is native: its prebuilt binary is fetched when one matches, else it is compiled.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY emulator emulator
COPY simulator simulator
COPY scripts scripts
COPY src src
# npm ci builds dist/ (prepare); prune then drops TypeScript, tsx and the workspaces' dev tools.
RUN npm ci --no-audit --no-fund \
  && npm prune --omit=dev --no-audit --no-fund \
  && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    B24_BRIDGE_HOST=0.0.0.0 \
    B24_BRIDGE_PORT=3000 \
    B24_BRIDGE_SQLITE_PATH=/data/bridge.sqlite
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY bin bin
# /data holds the SQLite file (WAL), recordings and admin-lines.json: back it up (README).
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD node -e "fetch('http://127.0.0.1:3000/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# SIGTERM lets the bridge close its store cleanly; node is PID 1, so it must handle it (it does).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/b24-bridge.js"]
CMD ["serve"]
