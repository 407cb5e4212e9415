using AqaStream.Pipeline.Contracts;

namespace AqaStream.Pipeline.Bus;

/// <summary>A named stream of messages of one contract, split into partitions by key.</summary>
/// <typeparam name="T">The contract.</typeparam>
/// <param name="Name">The topic name (Kafka: the topic).</param>
/// <param name="Partitions">Partition count: messages with one key always land on one partition, in order.</param>
public sealed record Topic<T>(string Name, int Partitions = Topics.DefaultPartitions) where T : class;

/// <summary>The pipeline's topics (ARCHITECTURE.md's diagram).</summary>
public static class Topics
{
    /// <summary>Partitions per topic unless set otherwise.</summary>
    public const int DefaultPartitions = 8;

    /// <summary>Encoded video: started / chunk / ended, keyed by performance id.</summary>
    public static readonly Topic<PerformanceMessage> VideoChunks = new("aqa.video-chunks");

    /// <summary>Clip features: started / clip features / ended, keyed by performance id.</summary>
    public static readonly Topic<PerformanceMessage> ClipFeatures = new("aqa.clip-features");

    /// <summary>The scorer's output, one <see cref="Contracts.ClipScored"/> per step: each clip's explanation with the
    /// provisional after it, a provisional alone when a clip is declared missing, and the final; keyed by performance id.</summary>
    public static readonly Topic<ClipScored> ClipScored = new("aqa.clip-scored");

    /// <summary>Performance lifecycle as the scorer saw it (started / ended), keyed by performance id: a small topic for
    /// result boards and archives that do not want every clip.</summary>
    public static readonly Topic<PerformanceMessage> PerformanceEvents = new("aqa.performance-events");

    /// <summary>Rejected messages with their reasons.</summary>
    public static readonly Topic<DeadLetter> DeadLetters = new("aqa.dead-letter");

    /// <summary>Every topic's name, in pipeline order (topic creation, checks).</summary>
    public static IReadOnlyList<string> All { get; } =
        [VideoChunks.Name, ClipFeatures.Name, ClipScored.Name, PerformanceEvents.Name, DeadLetters.Name];

    /// <summary>Kafka's rule: one key, one partition. FNV-1a over the key's UTF-16 code units, so it is stable across
    /// processes (string.GetHashCode is randomised per process).</summary>
    public static int PartitionOf(string key, int partitions)
    {
        ArgumentNullException.ThrowIfNull(key);
        var hash = 2166136261u;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 16777619u;
        }
        return (int)(hash % (uint)partitions);
    }
}
