using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using Xunit;

namespace AqaStream.Scoring.Tests;

/// <summary>The positional ridges' deduction term (<see cref="ClipDeductions"/>): a per-clip detector trained on the
/// judges' deduction counts alone finds the clips where the skater fell, the ridge prices its count below zero and errs
/// less where falls cost points, the explanation stays exact and live, the checkpoint keeps the term, and the detector's
/// training equals the same loop in PyTorch.</summary>
public class ClipDeductionsTests
{
    private const int Dim = 6;

    // A fall clip stands out along feature 0 (+4σ); the deduction count is the number of falls (0 to 3). The judged score
    // reads the skater's level along feature 1 and loses 2 points per fall.
    private static List<PerformanceSample> WithFalls(int count, int seed, double noise = 0.3)
    {
        var rng = new Random(seed);
        var samples = new List<PerformanceSample>();
        for (var i = 0; i < count; i++)
        {
            var s = RandomClips.Performance(rng, $"p{i}", Dim);
            var u = rng.NextDouble();
            var falls = u < 0.6 ? 0 : u < 0.85 ? 1 : u < 0.95 ? 2 : 3;
            foreach (var q in Enumerable.Range(0, s.Clips).OrderBy(_ => rng.Next()).Take(falls)) { s.Features[q * Dim] += 4f; }
            var level = Enumerable.Range(0, s.Clips).Average(q => (double)s.Features[(q * Dim) + 1]);
            samples.Add(s with { Score = (float)(20 + (10 * level) - (2 * falls) + (noise * Gaussian.Next(rng))), Deductions = falls });
        }
        return samples;
    }

    private static int[] FallClips(PerformanceSample s) => [.. Enumerable.Range(0, s.Clips).Where(q => s.Features[q * Dim] > 3.2f && FallsIn(s) > 0)];

    private static int FallsIn(PerformanceSample s) => (int)s.Deductions!.Value;

    [Fact]
    public void Fit_OnCountsAlone_FindsTheClipsWhereTheSkaterFell()
    {
        var detector = ClipDeductions.Fit(WithFalls(200, 1), new ClipDeductions.Training(Penalty: 0.001, Steps: 300, LearningRate: 0.05));
        var unseen = WithFalls(150, 2);
        var expected = unseen.Select(detector.Expected).ToArray();
        var truth = unseen.Select(s => (double)FallsIn(s)).ToArray();
        var r = MathNet.Numerics.Statistics.Correlation.Pearson(expected, truth);
        Assert.True(r > 0.9, $"expected counts correlate {r:F3} with the falls");
        // Each fall clip carries most of a deduction; an ordinary clip next to none.
        var fallen = unseen.Where(s => FallsIn(s) > 0).SelectMany(s => FallClips(s).Select(q => detector.Probability(s.Features.AsSpan(q * Dim, Dim)))).ToList();
        var ordinary = unseen.SelectMany(s => Enumerable.Range(0, s.Clips).Where(q => !FallClips(s).Contains(q)).Select(q => detector.Probability(s.Features.AsSpan(q * Dim, Dim)))).Order().ToList();
        Assert.True(fallen.Average() > 0.6, $"a fall clip's mean probability {fallen.Average():F3}");
        Assert.True(ordinary[ordinary.Count / 2] < 0.02, $"an ordinary clip's median probability {ordinary[ordinary.Count / 2]:F4}");
        // No deductions on a training performance is a one-line error naming it; a positive price is refused.
        var e = Assert.Throws<ArgumentException>(() => ClipDeductions.Fit([.. WithFalls(10, 3).Select((s, i) => i == 4 ? s with { Deductions = null } : s)]));
        Assert.Contains("p4", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => detector.WithPoints(1));
    }

