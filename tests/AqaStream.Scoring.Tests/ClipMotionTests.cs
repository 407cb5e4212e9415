using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using Xunit;

namespace AqaStream.Scoring.Tests;

/// <summary>The ridges' motion term (<see cref="ClipMotion"/>): it recovers a score that depends on how the features
/// change from clip to clip, which the mean cannot see; every clip's score is b + β·x_q + μ·|x_q − x_{q−1}| (the first
/// clip has no motion part), so the explanation adds up and the live state equals the offline score of the clips so far;
/// the inner folds take it where it helps; checkpoints keep it.</summary>
public class ClipMotionTests
{
    private const int Dim = 5;

    // Motion written out here, independently of ClipMotion: (1/T) Σ_{q≥1} |x_q[j] − x_{q−1}[j]|.
    private static double MotionOf(PerformanceSample s, int j)
    {
        var sum = 0.0;
        for (var q = 1; q < s.Clips; q++) { sum += Math.Abs(s.Features[(q * s.FeatureDim) + j] - s.Features[((q - 1) * s.FeatureDim) + j]); }
        return sum / s.Clips;
    }

    private static double MeanOf(PerformanceSample s, int j)
    {
        var sum = 0.0;
        for (var q = 0; q < s.Clips; q++) { sum += s.Features[(q * s.FeatureDim) + j]; }
        return sum / s.Clips;
    }

    // y = 10 + 2·mean[0] + 6·motion[1] (+ noise): feature 1 is steady in some performances and jittery in others, with the
    // same mean either way, so only its change from clip to clip tells them apart.
    private static List<PerformanceSample> Moving(int count, int seed, double noise = 0, double motionWeight = 6)
    {
        var rng = new Random(seed);
        var samples = new List<PerformanceSample>();
        for (var i = 0; i < count; i++)
        {
            var s = RandomClips.Performance(rng, $"p{i}", Dim);
            var jitter = rng.NextDouble() * 2;
            var level = Gaussian.Next(rng);
            for (var q = 0; q < s.Clips; q++) { s.Features[(q * Dim) + 1] = (float)(level + (jitter * Gaussian.Next(rng))); }
            samples.Add(s with { Score = (float)(10 + (2 * MeanOf(s, 0)) + (motionWeight * MotionOf(s, 1)) + (noise * Gaussian.Next(rng))) });
        }
        return samples;
    }

    [Fact]
    public void Solve_WithMotion_RecoversAScoreThatDependsOnHowFeaturesChange_ThatTheMeanCannot()
    {
        var train = Moving(150, 1);
        var test = Moving(30, 2);
        static double Error(IClipScorer m, List<PerformanceSample> test) => m.Score(test, 1f).Zip(test).Average(x => Math.Abs(x.First.Score - x.Second.Score!.Value));
        var withMotion = MeanPooledRidge.Solve(train, lengthTerm: false, alpha: 1e-6, motion: true);
        var positional = PositionalRidge.Solve(train, 3, alpha: 1e-6, motion: true);
        Assert.True(withMotion.HasMotion && positional.HasMotion);
        foreach (var (p, t) in withMotion.Score(test, 1f).Zip(test)) { AssertClose.Equal(t.Score!.Value, p.Score, absolute: 2e-3, relative: 1e-4); }
        foreach (var (p, t) in positional.Score(test, 1f).Zip(test)) { AssertClose.Equal(t.Score!.Value, p.Score, absolute: 2e-3, relative: 1e-4); }
        AssertClose.Equal(6.0, withMotion.MotionCoefficients[1], absolute: 1e-3, relative: 1e-3);
        AssertClose.Equal(2.0, withMotion.Coefficients[0], absolute: 1e-3, relative: 1e-3);
        var plain = MeanPooledRidge.Solve(train, lengthTerm: false, alpha: 1e-6);
        Assert.False(plain.HasMotion);
        Assert.True(plain.MotionCoefficients.IsEmpty);
        Assert.True(Error(plain, test) > 50 * Error(withMotion, test), $"ridge-mean error {Error(plain, test)} against {Error(withMotion, test)} with motion");
    }

    public static TheoryData<string, IncrementalMode> Models => new()
    {
        { "ridge-mean", IncrementalMode.Streaming },
        { "ridge-mean", IncrementalMode.Exact },
        { "ridge-pos", IncrementalMode.Exact },
        { "ridge-blend", IncrementalMode.Exact },
    };

