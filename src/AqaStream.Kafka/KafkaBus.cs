using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using Confluent.Kafka;

namespace AqaStream.Kafka;

/// <summary>
/// The bus on Kafka (Confluent.Kafka 1.9.3 over Debian's librdkafka). One idempotent producer per bus (acks=all,
/// Java-compatible murmur2 partitioning by key, so a performance's records share a partition number on every topic);
/// one consumer per <see cref="Subscribe{T}"/>, in a consumer group, committing by hand: a commit first flushes the bus's
/// producer, so an offset is only committed once everything produced while processing up to it is stored. A record
/// that cannot be decoded goes to <see cref="Topics.DeadLetters"/> with its original bytes and the reason in headers, and
/// the consumer goes on. Create with <see cref="ConnectAsync"/>, which waits (with retries) for the cluster and checks
/// the topics.
/// </summary>
public sealed class KafkaBus : IMessageBus, IBusHealth, Pipeline.Telemetry.ICounterSource
{
    private readonly KafkaBusOptions _options;
    private readonly KafkaCodec _codec;
    private readonly IProducer<string, byte[]> _producer;
    private readonly object _flushGate = new();
    private readonly SemaphoreSlim _readerGate = new(1, 1);
    private readonly Lazy<IConsumer<string, byte[]>> _reader;
    private volatile Error? _deliveryError;
    private long _produced;
    private long _deadLettered;
    private readonly ConcurrentDictionary<ILagReporter, byte> _consumers = new();
    private volatile bool _disposed;
    private readonly IDisposable _metrics;

    private KafkaBus(KafkaBusOptions options)
    {
        _options = options;
        _codec = new KafkaCodec(options);
        _reader = new Lazy<IConsumer<string, byte[]>>(NewReader);
        var config = new ProducerConfig(Common(options, "producer"))
        {
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 2,
            Partitioner = Confluent.Kafka.Partitioner.Murmur2Random,
            MessageMaxBytes = options.MaxMessageBytes + 64 * 1024,
        };
        Override(config, options);
        _producer = new ProducerBuilder<string, byte[]>(config)
            .SetErrorHandler((_, e) => options.Logger.ProducerError(e.Reason, e.IsFatal ? " (fatal)" : ""))
            .Build();
        _metrics = Pipeline.Telemetry.AqaMetrics.Register(this);   // consumer lag, by topic; taken out on dispose
    }

    /// <summary>Options in use.</summary>
    public KafkaBusOptions Options => _options;

    /// <summary>Records produced (accepted by the client) so far.</summary>
    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>Undecodable records sent to the dead-letter topic so far.</summary>
    public long DeadLettered => Interlocked.Read(ref _deadLettered);

    /// <summary>
    /// Connects: waits for the cluster (retrying, reporting each failure through <see cref="KafkaBusOptions.Logger"/>) until
    /// <see cref="KafkaBusOptions.StartupTimeout"/>, then checks that the pipeline's topics exist (creating them with
    /// <see cref="KafkaBusOptions.CreateTopics"/>) and that the keyed topics have one partition count.
    /// </summary>
    public static async Task<KafkaBus> ConnectAsync(KafkaBusOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validated();
        await KafkaTopics.EnsureAsync(options, cancellationToken).ConfigureAwait(false);
        return new KafkaBus(options);
    }

    /// <inheritdoc />
    public IBusProducer<T> Producer<T>(Topic<T> topic) where T : class
    {
        ArgumentNullException.ThrowIfNull(topic);
        return new TopicProducer<T>(this, topic.Name);
    }

    /// <inheritdoc />
    public IBusConsumer<T> Subscribe<T>(Topic<T> topic, string group) where T : class
    {
        ArgumentNullException.ThrowIfNull(topic);
        ArgumentException.ThrowIfNullOrEmpty(group);
        return new GroupConsumer<T>(this, topic.Name, group);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<BusRecord<T>> ReadBackAsync<T>(Topic<T> topic, int partition, DateTimeOffset since,
        [EnumeratorCancellation] CancellationToken cancellationToken = default) where T : class
    {
        ArgumentNullException.ThrowIfNull(topic);
        await _readerGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await foreach (var r in ReadBackLockedAsync(_reader.Value, topic, partition, since, cancellationToken).ConfigureAwait(false)) { yield return r; }
        }
        finally
        {
            _reader.Value.Unassign();
            _readerGate.Release();
        }
    }