    [Fact]
    public void Ridge_PricesADeductionBelowZero_ErrsLess_AndItsClipScoresStillAddUp()
    {
        var train = WithFalls(160, 4);
        var test = WithFalls(200, 5);
        var outOfFold = new double[train.Count];
        var (ridge, _, _, _, _) = PositionalRidge.FitChoosingCompanion(train, [0], knots: [2], alphas: [0.1, 1], shares: [4], outOfFold: outOfFold);
        var (withTerm, fit) = PositionalRidge.AddDeductions(ridge, train, outOfFold, seed: 42);
        Assert.NotNull(fit);
        Assert.NotNull(withTerm.Deductions);
        Assert.InRange(fit.Points, -2.6, -1.4);   // 2 points per fall
        Assert.True(fit.MseWith < fit.MseWithout);
        double Mse(IClipScorer m) => m.Score(test, 1f).Zip(test, (p, t) => Math.Pow(p.Score - t.Score!.Value, 2)).Average();
        Assert.True(Mse(withTerm) < 0.5 * Mse(ridge), $"test mse {Mse(withTerm):F3} with the term, {Mse(ridge):F3} without");
        // Exact contributions: the score is the sum of w_q·s_q, and the clip where the skater fell carries the price.
        var sample = test.First(s => FallsIn(s) == 1);
        var prediction = withTerm.Score([sample], 1f)[0];
        AssertClose.Equal(prediction.Clips.Sum(c => (double)c.Contribution), prediction.Score, absolute: 1e-4, relative: 1e-5);
        var fallClip = FallClips(sample)[0];
        var baseline = ridge.Score([sample], 1f)[0];
        var shift = prediction.Clips.Select((c, q) => c.Contribution - (fit.Slope * baseline.Clips[q].Contribution)).ToArray();
        Assert.True(shift[fallClip] - (fit.Intercept / sample.Clips) < -0.8, $"the fall clip's share of the price {shift[fallClip]:F3}");
        Assert.True(shift.Where((_, q) => q != fallClip).All(x => Math.Abs(x - (fit.Intercept / sample.Clips)) < 0.2));
        // The price is reported as the clip's deduction, apart from its score: every clip score is the ridge's, mapped by
        // the stacking line (an execution score, never hundreds of negative points), and contribution = w·s + deduction.
        Assert.True(prediction.Clips[fallClip].Deduction < -0.8, $"the fall clip's deduction {prediction.Clips[fallClip].Deduction:F3}");
        Assert.All(prediction.Clips.Where(c => c.Clip != fallClip), c => Assert.InRange(c.Deduction, -0.2f, 0f));
        foreach (var c in prediction.Clips)
        {
            AssertClose.Equal((fit.Slope * baseline.Clips[c.Clip].Score) + fit.Intercept, c.Score, absolute: 1e-3, relative: 1e-5);
            AssertClose.Equal((c.Weight * c.Score) + c.Deduction, c.Contribution, absolute: 1e-5, relative: 1e-5);
        }
        // The live state equals the offline score of the clips so far, clip by clip.
        LivePrefix.AssertEqualsOffline(withTerm, sample, IncrementalMode.Exact, tolerance: 1e-4);
    }

    /// <summary>An ensemble with a member that has the term (e.g. <c>gdlt-ws+ridge-blend-d</c>): each clip's deduction is
    /// the members' weighted deductions, its score what is left of the contribution per unit of weight, the contributions
    /// still add up, and the live ensemble reports the same deductions as the offline one.</summary>
    [Fact]
    public void Ensemble_AveragesTheMembersDeductions_AndStaysExactLive()
    {
        var train = WithFalls(120, 9);
        var outOfFold = new double[train.Count];
        var (ridge, _, _, _, _) = PositionalRidge.FitChoosingCompanion(train, [0], knots: [2], alphas: [0.1, 1], shares: [4], outOfFold: outOfFold);
        var withTerm = PositionalRidge.AddDeductions(ridge, train, outOfFold, seed: 3, new ClipDeductions.Training(Steps: 150)).Model;
        Assert.NotNull(withTerm.Deductions);
        var ensemble = new EnsembleScorer([withTerm, ridge], [0.75, 0.25]);
        var sample = WithFalls(40, 10).First(s => FallsIn(s) == 1);
        var combined = ensemble.Score([sample], 1f)[0];
        var alone = withTerm.Score([sample], 1f)[0];
        var plain = ridge.Score([sample], 1f)[0];
        AssertClose.Equal((0.75 * alone.Score) + (0.25 * plain.Score), combined.Score, absolute: 1e-4, relative: 1e-5);
        AssertClose.Equal(combined.Score, combined.Clips.Sum(c => (double)c.Contribution), absolute: 1e-4, relative: 1e-5);
        foreach (var c in combined.Clips)
        {
            AssertClose.Equal(0.75 * alone.Clips[c.Clip].Deduction, c.Deduction, absolute: 1e-6, relative: 1e-5);
            AssertClose.Equal((0.75 * alone.Clips[c.Clip].Score) + (0.25 * plain.Clips[c.Clip].Score), c.Score, absolute: 1e-3, relative: 1e-5);
        }
        Assert.True(combined.Clips[FallClips(sample)[0]].Deduction < -0.5, $"the fall clip's deduction {combined.Clips[FallClips(sample)[0]].Deduction:F3}");
        LivePrefix.AssertEqualsOffline(ensemble, sample, IncrementalMode.Exact, tolerance: 1e-4);
    }

