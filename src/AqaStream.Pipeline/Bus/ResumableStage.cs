using System.Reactive.Linq;
using System.Reactive.Subjects;
using AqaStream.Pipeline.Contracts;

namespace AqaStream.Pipeline.Bus;

/// <summary>Identifies one output of a stage, so a stage that takes a partition over can tell what its predecessor
/// already published: (performance id, kind, sequence), e.g. (P, "clip", 7).</summary>
public readonly record struct OutputKey(string PerformanceId, string Kind, long Sequence);

/// <summary>What a <see cref="ResumableStage{TOut}"/> needs to know about its outputs.</summary>
public interface IStageOutputs<TOut> where TOut : class
{
    /// <summary>The output's identity (dedupe key).</summary>
    OutputKey KeyOf(TOut output);

    /// <summary>Whether this is the performance's last output (after it the performance no longer holds the commit back).</summary>
    bool IsFinal(TOut output);

    /// <summary>Publishes an output on the bus; waits while the output topic is full.</summary>
    void Publish(TOut output);

    /// <summary>Identities of the outputs one partition already holds since a time, and whether each was final.</summary>
    IAsyncEnumerable<(OutputKey Key, bool Final)> ReadBackAsync(int partition, DateTimeOffset since, CancellationToken cancellationToken);
}

/// <summary>What a resumable stage did around takeovers.</summary>
public sealed class ResumeCounters
{
    private long _assigned;
    private long _revoked;
    private long _replayed;
    private long _suppressed;
    private long _skipped;

    /// <summary>Partitions taken on.</summary>
    public long Assigned => Interlocked.Read(ref _assigned);

    /// <summary>Partitions given up.</summary>
    public long Revoked => Interlocked.Read(ref _revoked);

    /// <summary>Outputs found already published when a partition was taken on.</summary>
    public long ReadBack => Interlocked.Read(ref _replayed);

    /// <summary>Outputs recomputed while rebuilding state and not published again.</summary>
    public long Suppressed => Interlocked.Read(ref _suppressed);

    /// <summary>Input records of performances already finished before the takeover (not reprocessed).</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    internal void OnAssigned(int n) => Interlocked.Add(ref _assigned, n);
    internal void OnRevoked(int n) => Interlocked.Add(ref _revoked, n);
    internal void OnReadBack() => Interlocked.Increment(ref _replayed);
    internal void OnSuppressed() => Interlocked.Increment(ref _suppressed);
    internal void OnSkipped() => Interlocked.Increment(ref _skipped);

    /// <inheritdoc />
    public override string ToString() =>
        $"partitions +{Assigned}/-{Revoked}, {ReadBack} outputs read back, {Suppressed} recomputed and not republished, {Skipped} finished-performance records skipped";
}

