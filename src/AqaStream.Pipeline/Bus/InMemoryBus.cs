using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace AqaStream.Pipeline.Bus;

/// <summary>
/// The embedded bus: every (topic, group) is a bounded <see cref="Channel{T}"/>, so a slow consumer holds its producers
/// back instead of growing memory. Messages produced before any group subscribed wait for the first group (like a
/// Kafka topic read from the earliest offset), the latest <c>capacity</c> of them: like Kafka's retention, a topic
/// nobody reads drops its oldest messages rather than stopping its producers. A group that joins later sees messages
/// from then on. One consumer per
/// group (no rebalancing in one process). <see cref="Complete"/> ends a topic: consumers drain it and stop.
/// </summary>
public sealed class InMemoryBus(int capacity = InMemoryBus.DefaultCapacity, TimeProvider? clock = null) : IMessageBus
{
    /// <summary>Messages buffered per (topic, group) before producers wait.</summary>
    public const int DefaultCapacity = 1024;

    private readonly ConcurrentDictionary<string, object> _topics = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    /// <inheritdoc />
    public IBusProducer<T> Producer<T>(Topic<T> topic) where T : class => TopicOf(topic);

    /// <inheritdoc />
    public IBusConsumer<T> Subscribe<T>(Topic<T> topic, string group) where T : class => TopicOf(topic).Join(group);

    /// <summary>Ends a topic: consumers read what is buffered, then their enumeration ends.</summary>
    public void Complete<T>(Topic<T> topic) where T : class => TopicOf(topic).Complete();

    /// <summary>Committed offsets of a group on a topic, per partition (−1: none yet).</summary>
    public long[] Committed<T>(Topic<T> topic, string group) where T : class => TopicOf(topic).Committed(group);

    /// <inheritdoc />
    public IAsyncEnumerable<BusRecord<T>> ReadBackAsync<T>(Topic<T> topic, int partition, DateTimeOffset since, CancellationToken cancellationToken = default)
        where T : class => AsyncEnumerable.Empty<BusRecord<T>>();

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        foreach (var t in _topics.Values) { ((ITopicLog)t).Complete(); }
        return ValueTask.CompletedTask;
    }

    private TopicLog<T> TopicOf<T>(Topic<T> topic) where T : class
    {
        var log = _topics.GetOrAdd(topic.Name, _ => new TopicLog<T>(topic, capacity, _clock));
        return log as TopicLog<T>
            ?? throw new InvalidOperationException($"Topic '{topic.Name}' already carries {log.GetType().GenericTypeArguments[0].Name} messages, not {typeof(T).Name}.");
    }

    private interface ITopicLog
    {
        void Complete();
    }

    private sealed class TopicLog<T>(Topic<T> topic, int capacity, TimeProvider clock) : IBusProducer<T>, ITopicLog where T : class
    {
        public int Partitions => topic.Partitions;

        private readonly SemaphoreSlim _gate = new(1, 1);
        private readonly long[] _nextOffset = new long[topic.Partitions];
        private readonly Dictionary<string, Group> _groups = new(StringComparer.Ordinal);
        private Channel<BusRecord<T>>? _backlog = NewChannel(capacity, BoundedChannelFullMode.DropOldest);
        private volatile bool _completed;

        public async ValueTask ProduceAsync(string key, T value, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(key);
            ArgumentNullException.ThrowIfNull(value);
            // One gate per topic: offsets are assigned and records written in one order, so per-key order holds for
            // every group even with several producers.
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                if (_completed) { throw new InvalidOperationException($"Topic '{topic.Name}' is completed; nothing more can be produced."); }
                var partition = Topics.PartitionOf(key, topic.Partitions);
                var record = new BusRecord<T>(topic.Name, partition, _nextOffset[partition]++, key, value, clock.GetUtcNow());
                Channel<BusRecord<T>>[] targets;
                lock (_groups)
                {
                    targets = _backlog is { } b ? [b] : _groups.Values.Select(g => g.Channel).ToArray();
                }
                foreach (var channel in targets)
                {
                    try
                    {
                        await channel.Writer.WriteAsync(record, cancellationToken).ConfigureAwait(false);
                    }
                    catch (ChannelClosedException) when (!_completed)
                    {
                        // That group's consumer left while we waited for room: nothing is waiting for the record there.
                    }
                }
            }
            finally
            {
                _gate.Release();
            }
        }

        internal Consumer Join(string group)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(group);
            // Holding the produce gate: no record is on its way into the backlog while it is handed over.
            _gate.Wait();
            try
            {
                lock (_groups)
                {
                    if (_groups.ContainsKey(group))
                    {
                        throw new InvalidOperationException($"Group '{group}' already has a consumer on '{topic.Name}' (the in-memory bus has one consumer per group).");
                    }
                    // The group's own channel makes producers wait when it is full (back-pressure); the backlog's
                    // records (at most capacity) move into it.
                    var channel = NewChannel(capacity, BoundedChannelFullMode.Wait);
                    if (_backlog is { } backlog)
                    {
                        while (backlog.Reader.TryRead(out var record)) { channel.Writer.TryWrite(record); }
                        _backlog = null;
                    }
                    if (_completed) { channel.Writer.TryComplete(); }
                    var g = new Group(channel, Enumerable.Repeat(-1L, topic.Partitions).ToArray());
                    _groups[group] = g;
                    return new Consumer(this, group, g);
                }
            }
            finally
            {
                _gate.Release();
            }
        }

        public void Complete()
        {
            lock (_groups)
            {
                _completed = true;
                _backlog?.Writer.TryComplete();
                foreach (var g in _groups.Values) { g.Channel.Writer.TryComplete(); }
            }
        }

        public long[] Committed(string group)
        {
            lock (_groups)
            {
                return _groups.TryGetValue(group, out var g) ? (long[])g.Committed.Clone() : Enumerable.Repeat(-1L, topic.Partitions).ToArray();
            }
        }

        private void Leave(string group)
        {
            lock (_groups)
            {
                if (_groups.Remove(group, out var g)) { g.Channel.Writer.TryComplete(); }
            }
        }

        private static Channel<BusRecord<T>> NewChannel(int capacity, BoundedChannelFullMode whenFull) => Channel.CreateBounded<BusRecord<T>>(
            new BoundedChannelOptions(capacity) { FullMode = whenFull, SingleReader = true });

        internal sealed record Group(Channel<BusRecord<T>> Channel, long[] Committed);

        internal sealed class Consumer(TopicLog<T> log, string group, Group state) : IBusConsumer<T>
        {
            public event Action<IReadOnlyList<int>>? PartitionsAssigned;

            public event Action<IReadOnlyList<int>>? PartitionsRevoked;

            public async IAsyncEnumerable<BusRecord<T>> ConsumeAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
            {
                // One consumer per group in one process: it owns every partition for its lifetime.
                PartitionsAssigned?.Invoke(Enumerable.Range(0, log.Partitions).ToArray());
                var reader = state.Channel.Reader;
                while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    while (reader.TryRead(out var record)) { yield return record; }
                }
            }

            public void Commit(int partition, long nextOffset)
            {
                lock (state.Committed)
                {
                    state.Committed[partition] = Math.Max(state.Committed[partition], nextOffset - 1);
                }
            }

            public void Dispose()
            {
                PartitionsRevoked?.Invoke(Enumerable.Range(0, log.Partitions).ToArray());
                log.Leave(group);
            }
        }
    }
}