    [Fact]
    public void Stack_TakesNoTerm_WhereCountsDoNotLowerTheScore()
    {
        double[] predicted = [10, 12, 14, 16, 18, 20];
        Assert.Null(ClipDeductions.Stack(predicted, [0, 1, 0, 1, 0, 1], [10, 12.5, 14, 16.5, 18, 20.5]));   // counts raise the score
        var stacked = ClipDeductions.Stack(predicted, [0, 1, 0, 1, 0, 1], [10, 11, 14, 15, 18, 19]);
        Assert.NotNull(stacked);
        AssertClose.Equal(-1, stacked.Value.Points, absolute: 1e-9, relative: 1e-9);
        AssertClose.Equal(1, stacked.Value.Slope, absolute: 1e-9, relative: 1e-9);
    }

    [Fact]
    public void FitBlend_WithTheTerm_IsOneModel_AndABlendOfATermedPartIsRefused()
    {
        var train = WithFalls(120, 6);
        var fit = PositionalRidge.FitBlend(train, [0], squash: OnOffAuto.On, alphas: [0.1, 1], deductions: true);
        Assert.NotNull(fit.Deductions);
        Assert.NotNull(fit.Blend.Deductions);
        Assert.NotNull(fit.Blend.Squash);   // the detector reads the clips as the blend does
        Assert.Null(PositionalRidge.FitBlend(train, [0], alphas: [0.1, 1]).Deductions);
        var e = Assert.Throws<ArgumentException>(() => PositionalRidge.Blend(fit.Mean, fit.Blend));
        Assert.Contains("deduction term", e.Message, StringComparison.Ordinal);
        Assert.Contains("is not one of off, on.", Assert.Throws<ArgumentException>(() => OnOffAuto.ParseOnOff("auto", "--deductions")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Checkpoint_KeepsTheTerm_AndAHalfTermIsOneLine()
    {
        using var dir = new TempDirectory();
        var train = WithFalls(80, 7);
        var outOfFold = new double[train.Count];
        var (ridge, _, _, _, _) = PositionalRidge.FitChoosingCompanion(train, [0], knots: [2], alphas: [1], shares: [4], outOfFold: outOfFold);
        var model = PositionalRidge.AddDeductions(ridge, train, outOfFold, seed: 1, new ClipDeductions.Training(Steps: 100)).Model;
        Assert.NotNull(model.Deductions);
        var path = dir.File("d.safetensors");
        CheckpointStore.Save(path, model, new ModelCard { ModelId = "deductions", Architecture = new DecoderOptions { FeatureDim = Dim, MaxQueries = 500 } });
        var loaded = Assert.IsType<PositionalRidge>(CheckpointStore.Load(path).Scorer);
        Assert.Equal(model.Deductions!.Points, loaded.Deductions!.Points);
        Assert.Equal(model.Deductions.Bias, loaded.Deductions.Bias);
        var test = WithFalls(5, 8);
        Assert.Equal(model.Score(test, 1f).Select(p => p.Score), loaded.Score(test, 1f).Select(p => p.Score));
        var file = SafeTensors.Read(path);
        SafeTensors.Write(path, [.. file.Tensors.Values.Where(t => t.Name != PositionalRidge.DeductionOffsetsTensor)], file.Metadata);
        var e = Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path));
        Assert.Contains("needs both", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>The same training loop in PyTorch (tools/reference/deductions_reference.py, Debian's python3-torch,
    /// autograd for the gradients): after 120 Adam steps the weights agree to 2e-3 of their largest and the bias to 2e-3.</summary>
    [Fact]
    [Trait("Category", "Process")]
    public void Fit_EqualsPyTorch()
    {
        var samples = WithFalls(40, 9);
        var training = new ClipDeductions.Training(Penalty: 0.01, Steps: 120, LearningRate: 0.02);
        var reference = ReferenceScript.Run("deductions_reference.py", new
        {
            penalty = training.Penalty,
            steps = training.Steps,
            lr = training.LearningRate,
            samples = samples.Select(s => new { clips = s.Clips, features = s.Features, deductions = s.Deductions }),
        });
        var detector = ClipDeductions.Fit(samples, training);
        var weights = reference.GetProperty("weights").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        var scale = weights.Max(Math.Abs);
        Assert.True(scale > 0.1, $"the reference learned next to nothing ({scale})");
        for (var j = 0; j < Dim; j++) { AssertClose.Equal(weights[j], detector.Weights[j], absolute: 2e-3 * scale, relative: 2e-3); }
        AssertClose.Equal(reference.GetProperty("bias").GetDouble(), detector.Bias, absolute: 2e-3, relative: 2e-3);
    }
}
