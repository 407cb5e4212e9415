namespace AqaStream.Pipeline.Bus;

/// <summary>
/// Topics, keys, per-key order, bounded buffers: the shape Kafka gives, so that the in-memory bus of the embedded
/// default and a Kafka implementation are interchangeable.
/// </summary>
public interface IMessageBus : IAsyncDisposable
{
    /// <summary>A producer for one topic.</summary>
    IBusProducer<T> Producer<T>(Topic<T> topic) where T : class;

    /// <summary>Joins consumer group <paramref name="group"/> on a topic. Each group sees every message once.</summary>
    IBusConsumer<T> Subscribe<T>(Topic<T> topic, string group) where T : class;

    /// <summary>
    /// Reads back what one partition of a topic holds, from the first record produced at or after
    /// <paramref name="since"/> up to its end now (not following it). A stage that takes a partition over uses it to see
    /// what its predecessor already published. Empty where the bus keeps no history (the in-memory bus: a new stage
    /// there always starts with a new bus).
    /// </summary>
    IAsyncEnumerable<BusRecord<T>> ReadBackAsync<T>(Topic<T> topic, int partition, DateTimeOffset since, CancellationToken cancellationToken = default)
        where T : class;
}

/// <summary>Publishes messages to one topic.</summary>
public interface IBusProducer<in T> where T : class
{
    /// <summary>Publishes <paramref name="value"/> under <paramref name="key"/>; waits while the topic's buffer is full
    /// (back-pressure).</summary>
    ValueTask ProduceAsync(string key, T value, CancellationToken cancellationToken = default);
}

/// <summary>One consumer group's reader of one topic.</summary>
public interface IBusConsumer<T> : IDisposable where T : class
{
    /// <summary>Messages in order per key, until the bus completes the topic or <paramref name="cancellationToken"/> fires.</summary>
    IAsyncEnumerable<BusRecord<T>> ConsumeAsync(CancellationToken cancellationToken = default);

    /// <summary>Marks everything up to and including <paramref name="record"/> on its partition as processed.</summary>
    void Commit(BusRecord<T> record)
    {
        ArgumentNullException.ThrowIfNull(record);
        Commit(record.Partition, record.Offset + 1);
    }

    /// <summary>Marks partition <paramref name="partition"/> as processed before <paramref name="nextOffset"/>: a consumer
    /// of the group that takes the partition over starts there. Commits only move forward. A bus may defer the commit
    /// until every message its producers have accepted so far is stored (Kafka: flush, then commit).</summary>
    void Commit(int partition, long nextOffset);

    /// <summary>Partitions this consumer was given (raised on the consuming thread, before their first record).</summary>
    event Action<IReadOnlyList<int>>? PartitionsAssigned;

    /// <summary>Partitions taken away (raised on the consuming thread, after their last record; the stage drops their
    /// state; commits for them made before returning still count).</summary>
    event Action<IReadOnlyList<int>>? PartitionsRevoked;
}

/// <summary>A message as read from the bus.</summary>
/// <param name="Topic">Topic name.</param>
/// <param name="Partition">Partition (from the key).</param>
/// <param name="Offset">Position in the partition.</param>
/// <param name="Key">The key (performance id).</param>
/// <param name="Value">The message.</param>
/// <param name="Timestamp">When it was produced.</param>
public sealed record BusRecord<T>(string Topic, int Partition, long Offset, string Key, T Value, DateTimeOffset Timestamp);