    private static IClipScorer Fitted(string method, List<PerformanceSample> train) => method switch
    {
        "ridge-mean" => MeanPooledRidge.Solve(train, lengthTerm: false, alpha: 0.5, motion: true),
        "ridge-pos" => PositionalRidge.Solve(train, 4, alpha: 0.5, share: 2, motion: true),
        _ => PositionalRidge.Blend(MeanPooledRidge.Solve(train, lengthTerm: false, alpha: 0.5, motion: true), PositionalRidge.Solve(train, 3, alpha: 0.5, share: 2)),
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void ClipScores_AreTheWrittenOutFormula_ExplanationAddsUp_LiveEqualsOfflinePrefix(string method, IncrementalMode mode)
    {
        var model = Fitted(method, Moving(60, 3, noise: 0.5));
        var sample = Moving(1, 4)[0];
        var offline = model.Score([sample], 1f)[0];
        AssertClose.Equal(offline.Score, offline.Clips.Sum(c => c.Contribution), absolute: 1e-4, relative: 1e-5);
        Assert.All(offline.Clips, c => AssertClose.Equal(1.0 / sample.Clips, c.Weight, absolute: 1e-7, relative: 0));
        // The same performance without the motion coefficients: every clip score differs by exactly μ·|x_q − x_{q−1}|.
        var (motion, withoutMotion) = model switch
        {
            MeanPooledRidge m => (m.MotionCoefficients.ToArray(), (IClipScorer)new MeanPooledRidge(m.Coefficients.ToArray(), m.Intercept, 0f)),
            PositionalRidge p => (p.MotionCoefficients.ToArray(), new PositionalRidge(p.Coefficients.ToArray(), p.Knots, p.Intercept)),
            _ => throw new InvalidOperationException(method),
        };
        Assert.Equal(Dim, motion.Length);
        var still = withoutMotion.Score([sample], 1f)[0];
        for (var q = 0; q < sample.Clips; q++)
        {
            var part = 0.0;
            for (var j = 0; q > 0 && j < Dim; j++) { part += motion[j] * Math.Abs(sample.Features[(q * Dim) + j] - sample.Features[((q - 1) * Dim) + j]); }
            AssertClose.Equal(still.Clips[q].Score + part, offline.Clips[q].Score, absolute: 1e-4, relative: 1e-5);
        }
        LivePrefix.AssertEqualsOffline(model, sample, mode, tolerance: 1e-4);
    }

    [Fact]
    public void Blend_AveragesTheMotionTerms_APartWithoutOneCountsAsZero()
    {
        var train = Moving(60, 5, noise: 0.5);
        var mean = MeanPooledRidge.Solve(train, lengthTerm: false, alpha: 0.5, motion: true);
        var positional = PositionalRidge.Solve(train, 3, alpha: 0.5, share: 2);
        var blend = PositionalRidge.Blend(mean, positional);
        Assert.True(blend.HasMotion);
        for (var j = 0; j < Dim; j++) { AssertClose.Equal(0.5 * mean.MotionCoefficients[j], blend.MotionCoefficients[j], absolute: 1e-7, relative: 1e-6); }
        var test = Moving(10, 6);
        foreach (var ((a, b), c) in mean.Score(test, 1f).Zip(positional.Score(test, 1f)).Zip(blend.Score(test, 1f)))
        {
            AssertClose.Equal((a.Score + b.Score) / 2, c.Score, absolute: 1e-4, relative: 1e-5);
        }
        Assert.False(PositionalRidge.Blend(MeanPooledRidge.Solve(train, false, 0.5), positional).HasMotion);
    }

    [Fact]
    public void Fit_MotionAuto_TakesItWhereItHelps_AndLeavesItWhereItIsNoise()
    {
        var moving = Moving(80, 7, noise: 0.3);
        Assert.True(MeanPooledRidge.FitChoosingCompanion(moving, lengthTerm: false, [0], alphas: [0.1, 1], motion: OnOffAuto.Auto).Model.HasMotion);
        Assert.True(PositionalRidge.FitChoosingCompanion(moving, [0], knots: [2], alphas: [0.1, 1], shares: [4], motion: OnOffAuto.Auto).Model.HasMotion);
        // Scores from the mean alone: five more columns of pure noise only cost the inner folds.
        var still = Moving(40, 8, noise: 0.3, motionWeight: 0);
        Assert.False(MeanPooledRidge.FitChoosingCompanion(still, lengthTerm: false, [0], alphas: [0.01, 0.1], motion: OnOffAuto.Auto).Model.HasMotion);
        Assert.Throws<ArgumentException>(() => OnOffAuto.Parse("sometimes", "--motion"));
        Assert.Equal(OnOffAuto.Auto, OnOffAuto.Parse("auto", "--motion"));
    }

    [Theory]
    [InlineData("ridge-mean")]
    [InlineData("ridge-pos")]
    public void Checkpoint_KeepsTheMotionTerm_AndAWrongShapeIsOneLine(string method)
    {
        using var dir = new TempDirectory();
        var path = dir.File("motion.safetensors");
        var model = Fitted(method, Moving(40, 9, noise: 0.5));
        var card = new ModelCard { ModelId = "motion", Architecture = new DecoderOptions { FeatureDim = Dim, MaxQueries = 500 } };
        CheckpointStore.Save(path, model, card);
        var loaded = CheckpointStore.Load(path);
        var test = Moving(5, 10);
        Assert.Equal(model.Score(test, 1f).Select(p => p.Score), loaded.Scorer.Score(test, loaded.Card.ScoreScale).Select(p => p.Score));
        Assert.True(loaded.Scorer is MeanPooledRidge { HasMotion: true } or PositionalRidge { HasMotion: true });

        var file = SafeTensors.Read(path);
        SafeTensors.Write(path, file.Tensors.Values.Select(t => t.Name == MeanPooledRidge.MotionTensor ? t with { Data = new float[Dim + 1], Shape = [Dim + 1] } : t), file.Metadata);
        var e = Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path));
        Assert.Contains($"tensor 'ridge.motion' has shape [{Dim + 1}]; it needs [{Dim}]", e.Message, StringComparison.Ordinal);
    }
}
