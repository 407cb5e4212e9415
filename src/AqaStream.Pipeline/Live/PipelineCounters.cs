namespace AqaStream.Pipeline.Live;

/// <summary>What the pipeline has done, for health pages and benchmarks. Thread-safe.</summary>
public sealed class PipelineCounters
{
    private long _received;
    private long _clipsScored;
    private long _duplicates;
    private long _missing;
    private long _deadLetters;
    private long _opened;
    private long _closed;

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

    internal void OnClipScored()
    {
        Interlocked.Increment(ref _clipsScored);
        Telemetry.AqaMetrics.ClipsScored.Add(1);
    }

    internal void OnDuplicate() => Interlocked.Increment(ref _duplicates);

    internal void OnMissing() => Interlocked.Increment(ref _missing);

    internal void OnDeadLetter(string sourceTopic)
    {
        Interlocked.Increment(ref _deadLetters);
        Telemetry.AqaMetrics.DeadLetters.Add(1, new KeyValuePair<string, object?>("topic", sourceTopic));
    }

    internal void OnOpened() => Interlocked.Increment(ref _opened);

    internal void OnClosed() => Interlocked.Increment(ref _closed);

    /// <inheritdoc />
    public override string ToString() =>
        $"received {Received}, scored {ClipsScored}, duplicates {Duplicates}, missing {Missing}, dead letters {DeadLetters}, open {Open}";
}
