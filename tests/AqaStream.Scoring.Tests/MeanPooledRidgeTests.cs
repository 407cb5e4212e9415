using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Evaluation;
using AqaStream.Scoring.Model;
using AqaStream.Tests.Shared;
using Xunit;

namespace AqaStream.Scoring.Tests;

public class MeanPooledRidgeTests
{
    private const int Dim = 6;

    /// <summary>Performances whose score is a known linear function of their mean clip features (plus ln T when asked).</summary>
    private static List<PerformanceSample> Linear(int count, int seed, double lengthCoefficient = 0, double noise = 0)
    {
        var rng = new Random(seed);
        double[] beta = [2.0, -1.5, 0.5, 0, 3.0, -0.25];
        var samples = new List<PerformanceSample>();
        for (var i = 0; i < count; i++)
        {
            var clips = 5 + rng.Next(40);
            var f = new float[clips * Dim];
            Gaussian.Fill(f, rng);
            var mean = new double[Dim];
            for (var q = 0; q < clips; q++) { for (var j = 0; j < Dim; j++) { mean[j] += f[(q * Dim) + j] / (double)clips; } }
            var y = 20 + mean.Zip(beta, (m, b) => m * b).Sum() + (lengthCoefficient * Math.Log(clips)) + (noise * rng.NextDouble());
            samples.Add(new PerformanceSample($"p{i}", f, clips, Dim, (float)y));
        }
        return samples;
    }

    [Fact]
    public void Fit_RecoversAKnownLinearFunction_OfTheMeanClip()
    {
        var train = Linear(80, seed: 1);
        var model = MeanPooledRidge.Solve(train, lengthTerm: false, alpha: 1e-6);
        var test = Linear(20, seed: 2);
        foreach (var (p, t) in model.Score(test, 1f).Zip(test)) { AssertClose.Equal(t.Score!.Value, p.Score, absolute: 1e-3, relative: 1e-4); }
    }

    [Fact]
    public void Fit_WithLengthTerm_RecoversTheLengthCoefficient()
    {
        var train = Linear(120, seed: 3, lengthCoefficient: 4.0);
        var model = MeanPooledRidge.Solve(train, lengthTerm: true, alpha: 1e-6);
        AssertClose.Equal(4.0, model.LengthCoefficient, absolute: 1e-3, relative: 1e-3);
        Assert.False(model.Causal);   // every clip's score moves with ln t
        Assert.Throws<InvalidOperationException>(() => model.StartPerformance(IncrementalMode.Streaming));
    }

    [Fact]
    public void Weights_AreUniform_AndContributionsSumToTheScore()
    {
        var model = MeanPooledRidge.Fit(Linear(60, seed: 4, noise: 1), lengthTerm: false).Model;
        var p = model.Score(Linear(1, seed: 5), 1f)[0];
        Assert.All(p.Clips, c => AssertClose.Equal(1.0 / p.Clips.Count, c.Weight, absolute: 1e-7, relative: 1e-6));
        AssertClose.Equal(p.Score, p.Clips.Sum(c => c.Contribution), absolute: 1e-4, relative: 1e-5);
    }

    [Theory]
    [InlineData(false, IncrementalMode.Streaming)]
    [InlineData(false, IncrementalMode.Exact)]
    [InlineData(true, IncrementalMode.Exact)]
    public void LiveState_AfterEveryClip_EqualsTheOfflineScoreOfTheClipsSoFar(bool lengthTerm, IncrementalMode mode)
    {
        var model = MeanPooledRidge.Fit(Linear(60, seed: 6, lengthCoefficient: lengthTerm ? 2 : 0, noise: 1), lengthTerm).Model;
        LivePrefix.AssertEqualsOffline(model, Linear(1, seed: 7)[0], mode, tolerance: 1e-5);
    }

