# The broker image docker-compose.yml builds (production reference; tests do not build it).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
RUN useradd --system --home /var/lib/secret-broker broker && mkdir -p /var/lib/secret-broker && chown broker /var/lib/secret-broker
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/lib ./lib
COPY package.json ./
USER broker
CMD ["node", "lib/broker/main.js", "--role", "all"]
