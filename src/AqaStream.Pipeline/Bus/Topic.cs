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

    /// <summary>Per-clip explanations.</summary>
    public static readonly Topic<ClipScore> ClipScores = new("aqa.clip-scores");

    /// <summary>Provisional (and final) scores.</summary>
    public static readonly Topic<ProvisionalScore> ProvisionalScores = new("aqa.provisional-scores");

    /// <summary>Rejected messages with their reasons.</summary>
    public static readonly Topic<DeadLetter> DeadLetters = new("aqa.dead-letters");

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