    private IConsumer<string, byte[]> NewReader()
    {
        var config = new ConsumerConfig(Common(_options, "readback"))
        {
            GroupId = "aqa-readback",   // required by the client; nothing is committed
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = true,
            FetchWaitMaxMs = 10,   // read what is there now; do not wait for more
        };
        Override(config, _options);
        return new ConsumerBuilder<string, byte[]>(config).Build();
    }

    private async IAsyncEnumerable<BusRecord<T>> ReadBackLockedAsync<T>(IConsumer<string, byte[]> reader, Topic<T> topic, int partition, DateTimeOffset since,
        [EnumeratorCancellation] CancellationToken cancellationToken) where T : class
    {
        await Task.Yield();
        var tp = new TopicPartition(topic.Name, new Partition(partition));
        var timeout = TimeSpan.FromSeconds(10);
        var marks = reader.QueryWatermarkOffsets(tp, timeout);
        if (marks.High.Value <= marks.Low.Value) { yield break; }
        Offset start;
        try
        {
            start = reader.OffsetsForTimes([new TopicPartitionTimestamp(tp, new Timestamp(since.UtcDateTime, TimestampType.CreateTime))], timeout)[0].Offset;
        }
        catch (KafkaException e)
        {
            _options.Logger.OffsetsForTimesFailed(tp.ToString(), e.Error.Reason);
            start = marks.Low;
        }
        if (start == Offset.End || start.Value < 0)
        {
            // "Nothing at or after that time" — unless the partition's last record says otherwise (librdkafka's mock
            // cluster answers every time lookup with "nothing"): then read from the earliest retained offset.
            reader.Assign(new TopicPartitionOffset(tp, new Offset(marks.High.Value - 1)));
            var last = reader.Consume(timeout);
            reader.Unassign();
            if (last is null || last.IsPartitionEOF || last.Message.Timestamp.UtcDateTime < since.UtcDateTime) { yield break; }
            start = marks.Low;
        }
        reader.Assign(new TopicPartitionOffset(tp, start));
        var deadline = _options.Clock.GetUtcNow() + TimeSpan.FromSeconds(60);
        while (_options.Clock.GetUtcNow() < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var r = reader.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null) { continue; }
            if (r.IsPartitionEOF) { yield break; }
            T? value = null;
            try
            {
                value = _codec.Decode<T>(r.Topic, r.Message.Value, r.Message.Headers, r.Message.Timestamp.UtcDateTime);
            }
            catch (MessageFormatException)
            {
                // not ours to judge here: the stage reading the topic dead-letters it
            }
            if (value is not null) { yield return Record(r, value); }
            if (r.Offset.Value >= marks.High.Value - 1) { yield break; }
        }
        throw new TimeoutException($"reading back {tp} did not reach its end ({marks.High.Value}) within 60 s.");
    }

    /// <summary>Partitions of <paramref name="topic"/> as the cluster reports them.</summary>
    public int PartitionCount(string topic)
    {
        using var admin = new DependentAdminClientBuilder(_producer.Handle).Build();
        var meta = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.SingleOrDefault(t => t.Topic == topic);
        if (meta is null || meta.Error.IsError) { throw new InvalidOperationException($"Kafka has no topic '{topic}'{(meta is null ? "" : $": {meta.Error.Reason}")}."); }
        return meta.Partitions.Count;
    }

    /// <summary>Waits until everything produced so far is stored by the cluster; throws if anything could not be.</summary>
    public void Flush()
    {
        lock (_flushGate)
        {
            while (_producer.Flush(TimeSpan.FromSeconds(5)) > 0)
            {
                _options.Logger.StillFlushing();
                ThrowIfFailed();
            }
            ThrowIfFailed();
        }
    }

    /// <summary>Records behind the end of each assigned partition (high watermark − position), summed per topic over
    /// this process's consumers; refreshed by each consumer once a second as it polls.</summary>
    public void Read(ICollection<Pipeline.Telemetry.CounterReading> readings)
    {
        ArgumentNullException.ThrowIfNull(readings);
        if (_disposed) { return; }
        foreach (var byTopic in _consumers.Keys.GroupBy(c => c.Topic, StringComparer.Ordinal))
        {
            readings.Add(new Pipeline.Telemetry.CounterReading(Pipeline.Telemetry.AqaCounter.ConsumerLag, byTopic.Sum(c => c.Lag), byTopic.Key));
        }
    }

    /// <summary>Asks the cluster for its brokers (metadata, at most 2 s) through the producer's connection.</summary>
    public Task<string?> ProblemAsync(CancellationToken cancellationToken) => Task.Run(() =>
    {
        if (_disposed) { return "the Kafka bus is closed."; }
        try
        {
            using var admin = new DependentAdminClientBuilder(_producer.Handle).Build();
            var brokers = admin.GetMetadata(TimeSpan.FromSeconds(2)).Brokers.Count;
            return brokers > 0 ? null : $"Kafka at {_options.BootstrapServers} lists no brokers.";
        }
        catch (KafkaException e)
        {
            return $"Kafka at {_options.BootstrapServers} does not answer: {e.Error.Reason}.";
        }
    }, cancellationToken);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _disposed = true;
        _metrics.Dispose();
        try
        {
            _producer.Flush(TimeSpan.FromSeconds(10));
        }
        finally
        {
            _producer.Dispose();
            if (_reader.IsValueCreated) { _reader.Value.Dispose(); }
            _readerGate.Dispose();
        }
        return ValueTask.CompletedTask;
    }

    private void ThrowIfFailed()
    {
        if (_deliveryError is { } e)
        {
            throw new KafkaException(new Error(e.Code, $"a produced record was not stored ({e.Reason}); nothing after it is committed."));
        }
    }

    private void Produce(string topic, string key, byte[] value, Headers headers, CancellationToken cancellationToken)
    {
        var message = new Message<string, byte[]> { Key = key, Value = value, Headers = headers };
        while (true)
        {
            ThrowIfFailed();
            try
            {
                _producer.Produce(topic, message, OnDelivered);
                Interlocked.Increment(ref _produced);
                return;
            }
            catch (ProduceException<string, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                // Back-pressure: the client's queue is full until the cluster catches up.
                cancellationToken.ThrowIfCancellationRequested();
                _producer.Poll(TimeSpan.FromMilliseconds(50));
            }
        }
    }

    private void OnDelivered(DeliveryReport<string, byte[]> report)
    {
        if (report.Error.IsError)
        {
            _deliveryError ??= report.Error;
            _options.Logger.DeliveryFailed(report.TopicPartition.ToString(), report.Error.Reason);
        }
    }

    private void DeadLetter(ConsumeResult<string, byte[]> r, string reason)
    {
        var headers = new Headers();
        foreach (var h in r.Message.Headers ?? []) { headers.Add(h.Key, h.GetValueBytes()); }
        headers.Add(KafkaCodec.TypeHeader, KafkaCodec.Utf8("dead-letter"));
        headers.Add(KafkaCodec.ReasonHeader, KafkaCodec.Utf8(reason));
        headers.Add(KafkaCodec.SourceTopicHeader, KafkaCodec.Utf8(r.Topic));
        headers.Add(KafkaCodec.SourceOffsetHeader, KafkaCodec.Utf8(string.Create(CultureInfo.InvariantCulture, $"{r.Partition.Value}/{r.Offset.Value}")));
        headers.Add(KafkaCodec.RejectedAtHeader, KafkaCodec.Utf8(_options.Clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture)));
        Produce(Topics.DeadLetters.Name, r.Message.Key ?? "", r.Message.Value ?? [], headers, CancellationToken.None);
        Interlocked.Increment(ref _deadLettered);
        _options.Logger.DeadLettered(r.Topic, r.Partition.Value, r.Offset.Value, Topics.DeadLetters.Name, reason);
    }

    private static BusRecord<T> Record<T>(ConsumeResult<string, byte[]> r, T value) where T : class =>
        new(r.Topic, r.Partition.Value, r.Offset.Value, r.Message.Key ?? "", value, r.Message.Timestamp.UtcDateTime);

    internal static ClientConfig Common(KafkaBusOptions options, string role) => new()
    {
        BootstrapServers = options.BootstrapServers,
        ClientId = $"{options.ClientId}-{role}",
        SocketKeepaliveEnable = true,
    };

    /// <summary>Applies <see cref="KafkaBusOptions.Settings"/> last, so any librdkafka setting can be overridden.</summary>
    internal static void Override(ClientConfig config, KafkaBusOptions options)
    {
        foreach (var (key, value) in options.Settings) { config.Set(key, value); }
    }

    private sealed class TopicProducer<T>(KafkaBus bus, string topic) : IBusProducer<T> where T : class
    {
        public ValueTask ProduceAsync(string key, T value, CancellationToken cancellationToken = default)
        {
            ArgumentNullException.ThrowIfNull(key);
            var (bytes, headers) = bus._codec.Encode(value);
            bus.Produce(topic, key, bytes, headers, cancellationToken);
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A consumer's lag, for <see cref="Read"/>.</summary>
    private interface ILagReporter
    {
        string Topic { get; }

        long Lag { get; }
    }

    private sealed class GroupConsumer<T> : IBusConsumer<T>, ILagReporter where T : class
    {
        private static readonly TimeSpan LagInterval = TimeSpan.FromSeconds(1);
        private readonly KafkaBus _bus;
        private readonly string _topic;
        private readonly IConsumer<string, byte[]> _consumer;
        private readonly ConcurrentDictionary<int, long> _toCommit = new();
        private readonly Dictionary<int, long> _lastYielded = [];
        private readonly Dictionary<int, long> _lastSkipped = [];
        private DateTimeOffset _nextCommit;
        private DateTimeOffset _nextLag;
        private long _lag;
        private bool _closed;

        public string Topic => _topic;

        public long Lag => Interlocked.Read(ref _lag);

        public GroupConsumer(KafkaBus bus, string topic, string group)
        {
            _bus = bus;
            _topic = topic;
            var config = new ConsumerConfig(Common(bus._options, "consumer"))
            {
                GroupId = group,
                EnableAutoCommit = false,
                EnableAutoOffsetStore = false,
                AutoOffsetReset = AutoOffsetReset.Earliest,
                PartitionAssignmentStrategy = PartitionAssignmentStrategy.CooperativeSticky,
                SessionTimeoutMs = 10_000,
                HeartbeatIntervalMs = 1_000,
                FetchMaxBytes = Math.Max(52_428_800, bus._options.MaxMessageBytes * 2),
                MaxPartitionFetchBytes = Math.Max(1_048_576, bus._options.MaxMessageBytes + 64 * 1024),
            };
            Override(config, bus._options);
            _consumer = new ConsumerBuilder<string, byte[]>(config)
                .SetErrorHandler((_, e) => bus._options.Logger.ConsumerError(topic, e.Reason, e.IsFatal ? " (fatal)" : ""))
                .SetPartitionsAssignedHandler((_, partitions) =>
                {
                    var mine = partitions.Select(p => p.Partition.Value).ToArray();
                    bus._options.Logger.PartitionsTaken(group, topic, string.Join(',', mine));
                    foreach (var p in mine) { _lastYielded.Remove(p); _lastSkipped.Remove(p); }
                    PartitionsAssigned?.Invoke(mine);
                })
                .SetPartitionsRevokedHandler((_, partitions) => GiveUp(partitions.Select(p => p.Partition.Value).ToArray(), commit: true))
                .SetPartitionsLostHandler((_, partitions) => GiveUp(partitions.Select(p => p.Partition.Value).ToArray(), commit: false))
                .Build();
            bus._consumers.TryAdd(this, 0);
        }

        public event Action<IReadOnlyList<int>>? PartitionsAssigned;

        public event Action<IReadOnlyList<int>>? PartitionsRevoked;

        public void Commit(int partition, long nextOffset) =>
            _toCommit.AddOrUpdate(partition, nextOffset, (_, old) => Math.Max(old, nextOffset));

        public async IAsyncEnumerable<BusRecord<T>> ConsumeAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            _consumer.Subscribe(_topic);
            _nextCommit = _bus._options.Clock.GetUtcNow() + _bus._options.CommitInterval;
            while (!cancellationToken.IsCancellationRequested)
            {
                ConsumeResult<string, byte[]>? r;
                try
                {
                    r = _consumer.Consume(TimeSpan.FromMilliseconds(100));
                }
                catch (ConsumeException e) when (!e.Error.IsFatal)
                {
                    _bus._options.Logger.ConsumeFailed(_topic, e.Error.Reason);
                    continue;
                }
                var now = _bus._options.Clock.GetUtcNow();
                if (now >= _nextCommit) { CommitNow(null); }
                if (now >= _nextLag) { MeasureLag(); _nextLag = now + LagInterval; }
                if (r is null || r.IsPartitionEOF) { continue; }
                T value;
                try
                {
                    value = _bus._codec.Decode<T>(r.Topic, r.Message.Value, r.Message.Headers, r.Message.Timestamp.UtcDateTime);
                }
                catch (MessageFormatException e)
                {
                    _bus.DeadLetter(r, $"cannot decode a {typeof(T).Name} from {r.Topic}: {e.Message}");
                    _lastSkipped[r.Partition.Value] = r.Offset.Value;
                    continue;
                }
                _lastYielded[r.Partition.Value] = r.Offset.Value;
                yield return Record(r, value);
            }
        }

        /// <summary>Flushes the producer, then commits what the stage marked (snapshotted before the flush, so everything
        /// produced before each mark is stored before the mark is committed).</summary>
        private void CommitNow(IReadOnlyCollection<int>? only)
        {
            _nextCommit = _bus._options.Clock.GetUtcNow() + _bus._options.CommitInterval;
            var assigned = _consumer.Assignment.Where(tp => tp.Topic == _topic).Select(tp => tp.Partition.Value).ToHashSet();
            var offsets = new List<TopicPartitionOffset>();
            foreach (var (p, next) in _toCommit)
            {
                if (!assigned.Contains(p) || (only is not null && !only.Contains(p))) { continue; }
                var offset = next;
                // Undecodable records after the last record the stage saw (dead-lettered) need not be read again.
                if (_lastSkipped.TryGetValue(p, out var skipped) && skipped >= next
                    && (!_lastYielded.TryGetValue(p, out var yielded) || yielded + 1 == next)) { offset = skipped + 1; }
                offsets.Add(new TopicPartitionOffset(_topic, new Partition(p), new Offset(offset)));
            }
            if (offsets.Count == 0) { return; }
            _bus.Flush();
            try
            {
                _consumer.Commit(offsets);
                foreach (var o in offsets) { _toCommit.TryRemove(new KeyValuePair<int, long>(o.Partition.Value, o.Offset.Value)); }
            }
            catch (KafkaException e) when (!e.Error.IsFatal)
            {
                _bus._options.Logger.CommitFailed(_topic, e.Error.Reason);
            }
        }

        private void GiveUp(int[] partitions, bool commit)
        {
            _bus._options.Logger.PartitionsGivenUp(_topic, string.Join(',', partitions), commit ? "revoked" : "lost");
            PartitionsRevoked?.Invoke(partitions);
            if (commit)
            {
                try
                {
                    CommitNow(partitions);
                }
                catch (KafkaException e)
                {
                    _bus._options.Logger.FinalCommitFailed(e.Error.Reason);
                }
            }
            foreach (var p in partitions) { _toCommit.TryRemove(p, out _); }
        }

        /// <summary>High watermark − position over the assigned partitions, from what the client already knows (the
        /// watermarks come with every fetch response: no broker call). Partitions not fetched yet count as 0.</summary>
        private void MeasureLag()
        {
            long lag = 0;
            foreach (var tp in _consumer.Assignment)
            {
                var high = _consumer.GetWatermarkOffsets(tp).High;
                var position = _consumer.Position(tp);
                if (high.IsSpecial || position.IsSpecial) { continue; }
                lag += Math.Max(0, high.Value - position.Value);
            }
            Interlocked.Exchange(ref _lag, lag);
        }

        public void Dispose()
        {
            if (_closed) { return; }
            _closed = true;
            _bus._consumers.TryRemove(this, out _);
            try
            {
                CommitNow(null);
                _consumer.Close();   // leaves the group at once, so the partitions move without waiting for the session timeout
            }
            catch (KafkaException e)
            {
                _bus._options.Logger.CloseFailed(_topic, e.Error.Reason);
            }
            finally
            {
                _consumer.Dispose();
            }
        }
    }
}
