using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace AqaStream.Pipeline.Telemetry;

/// <summary>A counter an instrument reports: which one, its value now, and the topic it is about (dead letters).</summary>
/// <param name="Counter">The instrument.</param>
/// <param name="Value">Its value now (a running total, or a level for <see cref="AqaCounter.ConnectedClients"/> and
/// <see cref="AqaCounter.ConsumerLag"/>).</param>
/// <param name="Topic">The topic, for <see cref="AqaCounter.DeadLetters"/> (source) and <see cref="AqaCounter.ConsumerLag"/>; otherwise null.</param>
public readonly record struct CounterReading(AqaCounter Counter, long Value, string? Topic = null);

/// <summary>The counters the system exports.</summary>
public enum AqaCounter
{
    /// <summary>Video chunks received by the ingest.</summary>
    ChunksReceived,

    /// <summary>Frames decoded from accepted chunks.</summary>
    FramesDecoded,

    /// <summary>Clips windowed and featurised.</summary>
    ClipsDecoded,

    /// <summary>Clips scored.</summary>
    ClipsScored,

    /// <summary>Messages sent to the dead letters (by source topic).</summary>
    DeadLetters,

    /// <summary>Hub clients connected now (a level, not a total).</summary>
    ConnectedClients,

    /// <summary>Pushes written to clients.</summary>
    PushesSent,

    /// <summary>Pushes replaced by a snapshot because their client lagged.</summary>
    PushesCoalesced,

    /// <summary>Records a consumer group of this process has not read yet (a level, by topic).</summary>
    ConsumerLag,
}

/// <summary>A set of counters (the ingest's, the scorer's, the fan-out's) that the exported instruments read.</summary>
public interface ICounterSource
{
    /// <summary>Adds this source's readings now to <paramref name="readings"/>.</summary>
    void Read(ICollection<CounterReading> readings);
}

/// <summary>
/// The system's instruments (<see cref="System.Diagnostics.Metrics"/>, meter <see cref="MeterName"/>): what each box
/// does, for any exporter (the web host serves them as Prometheus text at <c>/metrics</c> through OpenTelemetry).
/// The counter classes (<c>PipelineCounters</c>, <c>IngestCounters</c>, <c>DeliveryCounters</c>) are the one home of
/// each count: they register here and the observable instruments read them when an exporter collects, so the hot
/// paths pay one interlocked add and nothing else, and a listener that starts late still sees the whole totals.
/// Counter sources are kept for the life of the process (totals stay monotonic); one process runs one of each in
/// production. A source of levels (a Kafka bus's consumer lag) disposes its registration when it closes, so a process
/// that opens and closes buses does not keep every closed one.
/// </summary>
public static class AqaMetrics
{
    /// <summary>The meter every instrument belongs to.</summary>
    public const string MeterName = "AqaStream";

    private static readonly ConcurrentDictionary<ICounterSource, byte> s_sources = new(ReferenceEqualityComparer.Instance);
    private static readonly Meter s_meter = new(MeterName, "1.0");

    static AqaMetrics()
    {
        Observe(AqaCounter.ChunksReceived, "aqa.ingest.chunks", "{chunk}", "Video chunks received by the ingest.");
        Observe(AqaCounter.FramesDecoded, "aqa.ingest.frames", "{frame}", "Frames decoded from accepted chunks.");
        Observe(AqaCounter.ClipsDecoded, "aqa.ingest.clips", "{clip}", "Clips windowed and featurised.");
        Observe(AqaCounter.ClipsScored, "aqa.scorer.clips", "{clip}", "Clips scored.");
        Observe(AqaCounter.DeadLetters, "aqa.dead_letters", "{message}", "Messages sent to the dead letters, by source topic.");
        Observe(AqaCounter.PushesSent, "aqa.delivery.pushes", "{push}", "Pushes written to clients.");
        Observe(AqaCounter.PushesCoalesced, "aqa.delivery.coalesced", "{push}", "Pushes replaced by a snapshot (client lagging).");
        s_meter.CreateObservableUpDownCounter("aqa.delivery.clients", () => Measure(AqaCounter.ConnectedClients), "{client}", "Hub clients connected.");
        s_meter.CreateObservableGauge("aqa.kafka.consumer_lag", () => Measure(AqaCounter.ConsumerLag), "{record}",
            "Records behind the end of the assigned partitions, by topic (high watermark − position).");
    }

    /// <summary>From the clip's video reaching the ingest to its provisional score.</summary>
    public static Histogram<double> ClipToProvisional { get; } = s_meter.CreateHistogram<double>("aqa.scorer.clip_to_provisional", "ms",
        "Time from a clip's video reaching the ingest to the provisional score after it.");

    /// <summary>Makes <paramref name="source"/>'s counters part of the exported instruments; disposing the result takes
    /// it out again (for sources of levels only: a running total taken out would make its counter go back).</summary>
    public static IDisposable Register(ICounterSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        s_sources.TryAdd(source, 0);
        return new Registration(source);
    }

    /// <summary>Whether <paramref name="source"/> is registered now.</summary>
    public static bool IsRegistered(ICounterSource source) => s_sources.ContainsKey(source);

    private sealed class Registration(ICounterSource source) : IDisposable
    {
        public void Dispose() => s_sources.TryRemove(source, out _);
    }

    /// <summary>The exported value of <paramref name="counter"/> now, summed over every registered source (and topic).</summary>
    public static long Total(AqaCounter counter) => Measure(counter).Sum(m => m.Value);

    private static void Observe(AqaCounter counter, string name, string unit, string description) =>
        s_meter.CreateObservableCounter(name, () => Measure(counter), unit, description);

    private static IEnumerable<Measurement<long>> Measure(AqaCounter counter)
    {
        var readings = new List<CounterReading>();
        foreach (var source in s_sources.Keys) { source.Read(readings); }
        return readings.Where(r => r.Counter == counter)
            .GroupBy(r => r.Topic, StringComparer.Ordinal)
            .Select(g => g.Key is null
                ? new Measurement<long>(g.Sum(r => r.Value))
                : new Measurement<long>(g.Sum(r => r.Value), new KeyValuePair<string, object?>("topic", g.Key)))
            .ToList();
    }
}
