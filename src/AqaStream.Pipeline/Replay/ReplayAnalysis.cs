using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Evaluation;
using AqaStream.Scoring.Metrics;

namespace AqaStream.Pipeline.Replay;

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
public sealed record ReplayAnalysis(double Bias, double[] SpearmanInterval95, IReadOnlyList<PerformanceError> LargestErrors,
    IReadOnlyList<ImpossibleValue> Impossible, IReadOnlyList<BaselineFigures> Baselines, string? BaselineNote, FallCheck? Falls = null)
{
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
        return new ReplayAnalysis(RegressionMetrics.MeanSignedError(predicted, actual), [low, high], errors, impossible, baselines,
            baselines.Count > 0 ? null : baselineNote ?? $"no baselines: they need at least {MinimumBaselineTraining} labelled performances with features that were not replayed");
    }
}
