using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;

namespace AqaStream.Scoring.Model;

/// <summary>One clip's explanation in points: its weight (difficulty), score (execution), expected deduction (≤ 0; 0 for
/// a model without a deduction term) and contribution w·s + deduction.</summary>
public sealed record ClipExplanation(int Clip, float Weight, float Score, float Contribution, float Deduction = 0);

/// <summary>A scored performance: the final score in points and the per-clip explanation.</summary>
public sealed record PerformancePrediction(string Id, float Score, IReadOnlyList<ClipExplanation> Clips);

/// <summary>Offline scoring with a loaded checkpoint of any method.</summary>
public static class PerformanceScorer
{
    /// <summary>Performances scored together; padding is masked, so batching does not change results.</summary>
    public const int DefaultBatchSize = 16;

    /// <summary>Scores with a loaded checkpoint of any method (its card's scale turns model units into points).</summary>
    public static IReadOnlyList<PerformancePrediction> Score(LoadedModel loaded, IReadOnlyList<PerformanceSample> samples)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        return loaded.Scorer.Score(samples, loaded.Card.ScoreScale);
    }
}
