# syntax=docker/dockerfile:1
# lastmile's container image: `docker build -t lastmile:0.1.0 .`
# With the software GPU (Mesa lavapipe, Vulkan on the CPU; for trying the webgpu backend without a
# GPU): `docker build --build-arg SOFTWARE_GPU=1 -t lastmile:0.1.0-swgpu .`
#
# GPU nodes: the image carries the Vulkan loader (libvulkan1), not a driver. The NVIDIA container
# toolkit mounts the host driver's Vulkan ICD (nvidia_icd.json, libGLX_nvidia.so.0 and the
# libraries they need) when NVIDIA_DRIVER_CAPABILITIES includes `graphics`, which this image sets:
#   docker run --gpus all -e LASTMILE_BACKEND=webgpu lastmile:0.1.0
# Check with `lastmile info` (the adapter Dawn found) or `vulkaninfo --summary` (Debian's
# vulkan-tools) in a container started the same way. Kubernetes: deploy/kubernetes/overlays/gpu.
# test/deploy/dockerfile.test.ts checks this file's structure (Docker is not run there).

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3's native addon is built from source when no prebuilt binary can be fetched.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# onnxruntime-node runs on the CPU here: skip its optional CUDA download.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# TypeScript into dist/src, the web console into dist/console; then drop the dev dependencies.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
# 1 installs Mesa >= 24 lavapipe from bookworm-backports (scripts/install-software-gpu.sh).
ARG SOFTWARE_GPU=0
COPY scripts/install-software-gpu.sh /tmp/install-software-gpu.sh
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvulkan1 \
 && if [ "$SOFTWARE_GPU" = "1" ]; then bash /tmp/install-software-gpu.sh; fi \
 && rm -rf /var/lib/apt/lists/* /tmp/install-software-gpu.sh \
 && groupadd --gid 10001 lastmile \
 && useradd --uid 10001 --gid 10001 --home-dir /home/lastmile --create-home --shell /usr/sbin/nologin lastmile \
 && mkdir -p /data \
 && chown 10001:10001 /data
WORKDIR /app
# What the published package holds (package.json "files"), and the production dependencies.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/shaders ./shaders
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/console ./dist/console
ENV LASTMILE_HOST=0.0.0.0 \
    LASTMILE_PORT=8080 \
    LASTMILE_DATA_DIR=/data \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
VOLUME ["/data"]
EXPOSE 8080
USER 10001:10001
# Docker's own check; Kubernetes uses the Deployment's probes instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.LASTMILE_PORT||8080)+'/v2/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM: the server stops accepting, answers what is queued, writes its logs, then exits.
STOPSIGNAL SIGTERM
# As package.json's start script runs it (npm start also builds; the image is built already).
ENTRYPOINT ["node", "--liftoff-only", "bin/lastmile.js", "serve"]
