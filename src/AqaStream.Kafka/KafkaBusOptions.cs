using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace AqaStream.Kafka;

/// <summary>
/// How AqaStream talks to Kafka. Every librdkafka setting (SASL, TLS, sizes, timeouts) passes through
/// <see cref="Settings"/>; the named properties are the ones AqaStream itself relies on. Configuration section
/// <c>Kafka</c> (appsettings, <c>AQA_Kafka__…</c> environment variables, <c>--kafka-setting key=value</c>).
/// </summary>
public sealed record KafkaBusOptions
{
    /// <summary>host:port[,host:port…] of the brokers.</summary>
    public string BootstrapServers { get; init; } = "localhost:9092";

    /// <summary>The clock of commit intervals, startup deadlines and dead-letter times (a fake one in tests).</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Extra librdkafka settings applied to every client (producer, consumers, admin), e.g.
    /// <c>security.protocol=SASL_SSL</c>, <c>sasl.mechanism=SCRAM-SHA-512</c>, <c>ssl.ca.location=…</c>.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();

    /// <summary>Largest message value sent inline. A video chunk over it goes by reference (claim check) when
    /// <see cref="ClaimCheckDirectory"/> is set, otherwise it is refused with an error; any other message over it is refused.
    /// Brokers must accept it (topic <c>max.message.bytes</c>); the producer's <c>message.max.bytes</c> is raised to match.</summary>
    public int MaxMessageBytes { get; init; } = 1_000_000;

    /// <summary>Where chunks over <see cref="MaxMessageBytes"/> are written (a directory every ingest can read: shared
    /// volume); the message then carries a <c>file://</c> <c>payloadRef</c>. Null: no claim check.</summary>
    public string? ClaimCheckDirectory { get; init; }

    /// <summary>How often consumers commit (after the bus's producers have flushed everything produced before).</summary>
    public TimeSpan CommitInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long to keep retrying an unreachable cluster at start before giving up with an error.</summary>
    public TimeSpan StartupTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Create missing topics at start (real Kafka; the mock cluster has no CreateTopics).</summary>
    public bool CreateTopics { get; init; }

    /// <summary>Partitions of topics created by <see cref="CreateTopics"/>.</summary>
    public int Partitions { get; init; } = 8;

    /// <summary>Replication factor of topics created by <see cref="CreateTopics"/>.</summary>
    public short ReplicationFactor { get; init; } = 1;

    /// <summary>Client id prefix (shows in broker logs and metrics).</summary>
    public string ClientId { get; init; } = "aqa";

    /// <summary>Where the bus reports retries, rebalances (information) and errors (warnings); default: nowhere.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;

    /// <summary>Checks the values that have a range.</summary>
    public KafkaBusOptions Validated()
    {
        if (string.IsNullOrWhiteSpace(BootstrapServers)) { throw new ArgumentException("Kafka:BootstrapServers is empty (host:port of a broker)."); }
        if (MaxMessageBytes < 1024) { throw new ArgumentException($"Kafka:MaxMessageBytes must be at least 1024 (got {MaxMessageBytes})."); }
        if (CommitInterval <= TimeSpan.Zero) { throw new ArgumentException("Kafka:CommitInterval must be positive."); }
        if (Partitions < 1) { throw new ArgumentException("Kafka:Partitions must be at least 1."); }
        return this;
    }
}
