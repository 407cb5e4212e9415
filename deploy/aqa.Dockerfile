# The aqa image: one binary, run as ingest, scorer or web (`aqa serve --roles ...`), as the venue encoder, or as the
# offline CLI (train / eval / replay). Targets: `aqa` (default command: help) and `web` (the web host on port 5080).
# From the repository root:
#   docker build -f deploy/aqa.Dockerfile --target aqa -t aqastream/aqa .
#   docker build -f deploy/aqa.Dockerfile --target web -t aqastream/web .
# Debian 12 images: Confluent.Kafka 2.16 loads librdkafka.redist's centos8 build, which runs on Debian 12 (ARCHITECTURE.md).
FROM mcr.microsoft.com/dotnet/sdk:10.0-bookworm-slim AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY web/package.json web/package-lock.json web/
RUN cd web && npm ci --no-audit --no-fund --loglevel=error
COPY . .
RUN dotnet publish src/AqaStream.Cli/AqaStream.Cli.csproj -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0-bookworm-slim AS aqa
# ffmpeg (ingest, venue encoder); libtorch (libtorch-cpu-linux-x64) and librdkafka (librdkafka.redist) ship in the app.
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        ffmpeg >/dev/null \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
COPY models ./models
USER app
ENTRYPOINT ["/app/aqa"]
CMD ["--help"]

FROM aqa AS web
EXPOSE 5080
HEALTHCHECK --interval=10s --timeout=3s CMD ["/bin/sh", "-c", "exec 3<>/dev/tcp/127.0.0.1/5080"]
CMD ["serve", "--roles", "web", "--host", "0.0.0.0", "--port", "5080"]
