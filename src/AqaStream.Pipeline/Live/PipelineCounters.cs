using System.Collections.Concurrent;
using AqaStream.Pipeline.Telemetry;

namespace AqaStream.Pipeline.Live;

/// <summary>What the pipeline has done, for health pages, benchmarks and <c>/metrics</c> (it registers with
/// <see cref="AqaMetrics"/>). Thread-safe.</summary>
public sealed class PipelineCounters : ICounterSource
{
    private readonly ConcurrentDictionary<string, long> _deadLettersByTopic = new(StringComparer.Ordinal);
    private long _received;
    private long _clipsScored;
    private long _duplicates;
    private long _missing;
    private long _deadLetters;
    private long _opened;
    private long _closed;

    /// <summary>New counters, exported through <see cref="AqaMetrics"/>.</summary>
    public PipelineCounters() => _ = AqaMetrics.Register(this);   // totals: kept for the life of the process

    /// <summary>Messages that entered the pipeline.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Clips scored.</summary>
    public long ClipsScored => Interlocked.Read(ref _clipsScored);

    /// <summary>Duplicate clips dropped.</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>Clips declared missing.</summary>
    public long Missing => Interlocked.Read(ref _missing);

    /// <summary>Messages rejected to the dead-letter channel.</summary>
    public long DeadLetters => Interlocked.Read(ref _deadLetters);

    /// <summary>Performances opened.</summary>
    public long Opened => Interlocked.Read(ref _opened);

    /// <summary>Performances closed (their state released).</summary>
    public long Closed => Interlocked.Read(ref _closed);

    /// <summary>Performances whose state is held now.</summary>
    public long Open => Opened - Closed;

    internal void OnReceived() => Interlocked.Increment(ref _received);

    internal void OnClipScored() => Interlocked.Increment(ref _clipsScored);

    internal void OnDuplicate() => Interlocked.Increment(ref _duplicates);

    internal void OnMissing() => Interlocked.Increment(ref _missing);

    internal void OnDeadLetter(string sourceTopic)
    {
        Interlocked.Increment(ref _deadLetters);
        _deadLettersByTopic.AddOrUpdate(sourceTopic, 1, static (_, n) => n + 1);
    }

    internal void OnOpened() => Interlocked.Increment(ref _opened);

    internal void OnClosed() => Interlocked.Increment(ref _closed);

    /// <inheritdoc />
    public void Read(ICollection<CounterReading> readings)
    {
        readings.Add(new CounterReading(AqaCounter.ClipsScored, ClipsScored));
        foreach (var (topic, n) in _deadLettersByTopic) { readings.Add(new CounterReading(AqaCounter.DeadLetters, n, topic)); }
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"received {Received}, scored {ClipsScored}, duplicates {Duplicates}, missing {Missing}, dead letters {DeadLetters}, open {Open}";
}
