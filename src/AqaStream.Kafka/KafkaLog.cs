using Microsoft.Extensions.Logging;

namespace AqaStream.Kafka;

/// <summary>What the Kafka bus reports (source-generated <see cref="ILogger"/> messages, category
/// <c>AqaStream.Kafka</c>): rebalances and topic creation as information, retries and failures as warnings.</summary>
internal static partial class KafkaLog
{
    [LoggerMessage(1, LogLevel.Warning, "kafka producer: {Reason}{Fatal}")]
    public static partial void ProducerError(this ILogger logger, string reason, string fatal);

    [LoggerMessage(2, LogLevel.Warning, "kafka consumer ({Topic}): {Reason}{Fatal}")]
    public static partial void ConsumerError(this ILogger logger, string topic, string reason, string fatal);

    [LoggerMessage(3, LogLevel.Warning, "kafka: offsets-for-times on {Partition} failed ({Reason}); reading back from the earliest offset")]
    public static partial void OffsetsForTimesFailed(this ILogger logger, string partition, string reason);

    [LoggerMessage(4, LogLevel.Information, "kafka: still waiting for the cluster to store produced records…")]
    public static partial void StillFlushing(this ILogger logger);

    [LoggerMessage(5, LogLevel.Warning, "kafka: delivery to {Partition} failed: {Reason}")]
    public static partial void DeliveryFailed(this ILogger logger, string partition, string reason);

    [LoggerMessage(6, LogLevel.Warning, "kafka: {Topic} {Partition}/{Offset} to {DeadLetters}: {Reason}")]
    public static partial void DeadLettered(this ILogger logger, string topic, int partition, long offset, string deadLetters, string reason);

    [LoggerMessage(7, LogLevel.Information, "kafka: {Group} took {Topic} [{Partitions}]")]
    public static partial void PartitionsTaken(this ILogger logger, string group, string topic, string partitions);

    [LoggerMessage(8, LogLevel.Warning, "kafka: consuming {Topic}: {Reason}")]
    public static partial void ConsumeFailed(this ILogger logger, string topic, string reason);

    [LoggerMessage(9, LogLevel.Warning, "kafka: commit on {Topic} failed ({Reason}); retrying at the next interval")]
    public static partial void CommitFailed(this ILogger logger, string topic, string reason);

    [LoggerMessage(10, LogLevel.Information, "kafka: {Topic} [{Partitions}] {How}")]
    public static partial void PartitionsGivenUp(this ILogger logger, string topic, string partitions, string how);

    [LoggerMessage(11, LogLevel.Warning, "kafka: final commit of revoked partitions failed: {Reason}")]
    public static partial void FinalCommitFailed(this ILogger logger, string reason);

    [LoggerMessage(12, LogLevel.Warning, "kafka: closing the {Topic} consumer: {Reason}")]
    public static partial void CloseFailed(this ILogger logger, string topic, string reason);

    [LoggerMessage(13, LogLevel.Information, "kafka: created {Topics} ({Partitions} partitions)")]
    public static partial void TopicsCreated(this ILogger logger, string topics, int partitions);

    [LoggerMessage(14, LogLevel.Warning, "kafka: {Bootstrap} not reachable yet ({Reason}); retrying (attempt {Attempt})")]
    public static partial void Unreachable(this ILogger logger, string bootstrap, string reason, int attempt);

    [LoggerMessage(15, LogLevel.Information, "kafka: connecting to {Bootstrap}")]
    public static partial void Connecting(this ILogger logger, string bootstrap);
}
