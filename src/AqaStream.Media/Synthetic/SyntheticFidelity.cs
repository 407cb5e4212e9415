using AqaStream.Scoring.Data;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Model;

namespace AqaStream.Media.Synthetic;

/// <summary>How well a model's explanation matches the synthetic truth, over all clips of the evaluated performances.</summary>
/// <param name="WeightDifficultySpearman">Spearman ρ of predicted clip weights against true clip difficulty.</param>
/// <param name="ScoreExecutionSpearman">Spearman ρ of predicted clip scores against true clip execution.</param>
/// <param name="Clips">Clips compared.</param>
public sealed record InterpretabilityFidelity(double WeightDifficultySpearman, double ScoreExecutionSpearman, int Clips)
{
    /// <summary>Compares each prediction's clips with <c>{truthDirectory}/{id}.json</c>.</summary>
    public static InterpretabilityFidelity Evaluate(IReadOnlyList<PerformancePrediction> predictions, string truthDirectory)
    {
        ArgumentNullException.ThrowIfNull(predictions);
        var weights = new List<double>();
        var difficulty = new List<double>();
        var scores = new List<double>();
        var execution = new List<double>();
        foreach (var p in predictions)
        {
            var path = Path.Combine(truthDirectory, p.Id + ".json");
            if (!File.Exists(path)) { throw new DataFormatException($"{path}: no truth for performance '{p.Id}'."); }
            var truth = SyntheticTruth.Read(path);
            if (truth.Clips.Count != p.Clips.Count)
            {
                throw new DataFormatException($"{path}: {truth.Clips.Count} clips of truth, but the model scored {p.Clips.Count}.");
            }
            for (var c = 0; c < p.Clips.Count; c++)
            {
                weights.Add(p.Clips[c].Weight);
                scores.Add(p.Clips[c].Score);
                difficulty.Add(truth.Clips[c].Difficulty);
                execution.Add(truth.Clips[c].Execution);
            }
        }
        if (weights.Count < 2) { throw new ArgumentException("Fewer than two clips to correlate."); }
        return new InterpretabilityFidelity(RegressionMetrics.Spearman(weights, difficulty), RegressionMetrics.Spearman(scores, execution), weights.Count);
    }
}
