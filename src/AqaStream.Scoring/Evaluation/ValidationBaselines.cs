using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Model;

namespace AqaStream.Scoring.Evaluation;

/// <summary>
/// The two baselines every model is held against, fitted on the performances it was trained on and scored on the
/// performances it was validated on: the constant (the training mean) and <c>ridge-mean</c> (ridge on the mean of the
/// clip features, penalty by inner cross-validation). Model cards record them (<see cref="ValidationSummary.Baselines"/>);
/// the replay report shows them beside the model.
/// </summary>
public static class ValidationBaselines
{
    /// <summary>The constant baseline's name.</summary>
    public const string ConstantName = "constant";

    /// <summary>Fewest training performances the baselines are fitted on (ridge's inner cross-validation needs them).</summary>
    public const int MinimumTraining = 10;

    /// <summary>The constant and ridge-mean baselines, fitted on <paramref name="training"/> and scored on
    /// <paramref name="validation"/> (both labelled); empty when there are fewer than <see cref="MinimumTraining"/>
    /// training or 2 validation performances.</summary>
    public static IReadOnlyList<BaselineFigures> Measure(IReadOnlyList<PerformanceSample> training, IReadOnlyList<PerformanceSample> validation)
    {
        ArgumentNullException.ThrowIfNull(training);
        ArgumentNullException.ThrowIfNull(validation);
        if (training.Count < MinimumTraining || validation.Count < 2) { return []; }
        if (training.Concat(validation).FirstOrDefault(s => s.Score is null) is { } unlabelled)
        {
            throw new ArgumentException($"{unlabelled.Id}: the baselines need a judged score for every performance.");
        }
        var truth = validation.Select(s => (double)s.Score!.Value).ToList();
        var mean = training.Average(s => (double)s.Score!.Value);
        var constant = validation.Select(_ => mean).ToList();
        var (ridge, alpha) = MeanPooledRidge.Fit(training, lengthTerm: false);
        var ridgePredictions = ridge.Score(validation, 1f).Select(p => (double)p.Score).ToList();
        return
        [
            new BaselineFigures(ConstantName, "the training mean", training.Count, null, RegressionMetrics.Mse(constant, truth), RegressionMetrics.MeanSignedError(constant, truth)),
            new BaselineFigures(MeanPooledRidge.MethodName, FormattableString.Invariant($"ridge on mean clip features, penalty {alpha} by inner CV"), training.Count,
                RegressionMetrics.Spearman(ridgePredictions, truth), RegressionMetrics.Mse(ridgePredictions, truth), RegressionMetrics.MeanSignedError(ridgePredictions, truth)),
        ];
    }
}
