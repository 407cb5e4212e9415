using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Torch;
using AqaStream.Scoring.Torch.Methods;
using AqaStream.Scoring.Training;
using TorchSharp;
using Xunit;

namespace AqaStream.Scoring.Tests;

/// <summary>The libtorch sequence methods (mlp-mean, gdlt, cofinal, gdlt-ws): they learn a learnable task, their
/// explanation adds up, padding changes nothing, the live exact state equals the offline score of the prefix after
/// every clip, checkpoints round-trip, and bad checkpoints fail in one line.</summary>
[Collection(LibtorchCollection.Name)]
public class SequenceMethodTests
{
    public static TheoryData<string> Methods => [.. SequenceMethodOptions.Methods];

    private static SequenceMethodOptions Small(string method) => new()
    {
        Method = method, FeatureDim = 12, Hidden = 16, ProjectionHidden = 24, Grades = 3, Heads = 2, Dropout = 0.1f, MaxClips = 64,
        ScoreOffset = 20, ScoreSpan = 10,
    };

    // Score = 20 + 10·level where feature 0 of every clip carries 3·level: learnable from any clip.
    private static List<PerformanceSample> Task(int count, int seed)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(i =>
        {
            var s = TorchEngineTests.Sample(i.ToString(System.Globalization.CultureInfo.InvariantCulture), 8 + rng.Next(8), 12, rng);
            var level = (float)rng.NextDouble() * 2 - 1;
            for (var c = 0; c < s.Clips; c++) { s.Features[c * 12] += 3 * level; }
            return s with { Score = 20 + 10 * level };
        })];
    }

    private static readonly TrainingOptions Quick = new() { Epochs = 30, BatchSize = 8, LearningRate = 3e-3f, WeightDecay = 1e-4f, TrainLength = 8, Seed = 1, Patience = 0, WarmupEpochs = 1 };

    [Theory]
    [MemberData(nameof(Methods))]
    public void Train_LearnsTheTask_AndKeepsTheBestEpoch(string method)
    {
        var (train, val) = TrainingData.Split(Task(80, 3), 4, 0, 1);
        var (scorer, result) = new SequenceTrainer(Quick).Train(Small(method), train, val);
        using var _ = scorer;
        Assert.True(result.Best.Spearman > 0.8, $"{method}: validation ρ {result.Best.Spearman}");
        var rho = RegressionMetrics.Spearman(scorer.Score(val, 1f).Select(p => (double)p.Score).ToList(), val.Select(v => (double)v.Score!.Value).ToList());
        AssertClose.Equal(result.Best.Spearman, rho, absolute: 1e-6, relative: 1e-6);   // the best epoch's weights were restored
        Assert.Equal(method, scorer.Method);
    }

    [Theory]
    [InlineData("gdlt-ws")]
    [InlineData("cofinal")]
    public void Train_Recalibrate_FitsTheValidationLine_SameRanks_NoWorseMse(string method)
    {
        var (train, val) = TrainingData.Split(Task(60, 4), 4, 0, 1);
        var options = Quick with { Epochs = 4 };
        var (plain, plainResult) = new SequenceTrainer(options).Train(Small(method), train, val);
        var (fitted, fittedResult) = new SequenceTrainer(options with { Recalibrate = true }).Train(Small(method), train, val);
        using (plain) using (fitted)
        {
            Assert.Null(plainResult.Recalibration);
            var (slope, intercept) = Assert.NotNull(fittedResult.Recalibration);
            var judged = val.Select(v => (double)v.Score!.Value).ToList();
            var before = plain.Score(val, 1f).Select(p => (double)p.Score).ToList();
            var after = fitted.Score(val, 1f).Select(p => (double)p.Score).ToList();
            // The same weights (same seed, same best epoch) mapped through the fitted line.
            for (var i = 0; i < val.Count; i++) { AssertClose.Equal((slope * before[i]) + intercept, after[i], absolute: 1e-3, relative: 1e-5); }
            // Least squares: the residuals average zero and no line (the identity included) does better on this split.
            AssertClose.Equal(judged.Average(), after.Average(), absolute: 1e-3, relative: 0);
            var mse = RegressionMetrics.Evaluate(after, judged).Mse;
            Assert.True(mse <= RegressionMetrics.Evaluate(before, judged).Mse + 1e-6);
            AssertClose.Equal(mse, fittedResult.Best.Mse, absolute: 1e-6, relative: 1e-6);   // the result reports the recalibrated model
            AssertClose.Equal(plainResult.Best.Spearman, fittedResult.Best.Spearman, absolute: 1e-9, relative: 0);
            Assert.Equal(plainResult.Best.Epoch, fittedResult.Best.Epoch);
        }
    }

    [Fact]
    public void Train_WithACompanionWeight_LearnsTheMixedLabel_AndTheLineMapsItBackToTheJudgedScore()
    {
        // Companion = 100 + 50·level: the mixed label 20 + 10·level + 1·companion = 120 + 60·level is six times as steep.
        var samples = Task(60, 4).Select(s => s with { Companion = 100 + (5 * (s.Score!.Value - 20)) }).ToList();
        var (train, val) = TrainingData.Split(samples, 4, 0, 1);
        var options = Quick with { Epochs = 8, Recalibrate = true, CompanionWeight = 1 };
        var (scorer, result) = new SequenceTrainer(options).Train(Small("gdlt-ws"), train, val);
        using var _ = scorer;
        var (slope, _) = Assert.NotNull(result.Recalibration);
        Assert.InRange(slope, 0.08, 0.35);   // about 1/6: the model learned the mixed label's scale
        var predicted = scorer.Score(val, 1f).Select(p => (double)p.Score).ToList();
        var judged = val.Select(v => (double)v.Score!.Value).ToList();
        AssertClose.Equal(judged.Average(), predicted.Average(), absolute: 1e-3, relative: 0);   // on the judged scale
        Assert.True(result.Best.Spearman > 0.8, $"validation ρ {result.Best.Spearman}");
        AssertClose.Equal(RegressionMetrics.Evaluate(predicted, judged).Mse, result.Best.Mse, absolute: 1e-5, relative: 1e-5);
        Assert.Throws<ArgumentException>(() => new SequenceTrainer(options with { Recalibrate = false }));
        var e = Assert.Throws<ArgumentException>(() => new SequenceTrainer(options).Train(Small("gdlt-ws"), [.. train.Select(s => s with { Companion = null })], val));
        Assert.Contains("companion", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gdlt-ws")]
    [InlineData("gdlt")]
    public void Ensemble_ScoreIsTheMembersMean_ExplanationAddsUp_LiveStateEqualsOfflineAfterEveryClip(string method)
    {
        using var ensemble = new EnsembleScorer([new SequenceScorer(SequenceModel.Create(Small(method), 21)), new SequenceScorer(SequenceModel.Create(Small(method), 22)),
            new SequenceScorer(SequenceModel.Create(Small(method), 23))]);
        var samples = new[] { 11, 6 }.Select((n, i) => TorchEngineTests.Sample($"p{i}", n, 12, new Random(30 + i))).ToList();
        var together = ensemble.Score(samples, 1f);
        for (var i = 0; i < samples.Count; i++)
        {
            var members = ensemble.Members.Select(m => m.Score([samples[i]], 1f)[0]).ToList();
            Assert.Equal(samples[i].Id, together[i].Id);
            AssertClose.Equal(members.Average(m => m.Score), together[i].Score, absolute: 1e-5, relative: 1e-5);
            Assert.NotEqual(members[0].Score, members[1].Score);   // different seeds: the mean is not one member
            AssertClose.Equal(1.0, together[i].Clips.Sum(c => c.Weight), absolute: 1e-5, relative: 0);
            AssertClose.Equal(together[i].Score, together[i].Clips.Sum(c => c.Contribution), absolute: 1e-3, relative: 1e-5);
            for (var q = 0; q < samples[i].Clips; q++)
            {
                var c = together[i].Clips[q];
                AssertClose.Equal(members.Average(m => m.Clips[q].Weight), c.Weight, absolute: 1e-6, relative: 1e-5);
                AssertClose.Equal(c.Contribution / c.Weight, c.Score, absolute: 1e-4, relative: 1e-5);
            }
        }
        var sample = samples[0];
        var live = ensemble.StartPerformance(IncrementalMode.Exact);
        for (var t = 1; t <= sample.Clips; t++)
        {
            live.Append(sample.Features.AsSpan((t - 1) * 12, 12));
            var offline = ensemble.Score([new PerformanceSample("p", sample.Features[..(t * 12)], t, 12, null)], 1f)[0];
            Assert.Equal(t, live.Clips);
            AssertClose.Equal(offline.Score, live.Score, absolute: 1e-5, relative: 1e-5);
            var w = live.Weights();
            for (var q = 0; q < t; q++)
            {
                AssertClose.Equal(offline.Clips[q].Weight, w[q], absolute: 1e-6, relative: 1e-4);
                AssertClose.Equal(offline.Clips[q].Score, live.ClipScores[q], absolute: 1e-4, relative: 1e-4);
            }
            Assert.Equal(t, live.LatestCrossAttention.Length);
        }
        // A bad clip reaches no member: the state stays where it was and goes on.
        var nan = new float[12];
        nan[0] = float.NaN;
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => live.Append(nan)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => live.Append(new float[5]));
        Assert.Equal(sample.Clips, live.Clips);
        Assert.Contains("exact mode", Assert.Throws<InvalidOperationException>(() => ensemble.StartPerformance(IncrementalMode.Streaming)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new EnsembleScorer([]));
    }

    [Fact]
    public void Blend_OfACrossFitEnsembleAndARidge_WeightsTheMembers_SavesAsOneCheckpoint_AndLoadsBackTheSame()
    {
        var ridgeData = Task(40, 9);
        var ridge = MeanPooledRidge.Fit(ridgeData, lengthTerm: false).Model;
        var crossFit = new EnsembleScorer([new SequenceScorer(SequenceModel.Create(Small("gdlt-ws"), 31)), new SequenceScorer(SequenceModel.Create(Small("gdlt-ws"), 32))]);
        using var blend = new EnsembleScorer([crossFit, ridge], method: "gdlt-ws+ridge-mean");
        // Flattened: the cross-fit members keep half the weight between them, the ridge the other half.
        Assert.Equal(3, blend.Members.Count);
        Assert.Equal([0.25, 0.25, 0.5], blend.Weights);
        Assert.Equal("gdlt-ws+ridge-mean", blend.Method);
        var samples = new[] { 9, 14 }.Select((n, i) => TorchEngineTests.Sample($"p{i}", n, 12, new Random(40 + i))).ToList();
        var scored = blend.Score(samples, 1f);
        for (var i = 0; i < samples.Count; i++)
        {
            var parts = blend.Members.Select(m => m.Score([samples[i]], 1f)[0].Score).ToList();
            AssertClose.Equal((0.25 * parts[0]) + (0.25 * parts[1]) + (0.5 * parts[2]), scored[i].Score, absolute: 1e-4, relative: 1e-5);
            AssertClose.Equal(scored[i].Score, scored[i].Clips.Sum(c => c.Contribution), absolute: 1e-3, relative: 1e-5);
        }
        using var dir = new TempDirectory();
        var path = dir.File("blend.safetensors");
        CheckpointStore.Save(path, blend, new ModelCard { ModelId = "blend", Target = ScoreTarget.TES, Architecture = new DecoderOptions { FeatureDim = 12 } });
        var loaded = CheckpointStore.Load(path);
        using (loaded.Scorer as IDisposable)
        {
            Assert.Equal(ModelCard.EnsembleFormat, loaded.Card.Format);
            Assert.Equal("gdlt-ws+ridge-mean", loaded.Card.Method);
            Assert.Equal([ModelCard.SequenceFormat, ModelCard.SequenceFormat, ModelCard.RidgeFormat], loaded.Card.Ensemble!.Members.Select(m => m.Card.Format));
            var again = loaded.Scorer.Score(samples, 1f);
            for (var i = 0; i < samples.Count; i++) { AssertClose.Equal(scored[i].Score, again[i].Score, absolute: 1e-5, relative: 1e-6); }
            // Live (exact): after every clip, the offline score of the clips so far.
            var live = loaded.Scorer.StartPerformance(IncrementalMode.Exact);
            var sample = samples[1];
            for (var t = 1; t <= sample.Clips; t++)
            {
                live.Append(sample.Features.AsSpan((t - 1) * 12, 12));
                var offline = loaded.Scorer.Score([new PerformanceSample("p", sample.Features[..(t * 12)], t, 12, null)], 1f)[0];
                AssertClose.Equal(offline.Score, live.Score, absolute: 1e-4, relative: 1e-5);
                AssertClose.Equal(1.0, live.Weights().Sum(), absolute: 1e-5, relative: 0);
            }
        }
        // A tensor that belongs to no member, or a member's missing tensor, is a one-line error naming it.
        var file = SafeTensors.Read(path);
        var stray = dir.File("stray.safetensors");
        SafeTensors.Write(stray, [.. file.Tensors.Values, new NamedTensor("members.7.ridge.offsets", [0f, 0f], [2])], file.Metadata);
        Assert.Contains("members.7.ridge.offsets", Assert.Throws<DataFormatException>(() => CheckpointStore.Load(stray)).Message, StringComparison.Ordinal);
        var missing = dir.File("missing.safetensors");
        SafeTensors.Write(missing, [.. file.Tensors.Values.Where(t => t.Name != "members.2.ridge.offsets")], file.Metadata);
        Assert.Contains("member 2", Assert.Throws<DataFormatException>(() => CheckpointStore.Load(missing)).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new EnsembleScorer([ridge, ridge], [1.0, -1.0]));
    }

    [Fact]
    public void FitLine_LeastSquares_AndAMeanShiftWhereTheSlopeIsNotPositive()
    {
        var x = new[] { 1.0, 2, 3, 4 };
        var (a, b) = CalibrationLine.Fit(x, [.. x.Select(v => (2 * v) + 3)]);
        AssertClose.Equal(2.0, a, absolute: 1e-12, relative: 0);
        AssertClose.Equal(3.0, b, absolute: 1e-12, relative: 0);
        // Predictions that rank backwards: slope 1, and the means are matched (mean 2.5 against 25).
        (a, b) = CalibrationLine.Fit(x, [40.0, 30, 20, 10]);
        Assert.Equal(1.0, a);
        AssertClose.Equal(22.5, b, absolute: 1e-12, relative: 0);
        Assert.Throws<ArgumentException>(() => CalibrationLine.Fit([1.0], [2.0]));
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Recalibrate_MovesScoresClipScoresAndTheLiveState_Together_AndACheckpointKeepsIt(string method)
    {
        TorchFormats.Register();
        using var scorer = new SequenceScorer(SequenceModel.Create(Small(method), 12));
        var sample = TorchEngineTests.Sample("p", 10, 12, new Random(3));
        var before = scorer.Score([sample], 1f)[0];
        scorer.Model.Recalibrate(1.5f, -4f);
        var after = scorer.Score([sample], 1f)[0];
        AssertClose.Equal((1.5 * before.Score) - 4, after.Score, absolute: 1e-4, relative: 1e-5);
        for (var q = 0; q < sample.Clips; q++)
        {
            AssertClose.Equal(before.Clips[q].Weight, after.Clips[q].Weight, absolute: 1e-7, relative: 0);
            AssertClose.Equal((1.5 * before.Clips[q].Score) - 4, after.Clips[q].Score, absolute: 1e-4, relative: 1e-5);
        }
        var live = scorer.StartPerformance(IncrementalMode.Exact);
        for (var t = 0; t < sample.Clips; t++) { live.Append(sample.Features.AsSpan(t * 12, 12)); }
        AssertClose.Equal(after.Score, live.Score, absolute: 1e-5, relative: 1e-5);
        using var dir = new TempDirectory();
        var path = dir.File("m.safetensors");
        CheckpointStore.Save(path, scorer, new ModelCard { Format = ModelCard.SequenceFormat, ModelId = "m", SequenceMethod = scorer.Options, Architecture = new DecoderOptions { FeatureDim = 12 } });
        var loaded = CheckpointStore.Load(path);
        AssertClose.Equal(after.Score, loaded.Scorer.Score([sample], loaded.Card.ScoreScale)[0].Score, absolute: 1e-5, relative: 1e-6);
        ((IDisposable)loaded.Scorer).Dispose();
        Assert.Throws<ArgumentException>(() => scorer.Model.Recalibrate(0f, 1f));
        Assert.Throws<ArgumentException>(() => scorer.Model.Recalibrate(-1f, 1f));
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Train_SameSeed_SamePredictions(string method)
    {
        var (train, val) = TrainingData.Split(Task(40, 5), 4, 0, 1);
        var options = Quick with { Epochs = 3 };
        var (a, _) = new SequenceTrainer(options).Train(Small(method), train, val);
        var (b, _) = new SequenceTrainer(options).Train(Small(method), train, val);
        var (c, _) = new SequenceTrainer(options with { Seed = 2 }).Train(Small(method), train, val);
        using (a) using (b) using (c)
        {
            var pa = a.Score(val, 1f).Select(p => p.Score).ToArray();
            Assert.Equal(pa, b.Score(val, 1f).Select(p => p.Score).ToArray());
            Assert.NotEqual(pa, c.Score(val, 1f).Select(p => p.Score).ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Explanation_WeightsSumToOne_ContributionsAddUpToTheScore_PaddingChangesNothing(string method)
    {
        using var scorer = new SequenceScorer(SequenceModel.Create(Small(method), 4));
        var rng = new Random(9);
        var samples = new[] { 30, 5, 17 }.Select((n, i) => TorchEngineTests.Sample($"p{i}", n, 12, rng)).ToList();
        var together = scorer.Score(samples, 1f);
        for (var i = 0; i < samples.Count; i++)
        {
            var alone = scorer.Score([samples[i]], 1f)[0];
            AssertClose.Equal(alone.Score, together[i].Score, absolute: 1e-5, relative: 1e-5);
            Assert.Equal(samples[i].Clips, together[i].Clips.Count);
            AssertClose.Equal(1.0, together[i].Clips.Sum(c => c.Weight), absolute: 1e-5, relative: 0);
            AssertClose.Equal(together[i].Score, together[i].Clips.Sum(c => c.Contribution), absolute: 1e-3, relative: 1e-5);
        }
        // mlp-mean weighs every clip 1/T; the grade-decoupled methods have no per-clip score (every clip shows the total).
        if (method == "mlp-mean") { Assert.All(together[0].Clips, c => AssertClose.Equal(1.0 / 30, c.Weight, absolute: 1e-6, relative: 0)); }
        if (method is "gdlt" or "cofinal" or "tpt" or "qgvl") { Assert.All(together[0].Clips, c => Assert.Equal(together[0].Score, c.Score, 3)); }
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void LiveExactState_EqualsTheOfflineScoreOfThePrefix_AfterEveryClip(string method)
    {
        using var scorer = new SequenceScorer(SequenceModel.Create(Small(method), 6));
        // A live state keeps each clip's embedding (SequenceModel.EmbedClips): batch norms with statistics far from
        // (0, 1), so that a clip embedded alone and the same clip embedded among others would differ if the embedding
        // were not per clip.
        using (torch.no_grad())
        {
            var rng = new Random(3);
            var statistics = scorer.Model.named_buffers().Where(b => b.name.EndsWith("running_mean", StringComparison.Ordinal) || b.name.EndsWith("running_var", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(statistics);
            foreach (var (name, buffer) in statistics)
            {
                var values = Enumerable.Range(0, (int)buffer.numel()).Select(_ => name.EndsWith("var", StringComparison.Ordinal) ? 0.2f + (float)rng.NextDouble() : (float)rng.NextDouble() - 0.5f).ToArray();
                buffer.copy_(torch.tensor(values));
            }
        }
        var sample = TorchEngineTests.Sample("p", 12, 12, new Random(2));
        var live = scorer.StartPerformance(IncrementalMode.Exact);
        for (var t = 1; t <= sample.Clips; t++)
        {
            live.Append(sample.Features.AsSpan((t - 1) * 12, 12));
            var prefix = new PerformanceSample("p", sample.Features[..(t * 12)], t, 12, null);
            var offline = scorer.Score([prefix], 1f)[0];
            Assert.Equal(t, live.Clips);
            AssertClose.Equal(offline.Score, live.Score, absolute: 1e-5, relative: 1e-5);
            var w = live.Weights();
            for (var q = 0; q < t; q++)
            {
                AssertClose.Equal(offline.Clips[q].Weight, w[q], absolute: 1e-6, relative: 1e-5);
                AssertClose.Equal(offline.Clips[q].Score, live.ClipScores[q], absolute: 1e-5, relative: 1e-5);
            }
        }
        var streaming = Assert.Throws<InvalidOperationException>(() => scorer.StartPerformance(IncrementalMode.Streaming));
        Assert.Contains("exact mode", streaming.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => live.Append(new float[11]));
        var nan = new float[12];
        nan[3] = float.NaN;
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => live.Append(nan)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("gdlt-ws")]
    [InlineData("cofinal")]
    public async System.Threading.Tasks.Task LiveStates_OnTwoThreadsAtOnce_EqualOneAtATime(string method)
    {
        // One scorer, no lock: two lanes advance their own performances at the same time, and offline scoring runs beside them.
        using var scorer = new SequenceScorer(SequenceModel.Create(Small(method), 7));
        var samples = Enumerable.Range(0, 6).Select(i => TorchEngineTests.Sample($"p{i}", 20 + i, 12, new Random(10 + i))).ToList();
        float[][] Replay(IEnumerable<PerformanceSample> which) => [.. which.Select(p =>
        {
            var live = scorer.StartPerformance(IncrementalMode.Exact);
            var scores = new float[p.Clips];
            for (var t = 0; t < p.Clips; t++)
            {
                live.Append(p.Features.AsSpan(t * 12, 12));
                scores[t] = live.Score;
            }
            return scores;
        })];
        var alone = Replay(samples);
        var lanes = new[] { samples.Where((_, i) => i % 2 == 0), samples.Where((_, i) => i % 2 == 1) }
            .Select(lane => System.Threading.Tasks.Task.Run(() => Replay(lane))).ToArray();
        var offline = System.Threading.Tasks.Task.Run(() => Enumerable.Range(0, 20).Select(_ => scorer.Score(samples, 1f)).Last());
        var laneScores = await System.Threading.Tasks.Task.WhenAll(lanes);
        var offlineScores = await offline;
        for (var i = 0; i < samples.Count; i++)
        {
            var together = laneScores[i % 2][i / 2];
            Assert.Equal(alone[i], together);
            AssertClose.Equal(offlineScores[i].Score, together[^1], absolute: 1e-5, relative: 1e-5);
        }
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Checkpoint_RoundTrips_SamePredictions(string method)
    {
        TorchFormats.Register();
        using var dir = new TempDirectory();
        var path = dir.File("m.safetensors");
        using var scorer = new SequenceScorer(SequenceModel.Create(Small(method), 8));
        var card = new ModelCard { Format = ModelCard.SequenceFormat, ModelId = "m", SequenceMethod = scorer.Options, Architecture = new DecoderOptions { FeatureDim = 12 } };
        CheckpointStore.Save(path, scorer, card);
        var loaded = CheckpointStore.Load(path);
        Assert.Equal(method, loaded.Card.Method);
        Assert.Equal(1f, loaded.Card.ScoreScale);
        var samples = new[] { 9, 14 }.Select((n, i) => TorchEngineTests.Sample($"p{i}", n, 12, new Random(i))).ToList();
        var before = scorer.Score(samples, 1f);
        var after = loaded.Scorer.Score(samples, loaded.Card.ScoreScale);
        for (var i = 0; i < samples.Count; i++) { Assert.Equal(before[i].Score, after[i].Score); }
        ((IDisposable)loaded.Scorer).Dispose();
    }

    [Fact]
    public void Checkpoint_BadTensors_OneLineErrorsNamingThem()
    {
        TorchFormats.Register();
        using var dir = new TempDirectory();
        var path = dir.File("m.safetensors");
        using var scorer = new SequenceScorer(SequenceModel.Create(Small("gdlt-ws"), 8));
        var card = new ModelCard { Format = ModelCard.SequenceFormat, ModelId = "m", SequenceMethod = scorer.Options, Architecture = new DecoderOptions { FeatureDim = 12 } };
        var tensors = scorer.Tensors();
        var json = (card with { ScoreScale = 1f }).ToJson();
        var meta = new Dictionary<string, string> { [CheckpointStore.CardMetadataKey] = json };

        SafeTensors.Write(path, tensors.Skip(1), meta);
        var missing = Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path));
        Assert.Contains($"lacks 1 tensor(s) the gdlt-ws architecture needs, e.g. '{tensors[0].Name}'", missing.Message, StringComparison.Ordinal);

        SafeTensors.Write(path, [tensors[0] with { Shape = [.. tensors[0].Shape.Reverse()] }, .. tensors.Skip(1)], meta);
        Assert.Contains($"tensor '{tensors[0].Name}' has shape", Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path)).Message, StringComparison.Ordinal);

        SafeTensors.Write(path, [.. tensors, new NamedTensor("extra.weight", [1f], [1])], meta);
        Assert.Contains("'extra.weight'", Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path)).Message, StringComparison.Ordinal);

        var wrongMethod = (card with { SequenceMethod = card.SequenceMethod! with { Method = "tpt-x" } }).ToJson();
        SafeTensors.Write(path, tensors, new Dictionary<string, string> { [CheckpointStore.CardMetadataKey] = wrongMethod });
        Assert.Contains("method 'tpt-x' is not one of mlp-mean, gdlt, cofinal, tpt, qgvl, gdlt-ws", Assert.Throws<DataFormatException>(() => CheckpointStore.Load(path)).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ClipTrunk_EncodeInEvaluation_EqualsTorchSharpsEncoderLayer_WithAndWithoutPadding(int heads)
    {
        // Without dropout the module's training forward is its evaluation forward: the reference for the written-out layer.
        using var trunk = new ClipTrunk(Small("gdlt") with { Heads = heads, Dropout = 0f });
        var rng = new Random(heads);
        var values = Enumerable.Range(0, 3 * 9 * 16).Select(_ => (float)(rng.NextDouble() * 4 - 2)).ToArray();
        using var x = torch.tensor(values, [3, 9, 16]);
        var lengths = new long[] { 9, 5, 1 };
        using var mask = torch.arange(9).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1);
        using var full = torch.ones([3, 9], torch.ScalarType.Bool);
        using var __ = torch.no_grad();
        foreach (var m in new[] { full, mask })
        {
            trunk.train();
            using var module = trunk.Encode(x, m);
            trunk.eval();
            using var written = trunk.Encode(x, m);
            for (var b = 0; b < 3; b++)
            {
                var valid = ReferenceEquals(m, full) ? 9 : lengths[b];
                var expected = module[b, ..(int)valid].data<float>().ToArray();
                var actual = written[b, ..(int)valid].data<float>().ToArray();
                Assert.Equal(expected.Length, actual.Length);
                for (var i = 0; i < expected.Length; i++) { AssertClose.Equal(expected[i], actual[i], absolute: 1e-5, relative: 1e-5); }
            }
        }
        // Padding is left out: the valid rows do not move when the padded clips change.
        trunk.eval();
        using var before = trunk.Encode(x, mask);
        using var changed = x.clone();
        changed[1, 5..].add_(3f);
        using var after = trunk.Encode(changed, mask);
        Assert.Equal(before[1, ..5].data<float>().ToArray(), after[1, ..5].data<float>().ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void GdltWs_LocalHeads_AClipsWeightAndScoreDependOnThatClipOnly(bool localHeads)
    {
        using var model = SequenceModel.Create(Small("gdlt-ws") with { LocalHeads = localHeads }, 6);
        model.eval();
        var rng = new Random(3);
        var features = new float[1 * 10 * 12];
        foreach (var i in Enumerable.Range(0, features.Length)) { features[i] = (float)(rng.NextDouble() * 2 - 1); }
        using var mask = TorchSharp.torch.ones([1, 10], TorchSharp.torch.ScalarType.Bool);
        using var _ = TorchSharp.torch.inference_mode();
        (float[] Weights, float[] Scores) Run(float[] f)
        {
            using var x = TorchSharp.torch.tensor(f, [1, 10, 12]);
            var o = model.call(x, mask);
            return (o.Weights.data<float>().ToArray(), o.ClipScores.data<float>().ToArray());
        }
        var before = Run(features);
        var changed = (float[])features.Clone();
        for (var k = 0; k < 12; k++) { changed[(7 * 12) + k] += 2f; }   // clip 7 only
        var after = Run(changed);
        // Clips 0 and 1: the same score and the same weight ratio (weights renormalise over the clips) when local.
        var scoreMoved = Math.Abs(before.Scores[0] - after.Scores[0]);
        var ratioMoved = Math.Abs((before.Weights[0] / before.Weights[1]) - (after.Weights[0] / after.Weights[1]));
        if (localHeads)
        {
            Assert.True(scoreMoved < 1e-6 && ratioMoved < 1e-5, $"clip 0 moved with clip 7: score {scoreMoved}, weight ratio {ratioMoved}");
            Assert.NotEqual(before.Scores[7], after.Scores[7]);
        }
        else
        {
            Assert.True(scoreMoved > 1e-5, "the encoder layer mixes the clips, so clip 0's score moves with clip 7");
        }
    }

    [Fact]
    public void CoFInAl_SplitsTheTarget_IntoCoarseHundredthsAndFineDigits()
    {
        using var target = TorchSharp.torch.tensor(new[] { 0.45678f, 0f, 0.999999f, 1.2f, -0.1f });
        var (coarse, fine) = GradeDecoupledModel.CoarseAndFine(target);
        using var c = coarse;
        using var f = fine;
        var cs = c.data<float>().ToArray();
        var fs = f.data<long>().ToArray();
        float[] expectedCoarse = [0.45f, 0f, 0.99f, 0.99f, 0f];
        long[] expectedFine = [67, 0, 99, 99, 0];
        for (var i = 0; i < cs.Length; i++) { AssertClose.Equal(expectedCoarse[i], cs[i], absolute: 1e-6, relative: 0); }
        Assert.Equal(expectedFine, fs);
    }

    [Fact]
    public void CoFInAl_Eval_ScoreIsTheMeanOfTheCoarseHeads_PlusTheFineDigits()
    {
        using var model = SequenceModel.Create(Small("cofinal"), 4);
        model.eval();
        var rng = new Random(2);
        var features = new float[2 * 10 * 12];
        foreach (var i in Enumerable.Range(0, features.Length)) { features[i] = (float)(rng.NextDouble() * 2 - 1); }
        using var x = TorchSharp.torch.tensor(features, [2, 10, 12]);
        using var mask = TorchSharp.torch.ones([2, 10], TorchSharp.torch.ScalarType.Bool);
        using var _ = TorchSharp.torch.inference_mode();
        var output = model.call(x, mask);
        var (coarse, reversed, fine) = (output.Heads![0].data<float>().ToArray(), output.Heads[1].data<float>().ToArray(), output.Heads[2]);
        using var etf = GradeDecoupledModel.SimplexEtf(GradeDecoupledModel.FineClasses, GradeDecoupledModel.FineClasses, TorchSharp.torch.CPU);
        var digits = fine.matmul(etf.t()).argmax(1).data<long>().ToArray();
        var scores = output.Score.data<float>().ToArray();
        for (var b = 0; b < 2; b++)
        {
            AssertClose.Equal(((coarse[b] + 1 - reversed[b]) / 2) + (digits[b] / 10_000.0), scores[b], absolute: 1e-6, relative: 1e-6);
            Assert.InRange(coarse[b], -1f, 1f);   // membership-weighted (−1, −0.8, 0.8, 1)-style values
        }
        Assert.Null(output.Auxiliary);        // the triplet loss is a training-time term
    }

    [Fact]
    public void SimplexEtf_UnitVectors_PairwiseCosineMinusOneOverKMinusOne()
    {
        using var etf = GradeDecoupledModel.SimplexEtf(4, 16, TorchSharp.torch.CPU);
        using var gram = etf.matmul(etf.t());
        var g = gram.data<float>().ToArray();
        for (var i = 0; i < 4; i++)
        {
            for (var j = 0; j < 4; j++) { AssertClose.Equal(i == j ? 1.0 : -1.0 / 3, g[(i * 4) + j], absolute: 1e-6, relative: 0); }
        }
    }
}
