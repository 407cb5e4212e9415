using AqaStream.Scoring.Data;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Model;

namespace AqaStream.Pipeline.Replay;

/// <summary>A baseline scored on the same replayed performances as the model.</summary>
/// <param name="Name">constant or ridge-mean.</param>
/// <param name="Description">How it was made.</param>
/// <param name="TrainedOn">Labelled performances it was fitted on (never the replayed ones).</param>
/// <param name="Spearman">Its ρ on the replayed performances (null for the constant: a constant has no ranking).</param>
/// <param name="Mse">Its MSE.</param>
/// <param name="Bias">Its mean signed error (predicted − judged).</param>
public sealed record BaselineResult(string Name, string Description, int TrainedOn, double? Spearman, double Mse, double Bias);

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
    IReadOnlyList<ImpossibleValue> Impossible, IReadOnlyList<BaselineResult> Baselines, string? BaselineNote, FallCheck? Falls = null)
{
    /// <summary>How many of the largest errors are listed.</summary>
    public const int LargestErrorCount = 10;

    /// <summary>Fewest labelled performances (not replayed) the baselines are fitted on.</summary>
    public const int MinimumBaselineTraining = 10;

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
        var (low, high) = Scoring.Evaluation.CrossValidation.BootstrapSpearman(predicted, actual, seed: 42);
        var errors = labelled.Select(t => new PerformanceError(t.PerformanceId, t.Final!.Value, t.Label!.Value, t.Final.Value - t.Label.Value))
            .OrderByDescending(e => Math.Abs(e.Error)).ThenBy(e => e.PerformanceId, StringComparer.Ordinal).Take(LargestErrorCount).ToList();
        var impossible = new List<ImpossibleValue>();
        foreach (var t in report.Timelines)
        {
            if (t.Final < 0) { impossible.Add(new ImpossibleValue(t.PerformanceId, $"negative final score {t.Final:F2}")); }
            var negative = t.Clips.Count(c => c.Score < 0);
            if (negative > 0) { impossible.Add(new ImpossibleValue(t.PerformanceId, $"{negative} negative clip score(s), lowest {t.Clips.Min(c => c.Score):F2}")); }
        }
        var baselines = new List<BaselineResult>();
        if (baselineTraining is { Count: >= MinimumBaselineTraining } && replayed is { Count: >= 2 })
        {
            var truth = replayed.Select(s => (double)s.Score!.Value).ToList();
            var mean = baselineTraining.Average(s => s.Score!.Value);
            var constant = replayed.Select(_ => (double)mean).ToList();
            baselines.Add(new BaselineResult("constant", "the training mean", baselineTraining.Count, null, RegressionMetrics.Mse(constant, truth), RegressionMetrics.MeanSignedError(constant, truth)));
            var (ridge, alpha) = MeanPooledRidge.Fit(baselineTraining, lengthTerm: false);
            var ridgePredictions = ridge.Score(replayed, 1f).Select(p => (double)p.Score).ToList();
            baselines.Add(new BaselineResult(MeanPooledRidge.MethodName, FormattableString.Invariant($"ridge on mean clip features, penalty {alpha} by inner CV"), baselineTraining.Count,
                RegressionMetrics.Spearman(ridgePredictions, truth), RegressionMetrics.Mse(ridgePredictions, truth), RegressionMetrics.MeanSignedError(ridgePredictions, truth)));
        }
        return new ReplayAnalysis(RegressionMetrics.MeanSignedError(predicted, actual), [low, high], errors, impossible, baselines,
            baselines.Count > 0 ? null : baselineNote ?? $"no baselines: they need at least {MinimumBaselineTraining} labelled performances with features that were not replayed");
    }
}
