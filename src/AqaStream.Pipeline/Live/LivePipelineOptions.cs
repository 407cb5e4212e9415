namespace AqaStream.Pipeline.Live;

/// <summary>Tunables of the live pipeline, with the defaults used in production.</summary>
public sealed record LivePipelineOptions
{
    /// <summary>Seconds of video per Fis-V clip (32 frames at 25 fps): the rate clips arrive live.</summary>
    public const double ClipSeconds = 1.28;

    /// <summary>A performance with no message for this long (pipeline clock) is closed: a pause between athletes
    /// must not keep state open. 30 s is ~23 clip intervals.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a later clip waits for a missing earlier one before the earlier is declared missing
    /// (~3 clip intervals: late enough for a retried send, early enough to keep the provisional live).</summary>
    public TimeSpan GapTimeout { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>A clip more than this many positions ahead of the next expected one is rejected as out of range.</summary>
    public int MaxClipsAhead { get; init; } = 64;

    /// <summary>Closed performance ids remembered so that late clips are rejected as "after the end", not "unknown".</summary>
    public int RecentlyClosedCapacity { get; init; } = 10_000;

    /// <summary>Attended clips listed in each clip's explanation.</summary>
    public int TopAttended { get; init; } = 3;

    /// <summary>Scoring lanes (threads): each performance is scored on one lane chosen by its id, so its state has
    /// one owner. 0 scores on the caller's thread (tests in virtual time).</summary>
    public int Lanes { get; init; } = Environment.ProcessorCount;

    /// <summary>Batched scoring: for a model whose scorer can step many performances at once
    /// (<see cref="Scoring.Model.IBatchedClipScorer"/>, the libtorch engine), clips of different performances are gathered
    /// into one step within this window. Null (the default) scores every clip alone as it arrives.</summary>
    public BatchWindow? Batch { get; init; }
}
