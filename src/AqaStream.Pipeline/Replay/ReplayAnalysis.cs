using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Evaluation;
using AqaStream.Scoring.Metrics;

namespace AqaStream.Pipeline.Replay;

/// <summary>How the model ranks the performances of one competition (what its standings show).</summary>
/// <param name="Competition">The competition.</param>
/// <param name="Performances">Its labelled, replayed performances.</param>
/// <param name="Spearman">ρ between the model's finals and the judges' within it; null when either is constant.</param>
public sealed record CompetitionRanking(string Competition, int Performances, double? Spearman);

/// <summary>One of the largest errors.</summary>
public sealed record PerformanceError(string PerformanceId, double Predicted, double Judged, double Error);

/// <summary>A value that cannot be a score.</summary>
public sealed record ImpossibleValue(string PerformanceId, string What);

/// <summary>What an analyst looks at beside the headline metrics: bias, uncertainty, the worst cases, impossible
/// values, and how much the model adds over a constant and the linear baseline on the same performances.</summary>
/// <param name="Bias">Mean signed error of the final score (predicted − judged).</param>
/// <param name="SpearmanInterval95">Percentile bootstrap 95 % interval of ρ (1,000 resamples, seed 42).</param>
/// <param name="LargestErrors">The ten largest absolute errors, largest first.</param>
/// <param name="Impossible">Negative final or clip scores.</param>
/// <param name="Baselines">Constant and ridge-mean on the same performances (empty when no training data was given).</param>
/// <param name="BaselineNote">Why there are no baselines, when there are none.</param>
/// <param name="Falls">The model's likely falls against the judges' deductions (a model with a deduction term and labels
/// with a deductions column only).</param>
/// <param name="Competitions">ρ within each competition of at least <see cref="MinimumCompetitionSize"/> labelled
/// performances (empty when the performances carry no competition).</param>
/// <param name="WithinCompetitionSpearman">The Fisher-z average of those ρ: how well the model orders the skaters of one
/// event, which a pooled ρ over several events overstates when the events differ in level; null without any.</param>
public sealed record ReplayAnalysis(double Bias, double[] SpearmanInterval95, IReadOnlyList<PerformanceError> LargestErrors,
    IReadOnlyList<ImpossibleValue> Impossible, IReadOnlyList<BaselineFigures> Baselines, string? BaselineNote, FallCheck? Falls = null,
    IReadOnlyList<CompetitionRanking>? Competitions = null, double? WithinCompetitionSpearman = null)
{
    /// <summary>Fewest labelled performances a competition needs for its own ρ.</summary>
    public const int MinimumCompetitionSize = 3;

    /// <summary>How many of the largest errors are listed.</summary>
    public const int LargestErrorCount = 10;

    /// <summary>Fewest labelled performances (not replayed) the baselines are fitted on.</summary>
    public const int MinimumBaselineTraining = ValidationBaselines.MinimumTraining;

    /// <summary>From the report's labelled timelines; baselines fitted on <paramref name="baselineTraining"/> (labelled
    /// performances that were not replayed), scoring <paramref name="replayed"/>.</summary>
    public static ReplayAnalysis? Build(ReplayReport report, IReadOnlyList<PerformanceSample>? baselineTraining, IReadOnlyList<PerformanceSample>? replayed,
        string? baselineNote = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        var labelled = report.Timelines.Where(t => t.Label is not null && t.Final is not null).ToList();
        if (labelled.Count < 2) { return null; }
        var predicted = labelled.Select(t => t.Final!.Value).ToList();
        var actual = labelled.Select(t => t.Label!.Value).ToList();
        var (low, high) = CrossValidation.BootstrapSpearman(predicted, actual, seed: 42);
        var errors = labelled.Select(t => new PerformanceError(t.PerformanceId, t.Final!.Value, t.Label!.Value, t.Final.Value - t.Label.Value))
            .OrderByDescending(e => Math.Abs(e.Error)).ThenBy(e => e.PerformanceId, StringComparer.Ordinal).Take(LargestErrorCount).ToList();
        var impossible = new List<ImpossibleValue>();
        foreach (var t in report.Timelines)
        {
            if (t.Final < 0) { impossible.Add(new ImpossibleValue(t.PerformanceId, $"negative final score {t.Final:F2}")); }
            var negative = t.Clips.Count(c => c.Score < 0);
            if (negative > 0) { impossible.Add(new ImpossibleValue(t.PerformanceId, $"{negative} negative clip score(s), lowest {t.Clips.Min(c => c.Score):F2}")); }
        }
        var baselines = baselineTraining is not null && replayed is not null ? ValidationBaselines.Measure(baselineTraining, replayed) : [];
        var competitions = labelled.Where(t => t.Competition is not null).GroupBy(t => t.Competition!, StringComparer.Ordinal)
            .Where(g => g.Count() >= MinimumCompetitionSize).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new CompetitionRanking(g.Key, g.Count(), Ranking(g.Select(t => t.Final!.Value).ToList(), g.Select(t => t.Label!.Value).ToList())))
            .ToList();
        var ranked = competitions.Where(c => c.Spearman is not null).Select(c => c.Spearman!.Value).ToList();
        return new ReplayAnalysis(RegressionMetrics.MeanSignedError(predicted, actual), [low, high], errors, impossible, baselines,
            baselines.Count > 0 ? null : baselineNote ?? $"no baselines: they need at least {MinimumBaselineTraining} labelled performances with features that were not replayed",
            Competitions: competitions, WithinCompetitionSpearman: ranked.Count > 0 ? RegressionMetrics.FisherZAverage(ranked) : null);
    }

    private static double? Ranking(IReadOnlyList<double> predicted, IReadOnlyList<double> judged) =>
        predicted.Distinct().Count() > 1 && judged.Distinct().Count() > 1 ? RegressionMetrics.Spearman(predicted, judged) : null;

    /// <summary>One line for the console: the within-competition ρ and its spread, or null without competitions.</summary>
    public string? CompetitionSummary()
    {
        if (WithinCompetitionSpearman is not { } within || Competitions is not { Count: > 0 } list) { return null; }
        var ranked = list.Where(c => c.Spearman is not null).ToList();
        return string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"within competitions: ρ {within:F3} (Fisher-z average over {ranked.Count} competitions of {MinimumCompetitionSize}+ labelled performances, {ranked.Sum(c => c.Performances)} performances; "
            + $"lowest {ranked.Min(c => c.Spearman!.Value):F3} in {ranked.MinBy(c => c.Spearman!.Value)!.Competition}, highest {ranked.Max(c => c.Spearman!.Value):F3})");
    }
}
