using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using Xunit;

namespace AqaStream.Scoring.Tests;

/// <summary>The ridges' squash (<see cref="ClipSquash"/>): φ(x) = tanh((x − c)/σ) with c and σ the training clips' own
/// mean and spread; a ridge on squashed clips recovers a score the raw mean cannot, keeps exact per-clip contributions and
/// a live state equal to the offline score of the clips so far, is chosen by the inner folds where it helps, and keeps its
/// squash in a checkpoint.</summary>
public class ClipSquashTests
{
    private const int Dim = 4;

    // Heavy-tailed clip features (a few clips far out), and y = 10 + 8·mean_q tanh((x_q0 − c0)/σ0) − 5·mean_q tanh((x_q2 − c2)/σ2)
    // with c, σ those of a large reference set: the score saturates where the raw mean keeps growing with the outliers.
    private static List<PerformanceSample> HeavyTailed(int count, int seed, double noise = 0)
    {
        var rng = new Random(seed);
        var samples = new List<PerformanceSample>();
        for (var i = 0; i < count; i++)
        {
            var s = RandomClips.Performance(rng, $"p{i}", Dim);
            for (var k = 0; k < s.Features.Length; k++) { if (rng.NextDouble() < 0.08) { s.Features[k] *= 12; } }
            samples.Add(s);
        }
        var reference = ClipSquash.Fit(samples);
        return [.. samples.Select(s =>
        {
            var phi = reference.Apply(s);
            double Mean(int j) => Enumerable.Range(0, s.Clips).Average(q => (double)phi.Features[(q * Dim) + j]);
            return s with { Score = (float)(10 + (8 * Mean(0)) - (5 * Mean(2)) + (noise * Gaussian.Next(rng))) };
        })];
    }

