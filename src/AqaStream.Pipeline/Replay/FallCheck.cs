using AqaStream.Pipeline.Contracts;
using AqaStream.Scoring.Metrics;

namespace AqaStream.Pipeline.Replay;

/// <summary>
/// A model's likely falls against the judges' deductions, for a model with a deduction term: a performance "has a likely
/// fall" when one of its clips expects a deduction of <see cref="ClipScore.LikelyFallPoints"/> or less (the clip the overlay,
/// the tablet and the report's timelines mark); the judges' deductions come from the labels file's deductions column.
/// </summary>
/// <param name="Threshold">The clip threshold, points (<see cref="ClipScore.LikelyFallPoints"/>).</param>
/// <param name="Performances">Replayed performances with judged deductions.</param>
/// <param name="WithJudgedDeduction">Of those, how many the judges deducted from.</param>
/// <param name="Hits">A likely fall, and a judged deduction.</param>
/// <param name="Spearman">ρ between the model's expected deductions (the sum over the clips, as a positive number of
/// points) and the judged deductions; null when either is constant.</param>
/// <param name="MissedIds">The performances missed (no likely fall, a judged deduction), by id.</param>
/// <param name="FalseAlarmIds">The false alarms (a likely fall, no judged deduction), by id.</param>
public sealed record FallCheck(double Threshold, int Performances, int WithJudgedDeduction, int Hits, double? Spearman,
    IReadOnlyList<string> MissedIds, IReadOnlyList<string> FalseAlarmIds)
{
    /// <summary>A likely fall, no judged deduction.</summary>
    public int FalseAlarms => FalseAlarmIds.Count;

    /// <summary>No likely fall, a judged deduction.</summary>
    public int Missed => MissedIds.Count;

    /// <summary>The check on <paramref name="report"/>'s timelines, or null where the model gave no deductions (a model
    /// without a deduction term) or fewer than two replayed performances have judged deductions.</summary>
    public static FallCheck? From(ReplayReport report, IReadOnlyDictionary<string, double>? judgedDeductions)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (judgedDeductions is null || !report.Timelines.Any(t => t.Clips.Any(c => c.Deduction != 0))) { return null; }
        var rows = report.Timelines.Where(t => t.Final is not null && judgedDeductions.ContainsKey(t.PerformanceId))
            .Select(t => (t.PerformanceId, Judged: judgedDeductions[t.PerformanceId], Expected: -t.Clips.Sum(c => c.Deduction), Likely: t.Clips.Any(c => ClipScore.IsLikelyFall(c.Deduction))))
            .ToList();
        if (rows.Count < 2) { return null; }
        var expected = rows.Select(r => r.Expected).ToList();
        var judged = rows.Select(r => r.Judged).ToList();
        var spearman = expected.Distinct().Count() > 1 && judged.Distinct().Count() > 1 ? RegressionMetrics.Spearman(expected, judged) : (double?)null;
        return new FallCheck(ClipScore.LikelyFallPoints, rows.Count, rows.Count(r => r.Judged > 0), rows.Count(r => r.Likely && r.Judged > 0), spearman,
            [.. rows.Where(r => !r.Likely && r.Judged > 0).Select(r => r.PerformanceId)], [.. rows.Where(r => r.Likely && r.Judged == 0).Select(r => r.PerformanceId)]);
    }

    /// <summary>One line for the console and the page.</summary>
    public string Summary() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"likely falls (a clip expecting {Threshold:0.0} points or less): in {Hits} of {WithJudgedDeduction} performances the judges deducted from, " +
        $"{FalseAlarms} of {Performances - WithJudgedDeduction} without; ρ(expected, judged deductions) {(Spearman is { } r ? r.ToString("F3", System.Globalization.CultureInfo.InvariantCulture) : "–")}");
}
