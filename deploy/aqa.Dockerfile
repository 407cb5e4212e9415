# The aqa image: one binary, run as ingest, scorer or web (`aqa serve --roles ...`) or as the venue encoder.
# Build from the repository root:  docker build -f deploy/aqa.Dockerfile -t aqastream/aqa .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY web/package.json web/package-lock.json web/
RUN cd web && npm ci --no-audit --no-fund --loglevel=error
COPY . .
RUN dotnet publish src/AqaStream.Cli/AqaStream.Cli.csproj -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0
# librdkafka (Kafka client under Confluent.Kafka 1.9.3), ffmpeg (ingest, encoder), OpenBLAS (scorer GEMM).
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        librdkafka1 ffmpeg libopenblas0-pthread >/dev/null \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
COPY models ./models
USER app
ENTRYPOINT ["/app/aqa"]
CMD ["serve", "--help"]
