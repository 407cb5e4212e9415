using AqaStream.Numerics;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Torch;
using AqaStream.Scoring.Training;
using AqaStream.Tests.Shared;
using TorchSharp;
using Xunit;

namespace AqaStream.Scoring.Tests;

/// <summary>The TorchSharp engine: it loads in this build (the weak-GLIBCXX build step), scores the shipped
/// checkpoints as the own core does, trains deterministically and learns, and refuses bad input in one line.</summary>
[Collection(LibtorchCollection.Name)]
public class TorchEngineTests
{
    internal static PerformanceSample Sample(string id, int clips, int featureDim, Random rng, float? score = null)
    {
        var f = new float[clips * featureDim];
        Gaussian.Fill(f, rng);
        return new PerformanceSample(id, f, clips, featureDim, score);
    }

    [Fact]
    public void Libtorch_LoadsAndComputes()
    {
        Assert.StartsWith("2.10", torch.__version__, StringComparison.Ordinal);
        using var a = torch.ones(2, 3);
        Assert.Equal(6f, a.sum().item<float>());
        // On Debian 12 this only loads because the build step marked the shim's GLIBCXX_3.4.32 requirement weak in this
        // test's own output; CI runs it on a fresh clone.
    }

    [Theory]
    [InlineData("fisv-tes-ilt")]
    [InlineData("fisv-tes-ilt-causal")]
    [InlineData("fisv-pcs-ilt")]
    public void ShippedDecoder_SamePredictionsAsTheOwnCore(string name)
    {
        var loaded = CheckpointStore.Load(Path.Combine(RepositoryRoot.Path, "models", name + ".safetensors"));
        var rng = new Random(11);
        var samples = new[] { 124, 138, 200, 60 }.Select((n, i) => Sample($"p{i}", n, loaded.Model.FeatureDim, rng)).ToList();
        var own = new PerformanceScorer(loaded).Score(samples);
        using var model = TorchWeightScoreDecoder.From(loaded.Model);
        var ours = new TorchPerformanceScorer(model, loaded.Card.ScoreScale).Score(samples);
        for (var i = 0; i < samples.Count; i++)
        {
            AssertClose.Equal(own[i].Score, ours[i].Score, absolute: 1e-4, relative: 1e-5);
            for (var j = 0; j < samples[i].Clips; j++)
            {
                AssertClose.Equal(own[i].Clips[j].Weight, ours[i].Clips[j].Weight, absolute: 1e-7, relative: 1e-4);
                AssertClose.Equal(own[i].Clips[j].Score, ours[i].Clips[j].Score, absolute: 1e-4, relative: 1e-5);
            }
        }
    }

    [Fact]
    public void CopyTo_RoundTripsEveryWeight()
    {
        var own = new WeightScoreDecoder(CheckpointTests.Small, seed: 4);
        using var model = new TorchWeightScoreDecoder(CheckpointTests.Small, seed: 9);
        model.CopyTo(own);
        foreach (var (name, p) in model.Parameters)
        {
            Assert.Equal(p.detach().data<float>().ToArray(), own.Parameters[name].Data);
        }
        Assert.Equal(own.Parameters.All.Select(p => p.Key), model.Parameters.Select(p => p.Name));
    }

    [Fact]
    public void Train_SameSeed_BitIdenticalWeights_OtherSeedDiffers()
    {
        var rng = new Random(5);
        var samples = Enumerable.Range(0, 24).Select(i => Sample(i.ToString(System.Globalization.CultureInfo.InvariantCulture), 5 + i % 7, 12, rng, 10 + i)).ToList();
        float[] Run(int seed)
        {
            using var model = new TorchWeightScoreDecoder(CheckpointTests.Small, seed: seed);
            new TorchTrainer(new TrainingOptions { Epochs = 3, BatchSize = 6, TrainLength = 8, Seed = seed, Patience = 0 }).Train(model, samples[..18], samples[18..]);
            return model.Parameters.SelectMany(p => p.Value.detach().data<float>().ToArray()).ToArray();
        }
        var a = Run(3);
        Assert.Equal(a, Run(3));
        Assert.NotEqual(a, Run(4));
    }

    [Fact]
    public void Train_LearnableSyntheticTask_ValidationSpearmanHigh_KeepsTheBestEpoch()
    {
        // Score = mean over clips of feature 0: the model has to weigh clips and read a feature.
        var rng = new Random(3);
        var o = CheckpointTests.Small with { Dropout = 0f, AttentionDropout = 0f };
        var samples = Enumerable.Range(0, 64).Select(i =>
        {
            var s = Sample(i.ToString(System.Globalization.CultureInfo.InvariantCulture), 6 + rng.Next(6), 12, rng);
            var level = (float)rng.NextDouble() * 2 - 1;
            for (var c = 0; c < s.Clips; c++) { s.Features[c * 12] += 3 * level; }
            return s with { Score = 20 + 10 * level };
        }).ToList();
        var (train, val) = Trainer.Split(samples, 4, 0, 1);
        using var model = new TorchWeightScoreDecoder(o, seed: 1);
        var result = new TorchTrainer(new TrainingOptions { Epochs = 40, BatchSize = 8, LearningRate = 3e-3f, TrainLength = 10, Seed = 1, Patience = 0, WarmupEpochs = 1 })
            .Train(model, train, val);
        Assert.True(result.Best.Spearman > 0.85, $"validation ρ {result.Best.Spearman}");
        Assert.True(result.History[^1].RegressionLoss < result.History[0].RegressionLoss);
        var preds = new TorchPerformanceScorer(model, 43f).Score(val);
        var rho = RegressionMetrics.Spearman(preds.Select(p => (double)p.Score).ToList(), val.Select(v => (double)v.Score!.Value).ToList());
        AssertClose.Equal(result.Best.Spearman, rho, absolute: 1e-6, relative: 1e-6);
        // The explanation is exact: contributions sum to the score.
        foreach (var p in preds) { AssertClose.Equal(p.Score, p.Clips.Sum(c => c.Contribution), absolute: 1e-3, relative: 1e-4); }
    }

    [Fact]
    public void BadInput_OneLineErrors()
    {
        using var model = new TorchWeightScoreDecoder(CheckpointTests.Small);
        using var wide = torch.zeros(1, 4, 13);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(wide, [4], [0]));
        Assert.Contains("the model expects [batch, clips, 12]", e.Message, StringComparison.Ordinal);
        using var longer = torch.zeros(1, 20, 12);
        Assert.Contains("exceeds the model's 16 query positions", Assert.Throws<ArgumentException>(() => model.Forward(longer, [20], [0])).Message, StringComparison.Ordinal);
        Assert.Contains("unknown device", Assert.Throws<ArgumentException>(() => TorchDevice.Parse("tpu")).Message, StringComparison.Ordinal);
        if (!torch.cuda.is_available())
        {
            Assert.Contains("CUDA is not available", Assert.Throws<ArgumentException>(() => TorchDevice.Parse("cuda")).Message, StringComparison.Ordinal);
        }
        Assert.Equal(DeviceType.CPU, TorchDevice.Parse("cpu").type);
    }
}