/// <summary>
/// A box between a performance-keyed input topic and its outputs that survives crashes and rebalances without losing or
/// doubling an output. Each partition it owns runs its own pipeline (its performances' state lives with the partition,
/// and goes when the partition goes). The committed offset of a partition never passes the start of a performance that
/// has not yet published its final output, so whoever takes the partition over re-reads every open performance from
/// its start and rebuilds its state; outputs its predecessor had already published (read back from the output
/// topic) are recomputed but not published again, and records of performances already finished are skipped.
/// On the in-memory bus (nothing to read back, nobody to take over) it is a plain per-partition stage.
/// </summary>
public sealed class ResumableStage<TOut>(IBusConsumer<PerformanceMessage> consumer,
    Func<IObservable<PerformanceMessage>, IObservable<TOut>> pipeline, IStageOutputs<TOut> outputs) where TOut : class
{
    private readonly IBusConsumer<PerformanceMessage> _consumer = consumer;
    private readonly Func<IObservable<PerformanceMessage>, IObservable<TOut>> _pipeline = pipeline;
    private readonly IStageOutputs<TOut> _outputs = outputs;

    /// <summary>How far before the first re-read record the output topic is read back (clock skew between producers).</summary>
    public TimeSpan ReadBackMargin { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Takeover figures.</summary>
    public ResumeCounters Counters { get; } = new();

    /// <summary>Tells the stage that the pipeline rejected <paramref name="message"/> (its dead letters call this), so
    /// a rejected performance start does not hold the commit back.</summary>
    public void OnRejected(PerformanceMessage message)
    {
        if (message is PerformanceStarted && _current is { } lane) { lane.OnStartRejected(message.PerformanceId); }
    }

    private volatile Lane? _current;

    /// <summary>Runs until the input topic completes (every lane flushed) or <paramref name="cancellationToken"/> fires.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        var lanes = new Dictionary<int, Lane>();
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Assigned(IReadOnlyList<int> partitions)
        {
            Counters.OnAssigned(partitions.Count);
            foreach (var p in partitions)
            {
                if (!lanes.ContainsKey(p)) { lanes[p] = new Lane(this, p, failed); }
            }
        }
        void Revoked(IReadOnlyList<int> partitions)
        {
            Counters.OnRevoked(partitions.Count);
            foreach (var p in partitions)
            {
                if (lanes.Remove(p, out var lane)) { lane.Dispose(); }
            }
        }
        _consumer.PartitionsAssigned += Assigned;
        _consumer.PartitionsRevoked += Revoked;
        try
        {
            using var cancel = cancellationToken.Register(() => failed.TrySetCanceled(cancellationToken));
            await foreach (var record in _consumer.ConsumeAsync(cancellationToken).ConfigureAwait(false))
            {
                if (failed.Task.IsCompleted) { break; }
                if (!lanes.TryGetValue(record.Partition, out var lane))
                {
                    lane = lanes[record.Partition] = new Lane(this, record.Partition, failed);
                }
                if (!lane.Loaded) { await lane.LoadAsync(record.Timestamp - ReadBackMargin, cancellationToken).ConfigureAwait(false); }
                _current = lane;
                lane.Push(record);
                _current = null;
            }
            if (failed.Task.IsCompleted)
            {
                await failed.Task.ConfigureAwait(false);
                return;
            }
            // The topic completed: let every lane flush its performances, then stop.
            foreach (var lane in lanes.Values) { lane.Complete(); }
            await Task.WhenAll(lanes.Values.Select(l => l.Completion)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // stopping
        }
        finally
        {
            _consumer.PartitionsAssigned -= Assigned;
            _consumer.PartitionsRevoked -= Revoked;
            foreach (var lane in lanes.Values) { lane.Dispose(); }
        }
    }

    /// <summary>One owned partition: its pipeline, its open performances, what was already published.</summary>
    private sealed class Lane : IDisposable
    {
        private readonly ResumableStage<TOut> _stage;
        private readonly int _partition;
        private readonly object _gate = new();
        private readonly Subject<PerformanceMessage> _input = new();
        private readonly Dictionary<string, long> _openSince = new(StringComparer.Ordinal);
        private readonly HashSet<OutputKey> _published = [];
        private readonly HashSet<string> _finishedBefore = new(StringComparer.Ordinal);
        private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly IDisposable _subscription;
        private long _lastConsumed = -1;
        private long _currentOffset = -1;
        private long _committed = -1;
        private bool _disposed;

        public Lane(ResumableStage<TOut> stage, int partition, TaskCompletionSource failed)
        {
            _stage = stage;
            _partition = partition;
            _subscription = stage._pipeline(_input.AsObservable()).Subscribe(
                OnOutput,
                e => { failed.TrySetException(e); _completion.TrySetException(e); },
                () => _completion.TrySetResult());
        }

        public bool Loaded { get; private set; }

        public Task Completion => _completion.Task;

        public async Task LoadAsync(DateTimeOffset since, CancellationToken cancellationToken)
        {
            await foreach (var (key, final) in _stage._outputs.ReadBackAsync(_partition, since, cancellationToken).ConfigureAwait(false))
            {
                _stage.Counters.OnReadBack();
                lock (_gate)
                {
                    _published.Add(key);
                    if (final) { _finishedBefore.Add(key.PerformanceId); }
                }
            }
            Loaded = true;
        }

        public void Push(BusRecord<PerformanceMessage> record)
        {
            var message = record.Value;
            lock (_gate)
            {
                if (_disposed) { return; }
                _lastConsumed = record.Offset;
                _currentOffset = record.Offset;
                if (_finishedBefore.Contains(message.PerformanceId))
                {
                    _stage.Counters.OnSkipped();
                    CommitLocked();
                    return;
                }
                if (message is PerformanceStarted) { _openSince.TryAdd(message.PerformanceId, record.Offset); }
                // Outputs produced synchronously re-enter OnOutput on this thread (the lock is re-entrant).
                _input.OnNext(message);
                CommitLocked();
            }
        }

        public void OnStartRejected(string performanceId)
        {
            lock (_gate)
            {
                if (_openSince.TryGetValue(performanceId, out var since) && since == _currentOffset) { _openSince.Remove(performanceId); }
            }
        }

        public void Complete() => _input.OnCompleted();

        private void OnOutput(TOut output)
        {
            var outputs = _stage._outputs;
            var key = outputs.KeyOf(output);
            lock (_gate)
            {
                if (_disposed) { return; }
                if (_published.Remove(key)) { _stage.Counters.OnSuppressed(); }
                else { outputs.Publish(output); }
                if (outputs.IsFinal(output))
                {
                    _openSince.Remove(key.PerformanceId);
                    CommitLocked();
                }
            }
        }

        private void CommitLocked()
        {
            var safe = _lastConsumed + 1;
            foreach (var since in _openSince.Values) { safe = Math.Min(safe, since); }
            if (safe > _committed)
            {
                _committed = safe;
                _stage._consumer.Commit(_partition, safe);
            }
        }

        public void Dispose()
        {
            lock (_gate) { _disposed = true; }
            _subscription.Dispose();
            _input.Dispose();
        }
    }
}
