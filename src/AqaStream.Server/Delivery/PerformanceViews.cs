using AqaStream.Pipeline.Contracts;

namespace AqaStream.Server.Delivery;

/// <summary>What subscribers see of a performance: everything scored so far. Times are Unix milliseconds.</summary>
/// <param name="PerformanceId">The performance.</param>
/// <param name="Athlete">Athlete's display name (null until its start is seen).</param>
/// <param name="Competition">Its competition, when known.</param>
/// <param name="Nation">Whom the athlete represents (country or club), when given.</param>
/// <param name="Discipline">Discipline.</param>
/// <param name="Segment">Segment.</param>
/// <param name="Target">TES or PCS.</param>
/// <param name="Status">"live" or "ended".</param>
/// <param name="StartedAtMs">Start.</param>
/// <param name="EndedAtMs">End (final score produced).</param>
/// <param name="Clips">Every clip scored, in clip order.</param>
/// <param name="Provisional">The latest provisional (or final) score.</param>
/// <param name="Panel">The judges' panel score once entered.</param>
public sealed record PerformanceView(
    string PerformanceId,
    string? Athlete,
    string? Competition,
    string? Nation,
    string? Discipline,
    string? Segment,
    string? Target,
    string Status,
    long? StartedAtMs,
    long? EndedAtMs,
    IReadOnlyList<ClipView> Clips,
    ProvisionalView? Provisional,
    PanelScoreView? Panel)
{
    /// <summary>Status of a performance still being scored.</summary>
    public const string Live = "live";

    /// <summary>Status once its final score is out.</summary>
    public const string Ended = "ended";

    /// <summary>This view as a role sees it: the attention details are for judges only.</summary>
    public PerformanceView For(ViewerRole role) =>
        role >= ViewerRole.Judge ? this : this with { Clips = [.. Clips.Select(c => c.Public())] };
}

/// <summary>One scored clip.</summary>
/// <param name="ClipIndex">0-based clip position.</param>
/// <param name="Start">Seconds from the performance start.</param>
/// <param name="End">Seconds from the performance start.</param>
/// <param name="Weight">w_q (difficulty): when scored, then the final weight once the performance ends.</param>
/// <param name="Score">s_q (execution), points.</param>
/// <param name="Contribution">w_q·s_q + <paramref name="Deduction"/>, points.</param>
/// <param name="ProvisionalAfter">The provisional total right after this clip: the running-total curve.</param>
/// <param name="TopAttended">The clips its query attended to most (judges only; null for others).</param>
/// <param name="HasThumbnail">Whether a middle-frame thumbnail exists (judges fetch it from the REST API).</param>
/// <param name="Deduction">The clip's expected deduction, points (≤ 0; 0 for a model without a deduction term): a likely
/// fall, shown as a deduction of its own beside the clip's execution score.</param>
public sealed record ClipView(
    int ClipIndex,
    double Start,
    double End,
    double Weight,
    double Score,
    double Contribution,
    double? ProvisionalAfter,
    IReadOnlyList<AttendedClip>? TopAttended,
    bool HasThumbnail,
    double Deduction = 0)
{
    /// <summary>Whether the clip is a likely fall (<see cref="ClipScore.IsLikelyFall"/>): the pages mark it, so the
    /// threshold lives in one place.</summary>
    public bool LikelyFall => ClipScore.IsLikelyFall(Deduction);

    /// <summary>Without the judge-only details.</summary>
    public ClipView Public() => TopAttended is null ? this : this with { TopAttended = null };
}

/// <summary>The provisional (or final) score.</summary>
/// <param name="Total">Points.</param>
/// <param name="ClipsSeen">Clips scored.</param>
/// <param name="Target">TES or PCS.</param>
/// <param name="ModelId">Model id.</param>
/// <param name="ModelVersion">Checkpoint hash.</param>
/// <param name="TimestampMs">When the scorer produced it.</param>
/// <param name="MissingClips">Clips declared missing.</param>
/// <param name="Final">The last one of the performance.</param>
/// <param name="CloseReason">Why it closed (final only).</param>
/// <param name="ReceivedAtMs">When the video of its newest clip reached the ingest (end-to-end latency).</param>
public sealed record ProvisionalView(
    double Total,
    int ClipsSeen,
    string Target,
    string ModelId,
    string ModelVersion,
    long TimestampMs,
    IReadOnlyList<int> MissingClips,
    bool Final,
    string? CloseReason,
    long? ReceivedAtMs)
{
    /// <summary>From the bus message.</summary>
    public static ProvisionalView From(ProvisionalScore p)
    {
        ArgumentNullException.ThrowIfNull(p);
        return new(p.Total, p.ClipsSeen, p.Target.ToString(), p.ModelId, p.ModelVersion, p.Timestamp.ToUnixTimeMilliseconds(), p.MissingClips,
            p.Final, p.CloseReason?.ToString(), p.ReceivedAt?.ToUnixTimeMilliseconds());
    }
}

/// <summary>The judges' panel score, entered on the tablet.</summary>
/// <param name="Score">Points.</param>
/// <param name="EnteredBy">Who entered it (the token's subject).</param>
/// <param name="EnteredAtMs">When.</param>
public sealed record PanelScoreView(double Score, string EnteredBy, long EnteredAtMs);

/// <summary>A performance in the list: who, and where the score stands.</summary>
/// <param name="PerformanceId">The performance.</param>
/// <param name="Athlete">Athlete.</param>
/// <param name="Competition">Competition.</param>
/// <param name="Status">live or ended.</param>
/// <param name="StartedAtMs">Start.</param>
/// <param name="ClipsSeen">Clips scored.</param>
/// <param name="Provisional">Latest provisional (or final) total.</param>
/// <param name="Final">Whether it is final.</param>
/// <param name="Panel">Panel score, when entered.</param>
public sealed record PerformanceSummary(string PerformanceId, string? Athlete, string? Competition, string Status, long? StartedAtMs, int ClipsSeen,
    double? Provisional, bool Final, double? Panel);

/// <summary>Who is looking: decides what a view may contain. Ordered: each role sees what the ones below it see.</summary>
public enum ViewerRole
{
    /// <summary>No token, where public results are open (the demo).</summary>
    Public,

    /// <summary>Broadcast overlays: public results.</summary>
    Overlay,

    /// <summary>Judges: also per-clip attention, thumbnails, panel entry.</summary>
    Judge,

    /// <summary>Competition officials: also start and end performances, choose the model.</summary>
    Operator,
}