    [Fact]
    public void Checkpoint_RoundTrip_GivesTheSamePredictions_AndBadTensorsAreNamed()
    {
        using var dir = new TempDirectory();
        var model = MeanPooledRidge.Fit(Linear(60, seed: 8, noise: 1), lengthTerm: true).Model;
        var path = dir.File("ridge.safetensors");
        CheckpointStore.Save(path, model, new ModelCard { ModelId = "ridge-test", Architecture = new DecoderOptions { FeatureDim = Dim } });
        var loaded = CheckpointStore.Load(path);
        Assert.Equal(MeanPooledRidge.MethodName, loaded.Scorer.Method);
        Assert.Equal(MeanPooledRidge.MethodName, loaded.Card.Method);
        var test = Linear(5, seed: 9);
        Assert.Equal(model.Score(test, 1f).Select(p => p.Score), PerformanceScorer.Score(loaded, test).Select(p => p.Score));
        Assert.IsType<MeanPooledRidge>(loaded.Scorer);

        // A card that says 7 features for 6 coefficients is refused, naming both shapes.
        var card = File.ReadAllText(CheckpointStore.CardPath(path)).Replace("\"featureDim\": 6", "\"featureDim\": 7", StringComparison.Ordinal);
        SafeTensors.Write(path, [new NamedTensor(MeanPooledRidge.CoefficientsTensor, new float[6], [6]), new NamedTensor(MeanPooledRidge.OffsetsTensor, new float[2], [2])],
            new Dictionary<string, string> { [CheckpointStore.CardMetadataKey] = card });
        var e = Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path));
        Assert.Contains("[6]", e.Message, StringComparison.Ordinal);
        Assert.Contains("[7]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fit_PenaltyIsChosenByInnerCrossValidation_FromTheGrid()
    {
        var samples = Linear(60, seed: 10, noise: 2);
        var (_, alpha) = MeanPooledRidge.Fit(samples, lengthTerm: false, alphas: [0.01, 1e6]);
        Assert.Equal(0.01, alpha);   // a huge penalty flattens a clean linear signal: the inner folds see that
        Assert.Throws<ArgumentException>(() => MeanPooledRidge.Fit(samples.Take(5).ToList(), lengthTerm: false));
        Assert.Throws<ArgumentException>(() => MeanPooledRidge.Fit(samples, lengthTerm: false, alphas: [-1]));
    }

    /// <summary>The same partially penalised ridge in NumPy (tools/reference/ridge_reference.py, Debian's python3-numpy):
    /// coefficients, intercept and length coefficient agree to 1e-4 relative.</summary>
    [Fact]
    [Trait("Category", "Process")]
    public void Solve_EqualsNumPy()
    {
        var samples = Linear(50, seed: 11, lengthCoefficient: 1.5, noise: 3);
        var reference = ReferenceScript.Run("ridge_reference.py", new
        {
            alpha = 7.5,
            samples = samples.Select(s => new { clips = s.Clips, features = s.Features, score = s.Score }),
        });
        var model = MeanPooledRidge.Solve(samples, lengthTerm: true, alpha: 7.5);
        var coefficients = reference.GetProperty("coefficients").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var scale = coefficients.Max(Math.Abs);
        for (var j = 0; j < Dim; j++) { AssertClose.Equal(coefficients[j], model.Coefficients[j], absolute: 1e-4 * scale, relative: 1e-4); }
        AssertClose.Equal(reference.GetProperty("intercept").GetDouble(), model.Intercept, absolute: 1e-3, relative: 1e-4);
        AssertClose.Equal(reference.GetProperty("length").GetDouble(), model.LengthCoefficient, absolute: 1e-4, relative: 1e-4);
    }

    /// <summary>Performances whose judged score is a noisy reading of a level that the features carry, and whose
    /// companion score reads the same level with little noise (as PCS reads a skater's level better than TES).</summary>
    private static List<PerformanceSample> WithCompanion(int count, int seed, int dim = 40)
    {
        var rng = new Random(seed);
        var beta = Enumerable.Range(0, dim).Select(j => Math.Sin(j + 1.0)).ToArray();
        var samples = new List<PerformanceSample>();
        for (var i = 0; i < count; i++)
        {
            var clips = 5 + rng.Next(20);
            var f = new float[clips * dim];
            Gaussian.Fill(f, rng);
            var level = 0.0;
            for (var q = 0; q < clips; q++) { for (var j = 0; j < dim; j++) { level += beta[j] * f[(q * dim) + j] / clips; } }
            var judged = 30 + (2 * level) + (3 * Gaussian.Next(rng));
            var companion = 20 + level + (0.1 * Gaussian.Next(rng));
            samples.Add(new PerformanceSample($"p{i}", f, clips, dim, (float)judged) { Companion = (float)companion });
        }
        return samples;
    }

    [Fact]
    public void Fit_WithACompanionWeight_LearnsTheMixedLabel_AndMapsBackToTheJudgedScore()
    {
        var train = WithCompanion(60, seed: 20);
        var test = WithCompanion(300, seed: 21);
        double Mse(MeanPooledRidge m) => m.Score(test, 1f).Zip(test, (p, t) => Math.Pow(p.Score - t.Score!.Value, 2)).Average();
        var alone = MeanPooledRidge.Fit(train, lengthTerm: false, alphas: [1, 10, 100]).Model;
        var mixed = MeanPooledRidge.Fit(train, lengthTerm: false, alphas: [1, 10, 100], companionWeight: 2).Model;
        // The companion's cleaner reading of the level lowers the error on unseen judged scores...
        Assert.True(Mse(mixed) < 0.9 * Mse(alone), $"mse with the companion {Mse(mixed):F3}, without {Mse(alone):F3}");
        // ...and the line puts the predictions on the judged scale, not the mixed label's (about 70 + 4·level).
        var bias = mixed.Score(test, 1f).Zip(test, (p, t) => p.Score - t.Score!.Value).Average();
        Assert.InRange(bias, -1.0, 1.0);
        var e = Assert.Throws<ArgumentException>(() => MeanPooledRidge.Fit([.. train.Select(s => s with { Companion = null })], lengthTerm: false, companionWeight: 2));
        Assert.Contains("p0", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => MeanPooledRidge.Fit(train, lengthTerm: false, companionWeight: -1));
        // Weight 0 is the plain fit.
        Assert.Equal(alone.Coefficients.ToArray(), MeanPooledRidge.Fit(train, lengthTerm: false, alphas: [1, 10, 100], companionWeight: 0).Model.Coefficients.ToArray());
    }

    [Fact]
    public void FitChoosingCompanion_TakesTheCompanionWhereItHelps_AndLeavesItWhereItIsNoise()
    {
        var informative = WithCompanion(80, seed: 24);
        var (_, _, chosen) = MeanPooledRidge.FitChoosingCompanion(informative, lengthTerm: false, [0, 1, 2, 3], alphas: [1, 10, 100]);
        Assert.True(chosen > 0, $"chose {chosen} where the companion reads the level with little noise");
        // A companion that is pure noise: the inner folds see that learning it hurts.
        var rng = new Random(25);
        var noise = informative.Select(s => s with { Companion = 100 * Gaussian.Next(rng) }).ToList();
        var (_, _, none) = MeanPooledRidge.FitChoosingCompanion(noise, lengthTerm: false, [0, 1, 2, 3], alphas: [1, 10, 100]);
        Assert.Equal(0, none);
        var (_, _, _, _, positionalChosen) = PositionalRidge.FitChoosingCompanion(informative, [0, 2], knots: [2], alphas: [1, 10], shares: [4]);
        Assert.Equal(2, positionalChosen);
        Assert.Throws<ArgumentException>(() => MeanPooledRidge.FitChoosingCompanion(informative, lengthTerm: false, []));
    }

    [Fact]
    public void Mapped_MovesTheScoreAndEveryClipScore_OnOneLine()
    {
        var model = MeanPooledRidge.Fit(Linear(60, seed: 22, noise: 1), lengthTerm: true).Model;
        var mapped = model.Mapped(1.5, -4);
        var sample = Linear(1, seed: 23)[0];
        var (p, m) = (model.Score([sample], 1f)[0], mapped.Score([sample], 1f)[0]);
        AssertClose.Equal((1.5 * p.Score) - 4, m.Score, absolute: 1e-4, relative: 1e-5);
        foreach (var (a, b) in p.Clips.Zip(m.Clips)) { AssertClose.Equal((1.5 * a.Score) - 4, b.Score, absolute: 1e-4, relative: 1e-5); }
        Assert.Same(model, model.Mapped(1, 0));
    }
}