    [Fact]
    public void Fit_IsTheClipsMeanAndSpread_AndApplyIsTanhOfTheStandardisedValue()
    {
        var samples = HeavyTailed(20, 1);
        var squash = ClipSquash.Fit(samples);
        var all = samples.SelectMany(s => Enumerable.Range(0, s.Clips).Select(q => s.Features.AsSpan(q * Dim, Dim).ToArray())).ToList();
        for (var j = 0; j < Dim; j++)
        {
            var mean = all.Average(c => (double)c[j]);
            var sd = Math.Sqrt(all.Average(c => (c[j] - mean) * (c[j] - mean)));
            AssertClose.Equal(mean, squash.Center[j], absolute: 1e-5, relative: 1e-5);
            AssertClose.Equal(sd, squash.Spread[j], absolute: 1e-5, relative: 1e-5);
        }
        float[] clip = [3f, -1f, 0f, 100f];
        var phi = squash.Apply(clip);
        for (var j = 0; j < Dim; j++) { AssertClose.Equal(Math.Tanh((clip[j] - squash.Center[j]) / squash.Spread[j]), phi[j], absolute: 1e-6, relative: 1e-6); }
        Assert.InRange(phi[3], 0.999f, 1f);   // an extreme value saturates
        Assert.Contains("spreads positive", Assert.Throws<ArgumentException>(() => new ClipSquash([0f], [0f])).Message, StringComparison.Ordinal);
        Assert.Contains("is not one of off, on, auto", Assert.Throws<ArgumentException>(() => OnOffAuto.Parse("maybe", "--squash")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Fit_OnSquashedClips_RecoversAScoreThatSaturates_ThatTheRawMeanCannot()
    {
        var train = HeavyTailed(200, 2);
        var test = HeavyTailed(40, 3);
        static double Error(IClipScorer m, List<PerformanceSample> test) => m.Score(test, 1f).Zip(test).Average(x => Math.Abs(x.First.Score - x.Second.Score!.Value));
        var squashed = MeanPooledRidge.FitChoosingCompanion(train, lengthTerm: false, [0], alphas: [1e-6], squash: OnOffAuto.On).Model;
        var raw = MeanPooledRidge.FitChoosingCompanion(train, lengthTerm: false, [0], alphas: [1e-6]).Model;
        Assert.NotNull(squashed.Squash);
        Assert.Null(raw.Squash);
        Assert.True(Error(squashed, test) < 0.05, $"squashed error {Error(squashed, test)}");
        Assert.True(Error(raw, test) > 5 * Error(squashed, test), $"raw error {Error(raw, test)} against {Error(squashed, test)} squashed");
        var positional = PositionalRidge.FitChoosingCompanion(train, [0], knots: [2], alphas: [1e-6], shares: [4], squash: OnOffAuto.On).Model;
        Assert.True(Error(positional, test) < 0.05, $"ridge-pos squashed error {Error(positional, test)}");
    }

    public static TheoryData<string, IncrementalMode> Models => new()
    {
        { "ridge-mean", IncrementalMode.Streaming },
        { "ridge-mean", IncrementalMode.Exact },
        { "ridge-pos", IncrementalMode.Exact },
        { "ridge-blend", IncrementalMode.Exact },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void SquashedModels_ScoreTheSquashedClips_ExplanationAddsUp_LiveEqualsOfflinePrefix(string method, IncrementalMode mode)
    {
        var train = HeavyTailed(60, 4, noise: 0.3);
        IClipScorer model = method switch
        {
            "ridge-mean" => MeanPooledRidge.FitChoosingCompanion(train, lengthTerm: false, [0], alphas: [0.5], motion: OnOffAuto.On, squash: OnOffAuto.On).Model,
            "ridge-pos" => PositionalRidge.FitChoosingCompanion(train, [0], knots: [3], alphas: [0.5], shares: [2], motion: OnOffAuto.On, squash: OnOffAuto.On).Model,
            _ => PositionalRidge.FitBlend(train, [0], OnOffAuto.On, OnOffAuto.On, alphas: [0.5]).Blend,
        };
        var sample = HeavyTailed(1, 5)[0];
        var offline = model.Score([sample], 1f)[0];
        AssertClose.Equal(offline.Score, offline.Clips.Sum(c => c.Contribution), absolute: 1e-4, relative: 1e-5);
        // The same coefficients without the squash, on clips squashed by hand, give every clip the same score.
        var (squash, plain) = model switch
        {
            MeanPooledRidge m => (m.Squash!, (IClipScorer)m.WithSquash(null)),
            PositionalRidge p => (p.Squash!, p.WithSquash(null)),
            _ => throw new InvalidOperationException(method),
        };
        var byHand = plain.Score([squash.Apply(sample)], 1f)[0];
        for (var q = 0; q < sample.Clips; q++) { AssertClose.Equal(byHand.Clips[q].Score, offline.Clips[q].Score, absolute: 1e-5, relative: 1e-6); }
        LivePrefix.AssertEqualsOffline(model, sample, mode, tolerance: 1e-4);
    }

    [Fact]
    public void Fit_SquashAuto_TakesItWhereItHelps_AndLeavesItWhereTheScoreIsLinear()
    {
        Assert.NotNull(MeanPooledRidge.FitChoosingCompanion(HeavyTailed(80, 6, noise: 0.2), lengthTerm: false, [0], alphas: [0.01, 0.1], squash: OnOffAuto.Auto).Model.Squash);
        // A score linear in the raw mean: squashing the clips only bends it.
        var linear = HeavyTailed(80, 7).Select(s => s with { Score = (float)(10 + (2 * Enumerable.Range(0, s.Clips).Average(q => (double)s.Features[q * Dim]))) }).ToList();
        Assert.Null(MeanPooledRidge.FitChoosingCompanion(linear, lengthTerm: false, [0], alphas: [0.01, 0.1], squash: OnOffAuto.Auto).Model.Squash);
        var blend = PositionalRidge.FitBlend(HeavyTailed(80, 6, noise: 0.2), [0], squash: OnOffAuto.Auto, alphas: [0.01, 0.1]);
        Assert.NotNull(blend.Blend.Squash);
        Assert.True(blend.Mean.Squash!.SameAs(blend.Positional.Squash), "ridge-mean follows ridge-pos's choice, with the same c and σ");
    }

    [Fact]
    public void Blend_RefusesPartsThatReadTheClipsDifferently()
    {
        var train = HeavyTailed(40, 8, noise: 0.3);
        var squashed = PositionalRidge.FitChoosingCompanion(train, [0], knots: [2], alphas: [0.5], shares: [2], squash: OnOffAuto.On).Model;
        var raw = MeanPooledRidge.Solve(train, lengthTerm: false, alpha: 0.5);
        Assert.Contains("both through the same squash, or neither", Assert.Throws<ArgumentException>(() => PositionalRidge.Blend(raw, squashed)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Checkpoint_KeepsTheSquash_AndAHalfSquashIsOneLine()
    {
        using var dir = new TempDirectory();
        var path = dir.File("squash.safetensors");
        var model = PositionalRidge.FitBlend(HeavyTailed(40, 9, noise: 0.3), [0], squash: OnOffAuto.On, alphas: [0.5]).Blend;
        CheckpointStore.Save(path, model, new ModelCard { ModelId = "squash", Architecture = new DecoderOptions { FeatureDim = Dim, MaxQueries = 500 } });
        var loaded = CheckpointStore.Load(path);
        var test = HeavyTailed(5, 10);
        Assert.Equal(model.Score(test, 1f).Select(p => p.Score), loaded.Scorer.Score(test, loaded.Card.ScoreScale).Select(p => p.Score));
        Assert.True(model.Squash!.SameAs(Assert.IsType<PositionalRidge>(loaded.Scorer).Squash));

        var file = SafeTensors.Read(path);
        SafeTensors.Write(path, file.Tensors.Values.Where(t => t.Name != MeanPooledRidge.SquashSpreadTensor), file.Metadata);
        var e = Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path));
        Assert.Contains("a squash needs both 'ridge.squash_center' and 'ridge.squash_spread'; this checkpoint has one", e.Message, StringComparison.Ordinal);
    }
}
