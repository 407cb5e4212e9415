using AqaStream.Scoring.Data;

namespace AqaStream.Pipeline.Contracts;

/// <summary>Why a performance's state was closed.</summary>
public enum CloseReason
{
    /// <summary>A <see cref="PerformanceEnded"/> arrived.</summary>
    Ended,

    /// <summary>No message arrived for the idle timeout (measured on the pipeline's clock, not stream time).</summary>
    IdleTimeout,
}

/// <summary>The running estimate of a performance's score, after every clip (and when a clip is declared missing, and
/// once more, final, when the performance closes).</summary>
/// <param name="PerformanceId">The performance.</param>
/// <param name="ClipsSeen">Clips scored so far.</param>
/// <param name="Total">Provisional score on the competition's scale (points): Σ_q w_q s_q over the clips so far.</param>
/// <param name="Target">TES or PCS.</param>
/// <param name="ModelId">The model's id (from its card).</param>
/// <param name="ModelVersion">The checkpoint's content hash.</param>
/// <param name="Timestamp">When the pipeline produced it (its clock).</param>
/// <param name="MissingClips">Clip indices declared missing so far (gaps are reported, never silently skipped).</param>
/// <param name="Final">True on the last message of a performance.</param>
/// <param name="CloseReason">Why it closed (final messages only).</param>
/// <param name="Breakdown">Final per-clip weights, scores and contributions over the whole performance (final messages only).</param>
/// <param name="ReceivedAt">When the video of the newest clip reached the ingest (latency figures); null otherwise.</param>
public sealed record ProvisionalScore(
    string PerformanceId,
    int ClipsSeen,
    double Total,
    ScoreTarget Target,
    string ModelId,
    string ModelVersion,
    DateTimeOffset Timestamp,
    IReadOnlyList<int> MissingClips,
    bool Final = false,
    CloseReason? CloseReason = null,
    IReadOnlyList<ClipContribution>? Breakdown = null,
    DateTimeOffset? ReceivedAt = null)
{
    /// <summary>Which step of its performance this is: every step of the scorer adds a clip seen or a clip missing, so
    /// clips seen + clips missing numbers them (the dedupe key of the scorer's outputs, and what readers order by).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int Step => ClipsSeen + MissingClips.Count;
}

/// <summary>One clip's part of a final score: Contribution = Weight·Score + Deduction (points; the deduction ≤ 0, 0 for a
/// model without a deduction term).</summary>
public sealed record ClipContribution(int ClipIndex, double Weight, double Score, double Contribution, double Deduction = 0);
