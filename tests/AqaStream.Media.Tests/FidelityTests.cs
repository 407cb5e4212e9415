using System.Text.Json;
using AqaStream.Media.Synthetic;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using Xunit;
using AqaStream.Tests.Shared;

namespace AqaStream.Media.Tests;

public class FidelityTests
{
    private static void WriteTruth(TempDirectory dir, string id, double[] difficulty, double[] execution)
    {
        var clips = difficulty.Select((d, i) => new ClipTruth(i, i * 1.28, (i + 1) * 1.28, d, execution[i])).ToList();
        var truth = new SyntheticTruth(id, "A", 1, 0.5, clips.Count * 1.28, 50, [], clips);
        File.WriteAllText(dir.File(id + ".json"), JsonSerializer.Serialize(truth, SyntheticTruth.Json));
    }

    private static PerformancePrediction Prediction(string id, float[] weights, float[] scores) =>
        new(id, 0, [.. weights.Select((w, i) => new ClipExplanation(i, w, scores[i], w * scores[i]))]);

    [Fact]
    public void Fidelity_MonotoneExplanations_One_ReversedMinusOne()
    {
        using var dir = new TempDirectory();
        WriteTruth(dir, "a", [0.5, 2, 5], [0.9, 0.5, 0.1]);
        WriteTruth(dir, "b", [1, 3], [0.2, 0.7]);
        var faithful = InterpretabilityFidelity.Evaluate(
            [Prediction("a", [0.1f, 0.3f, 0.6f], [9, 5, 1]), Prediction("b", [0.2f, 0.5f], [2, 7])], dir.Path);
        Assert.Equal(5, faithful.Clips);
        AssertClose.Equal(1.0, faithful.WeightDifficultySpearman, absolute: 1e-9, relative: 1e-9);
        AssertClose.Equal(1.0, faithful.ScoreExecutionSpearman, absolute: 1e-9, relative: 1e-9);

        var reversed = InterpretabilityFidelity.Evaluate(
            [Prediction("a", [0.6f, 0.3f, 0.1f], [1, 5, 9]), Prediction("b", [0.55f, 0.15f], [7.5f, 1.5f])], dir.Path);
        AssertClose.Equal(-1.0, reversed.WeightDifficultySpearman, absolute: 1e-9, relative: 1e-9);
        AssertClose.Equal(-1.0, reversed.ScoreExecutionSpearman, absolute: 1e-9, relative: 1e-9);
    }

    [Fact]
    public void Fidelity_ClipCountMismatch_ClearError()
    {
        using var dir = new TempDirectory();
        WriteTruth(dir, "a", [0.5, 2, 5], [0.9, 0.5, 0.1]);
        var e = Assert.Throws<DataFormatException>(() => InterpretabilityFidelity.Evaluate([Prediction("a", [1f], [1f])], dir.Path));
        Assert.Contains("3 clips of truth, but the model scored 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JudgesScore_IsDifficultyWeightedMeanExecution()
    {
        var p = new SyntheticProgram("p", "A", 1, 0.5, 4,
            [new SyntheticElement(ElementKind.Glide, 0, 2, 0, 0, 1, 0.2), new SyntheticElement(ElementKind.Spin, 2, 2, 0, 2, 3, 0.8)], 100, 100);
        AssertClose.Equal(100 * ((1 * 0.2) + (3 * 0.8)) / 4, p.JudgesScore(25), absolute: 1e-9, relative: 1e-9);
        var (d, e) = p.TruthOver(25, 50, 25);   // 1 s of glide then 1 s of spin
        AssertClose.Equal(2, d, absolute: 1e-9, relative: 1e-9);
        AssertClose.Equal(0.5, e, absolute: 1e-9, relative: 1e-9);
    }
}
