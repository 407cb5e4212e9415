using System.Diagnostics.Metrics;

namespace AqaStream.Pipeline.Telemetry;

/// <summary>
/// The system's instruments (<see cref="System.Diagnostics.Metrics"/>, meter <see cref="MeterName"/>): what each box
/// does, for any exporter (the web host serves them as Prometheus text at <c>/metrics</c> through OpenTelemetry).
/// The counter classes (<c>PipelineCounters</c>, <c>IngestCounters</c>, <c>DeliveryCounters</c>) record here too.
/// </summary>
public static class AqaMetrics
{
    /// <summary>The meter every instrument belongs to.</summary>
    public const string MeterName = "AqaStream";

    private static readonly Meter s_meter = new(MeterName, "1.0");

    /// <summary>Video chunks received by the ingest.</summary>
    public static Counter<long> ChunksReceived { get; } = s_meter.CreateCounter<long>("aqa.ingest.chunks", "{chunk}", "Video chunks received by the ingest.");

    /// <summary>Frames decoded.</summary>
    public static Counter<long> FramesDecoded { get; } = s_meter.CreateCounter<long>("aqa.ingest.frames", "{frame}", "Frames decoded from accepted chunks.");

    /// <summary>Clips featurised by the ingest.</summary>
    public static Counter<long> ClipsDecoded { get; } = s_meter.CreateCounter<long>("aqa.ingest.clips", "{clip}", "Clips windowed and featurised.");

    /// <summary>Clips scored by the scorer.</summary>
    public static Counter<long> ClipsScored { get; } = s_meter.CreateCounter<long>("aqa.scorer.clips", "{clip}", "Clips scored.");

    /// <summary>Messages sent to the dead letters, by the stage (topic) that refused them.</summary>
    public static Counter<long> DeadLetters { get; } = s_meter.CreateCounter<long>("aqa.dead_letters", "{message}", "Messages sent to the dead letters, by source topic.");

    /// <summary>From the clip's video reaching the ingest to its provisional score.</summary>
    public static Histogram<double> ClipToProvisional { get; } = s_meter.CreateHistogram<double>("aqa.scorer.clip_to_provisional", "ms",
        "Time from a clip's video reaching the ingest to the provisional score after it.");

    /// <summary>Hub clients connected now.</summary>
    public static UpDownCounter<long> ConnectedClients { get; } = s_meter.CreateUpDownCounter<long>("aqa.delivery.clients", "{client}", "Hub clients connected.");

    /// <summary>Pushes delivered (one per client).</summary>
    public static Counter<long> PushesSent { get; } = s_meter.CreateCounter<long>("aqa.delivery.pushes", "{push}", "Pushes written to clients.");

    /// <summary>Pushes replaced by a snapshot because their client lagged.</summary>
    public static Counter<long> PushesCoalesced { get; } = s_meter.CreateCounter<long>("aqa.delivery.coalesced", "{push}", "Pushes replaced by a snapshot (client lagging).");
}
