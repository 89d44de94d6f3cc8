# Stratus: one image for every role (`stratus up`, `scheduler`, `node`).
#   docker build -t stratus:0.1.0 .
#   docker run --rm -p 7400:7400 -p 7480:7480 -e STRATUS_TOKEN=... stratus:0.1.0 \
#     up --host 0.0.0.0 --port 7400 --http-port 7480
# Build stage: install with the lock, compile TypeScript to dist/, then drop dev dependencies.
FROM node:20-slim AS build
# onnxruntime-node (a dev dependency, pruned below) would otherwise download CUDA libraries in its
# postinstall: the npm of node:20 does not read package.json's allowScripts.
ENV ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
# `npm run build` ends with scripts/bundle-worker.mjs, which writes the executors' worker bundle.
COPY scripts/bundle-worker.mjs ./scripts/
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Run stage: dist/, production node_modules and the launcher only. Without tsconfig.json and
# src/, bin/stratus.js runs the compiled CLI.
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
USER node
# 7400 the wire protocol (clients, peers), 7480 HTTP ingress and dashboard, 9464 /metrics.
EXPOSE 7400 7480 9464
ENTRYPOINT ["node", "/app/bin/stratus.js"]
CMD ["up", "--host", "0.0.0.0", "--port", "7400", "--http-port", "7480"]
