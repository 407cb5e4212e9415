using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using Xunit;

namespace AqaStream.Scoring.Tests;

/// <summary><c>ridge-pos</c>: it recovers a score that depends on when features occur, its explanation adds up, the
/// live exact state equals the offline score of the prefix, and its checkpoint round-trips or fails in one line.</summary>
public class PositionalRidgeTests
{
    private const int Dim = 4;

    // y = 10 + 3·Φ_0[feature 0] − 2·Φ_2[feature 1] (3 knots): feature 0 counts early in the programme, feature 1 late.
    private static List<PerformanceSample> Positional(int count, int seed)
    {
        var rng = new Random(seed);
        var samples = new List<PerformanceSample>();
        for (var i = 0; i < count; i++)
        {
            var s = RandomClips.Performance(rng, $"p{i}", Dim);
            var phi = PositionalRidge.PooledFeatures(s, 3);
            samples.Add(s with { Score = (float)(10 + (3 * phi[0]) - (2 * phi[(2 * Dim) + 1])) });
        }
        return samples;
    }

    [Fact]
    public void Solve_RecoversAPositionDependentFunction_ThatRidgeMeanCannot()
    {
        var train = Positional(120, 1);
        var test = Positional(30, 2);
        var model = PositionalRidge.Solve(train, 3, alpha: 1e-6);
        foreach (var (p, t) in model.Score(test, 1f).Zip(test)) { AssertClose.Equal(t.Score!.Value, p.Score, absolute: 1e-3, relative: 1e-4); }
        var mean = MeanPooledRidge.Solve(train, lengthTerm: false, alpha: 1e-6);
        var meanError = mean.Score(test, 1f).Zip(test).Average(x => Math.Abs(x.First.Score - x.Second.Score!.Value));
        Assert.True(meanError > 0.05, $"ridge-mean error {meanError}: the task should need the position");
        var (fitted, knots, _, _) = PositionalRidge.Fit(train, [2, 3, 5], [1e-4, 1e-2]);
        Assert.Equal(3, knots);
        Assert.Equal(3, fitted.Knots);
    }

    [Fact]
    public void Explanation_AddsUp_LiveExactEqualsOfflinePrefix_StreamingRefused()
    {
        var model = PositionalRidge.Solve(Positional(60, 3), 4, alpha: 0.1);
        var sample = Positional(1, 4)[0];
        var offline = model.Score([sample], 1f)[0];
        AssertClose.Equal(offline.Score, offline.Clips.Sum(c => c.Contribution), absolute: 1e-4, relative: 1e-5);
        Assert.All(offline.Clips, c => AssertClose.Equal(1.0 / sample.Clips, c.Weight, absolute: 1e-7, relative: 0));
        var live = model.StartPerformance(IncrementalMode.Exact);
        for (var t = 1; t <= sample.Clips; t++)
        {
            live.Append(sample.Features.AsSpan((t - 1) * Dim, Dim));
            var prefix = model.Score([new PerformanceSample("p", sample.Features[..(t * Dim)], t, Dim, null)], 1f)[0];
            AssertClose.Equal(prefix.Score, live.Score, absolute: 1e-4, relative: 1e-5);
            for (var q = 0; q < t; q++) { AssertClose.Equal(prefix.Clips[q].Score, live.ClipScores[q], absolute: 1e-4, relative: 1e-5); }
        }
        Assert.Contains("exact mode", Assert.Throws<InvalidOperationException>(() => model.StartPerformance(IncrementalMode.Streaming)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => live.Append(new float[Dim + 1]));
    }

    [Fact]
    public void Blend_IsTheAverageOfRidgeMeanAndRidgePos_AsOnePositionalModel()
    {
        var train = Positional(60, 7);
        var mean = MeanPooledRidge.Solve(train, lengthTerm: false, alpha: 0.5);
        var positional = PositionalRidge.Solve(train, 4, alpha: 0.5, share: 2);
        var blend = PositionalRidge.Blend(mean, positional);
        Assert.Equal(4, blend.Knots);
        var test = Positional(10, 8);
        var expected = mean.Score(test, 1f).Zip(positional.Score(test, 1f), (a, b) => (a.Score + b.Score) / 2).ToList();
        var actual = blend.Score(test, 1f);
        for (var i = 0; i < test.Count; i++)
        {
            AssertClose.Equal(expected[i], actual[i].Score, absolute: 1e-4, relative: 1e-5);
            AssertClose.Equal(actual[i].Score, actual[i].Clips.Sum(c => c.Contribution), absolute: 1e-4, relative: 1e-5);
        }
        var withLength = MeanPooledRidge.Solve(train, lengthTerm: true, alpha: 0.5);
        Assert.Contains("without the length term", Assert.Throws<ArgumentException>(() => PositionalRidge.Blend(withLength, positional)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NormalisedEntropy_UniformIsOne_OneHotIsZero()
    {
        Assert.Equal(1.0, Evaluation.CrossValidation.NormalisedEntropy([.. Enumerable.Range(0, 8).Select(q => new ClipExplanation(q, 0.125f, 1, 0.125f))]), 6);
        Assert.Equal(0.0, Evaluation.CrossValidation.NormalisedEntropy([.. Enumerable.Range(0, 8).Select(q => new ClipExplanation(q, q == 3 ? 1 : 0, 1, 0))]), 6);
        var half = Evaluation.CrossValidation.NormalisedEntropy([.. Enumerable.Range(0, 4).Select(q => new ClipExplanation(q, q < 2 ? 0.5f : 0, 1, 0))]);
        Assert.Equal(0.5, half, 6);   // ln 2 / ln 4
    }

    [Fact]
    public void Checkpoint_RoundTrips_WrongShapeIsOneLine()
    {
        using var dir = new TempDirectory();
        var path = dir.File("pos.safetensors");
        var model = PositionalRidge.Solve(Positional(40, 5), 3, alpha: 0.1);
        var card = new ModelCard { ModelId = "pos", Architecture = new DecoderOptions { FeatureDim = Dim, MaxQueries = 500 } };
        CheckpointStore.Save(path, model, card);
        var loaded = CheckpointStore.Load(path);
        Assert.Equal(PositionalRidge.MethodName, loaded.Card.Method);
        Assert.Equal(ModelCard.PositionalRidgeFormat, loaded.Card.Format);
        var test = Positional(5, 6);
        Assert.Equal(model.Score(test, 1f).Select(p => p.Score), loaded.Scorer.Score(test, loaded.Card.ScoreScale).Select(p => p.Score));

        var json = (card with { Format = ModelCard.PositionalRidgeFormat, ScoreScale = 1f }).ToJson();
        SafeTensors.Write(path, [new NamedTensor(MeanPooledRidge.CoefficientsTensor, new float[3 * (Dim + 1)], [3, Dim + 1]), new NamedTensor(MeanPooledRidge.OffsetsTensor, [1f], [1])],
            new Dictionary<string, string> { [CheckpointStore.CardMetadataKey] = json });
        var e = Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path));
        Assert.Contains($"[3, {Dim + 1}] and [1] do not match [knots ≥ 2, {Dim}]", e.Message, StringComparison.Ordinal);
    }
}
