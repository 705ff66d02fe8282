# The broker image that docker-compose.yml builds. No test builds it (no Docker engine there):
# test/deploy/dockerfile.test.ts lints it and checks its build context, and
# test/project/lockfile.test.ts runs its `npm ci --omit=dev` against the committed lock.
#
#   node_modules  `npm ci --omit=dev` from package-lock.json alone (production packages, native addons built)
#   build         `npm ci`, then `make build`'s scripts/build.sh: lib/ and lib/workflow-bundle.js
#   final         node, the two above, the secret-broker CLI; runs as the unprivileged user broker (10001)
ARG NODE_IMAGE=node:24.19.0-bookworm-slim

FROM ${NODE_IMAGE} AS node_modules
WORKDIR /app
# ssh2's crypto binding and cpu-features are native addons: node-gyp needs python3, make and g++.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY scripts/check-native.js ./scripts/check-native.js
RUN node scripts/check-native.js

FROM node_modules AS build
RUN npm ci --no-audit --no-fund
COPY . .
RUN scripts/build.sh

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
RUN groupadd --system --gid 10001 broker \
 && useradd --system --uid 10001 --gid broker --home-dir /var/lib/secret-broker --shell /usr/sbin/nologin broker \
 && install -d -o broker -g broker -m 0700 /var/lib/secret-broker \
 && ln -s /app/bin/secret-broker /usr/local/bin/secret-broker
COPY --from=node_modules /app/node_modules ./node_modules
COPY --from=build /app/lib ./lib
COPY package.json .node-version ./
COPY bin ./bin
USER broker:broker
ENV BROKER_DATA_DIR=/var/lib/secret-broker
# 8787: the HTTP API (role api, all); 9464: Prometheus /metrics (every role).
EXPOSE 8787 9464
CMD ["node", "lib/broker/main.js", "--role", "all"]
