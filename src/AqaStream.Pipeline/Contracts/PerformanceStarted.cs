using AqaStream.Scoring.Data;

namespace AqaStream.Pipeline.Contracts;

/// <summary>An athlete takes the ice: opens the performance's live state.</summary>
/// <param name="PerformanceId">Unique id of this performance (the bus key).</param>
/// <param name="Athlete">Athlete's display name.</param>
/// <param name="Discipline">For example "ladies-singles".</param>
/// <param name="Segment">For example "short-program".</param>
/// <param name="Target">Which judges' score the provisional estimates: TES or PCS.</param>
/// <param name="StartedAt">Wall-clock start (the first clip's time origin).</param>
/// <param name="Competition">The competition (event) it belongs to, when known: subscribers can follow a competition.</param>
/// <param name="Nation">Whom the athlete represents (a country code such as "NOR", or a club), when given: shown on air.</param>
public sealed record PerformanceStarted(
    string PerformanceId,
    string Athlete,
    string Discipline,
    string Segment,
    ScoreTarget Target,
    DateTimeOffset StartedAt,
    string? Competition = null,
    string? Nation = null) : PerformanceMessage(PerformanceId)
{
    /// <summary>The <c>type</c> on the wire.</summary>
    public const string TypeName = "performance-started";
}
