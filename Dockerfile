# The web service: the API compiled to JavaScript, on Node.js 24.
# NODE_IMAGE picks the base (a mirror, or a local stand-in without registry
# access); nothing here depends on the base's distribution.
ARG NODE_IMAGE=node:24-alpine

# Production dependencies, exactly as package-lock.json pins them.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# Compile to dist/. Of the development dependencies only the compiler and the
# type packages are needed, at the versions package-lock.json pins; the rest
# (test runner, linters: four fifths of the tree) would take minutes to fetch.
FROM deps AS build
RUN tools=$(node -p "const { packages } = require('./package-lock.json'); \
      ['typescript', '@types/node', '@types/pg'].map((name) => name + '@' + packages['node_modules/' + name].version).join(' ')") \
    && npm pkg delete devDependencies \
    && npm install --no-save --ignore-scripts --no-audit --no-fund $tools
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY plugins ./plugins
COPY routes ./routes
COPY lib ./lib
RUN npm run build

# What both runtimes share (the image below, and compose.dev.yaml's): the base,
# the folder, the port and the healthcheck.
# Liveness: /health/live answers 200 while the process serves HTTP. Not /health:
# with Postgres or Redis down this container still serves what it can and heals
# by itself, so it is not the one to mark unhealthy (GET /health/ready tells
# whether the whole stack answers). Node's fetch, no curl. compose.yaml runs
# this same test, at shorter intervals.
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
EXPOSE 5000
HEALTHCHECK --interval=10s --timeout=10s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 5000) + '/health/live', { signal: AbortSignal.timeout(5000) }).then((res) => process.exit(res.status === 200 ? 0 : 1), () => process.exit(1))"]

# Development (compose.dev.yaml, `docker compose -f compose.dev.yaml up --watch`):
# the TypeScript sources as they are, run by Node (which strips the types);
# Compose copies each changed file in and restarts the container. As root:
# Docker copies a file into a container whose user the host does not have
# only by failing (moby/moby#34142), and most hosts have no user `node`.
FROM runtime AS dev
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY sql ./sql
COPY src ./src
COPY plugins ./plugins
COPY routes ./routes
COPY lib ./lib
CMD ["node", "src/server.ts"]

# Run: the production dependencies, the compiled code and the migrations, all
# owned by root, so the process (user node) cannot change its own code.
FROM runtime
ENV NODE_ENV=production
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY sql ./sql
COPY --from=build /app/dist ./dist
USER node
# node as the main process (never npm), which handles SIGTERM itself; run it
# under an init process (compose `init: true`, `docker run --init`).
# The V8 heap sizes of `npm start` (README: Performance and memory): test/deploy/compose-files.test.ts keeps them equal.
CMD ["node", "--max-semi-space-size=4", "--max-old-space-size=256", "dist/src/server.js"]
