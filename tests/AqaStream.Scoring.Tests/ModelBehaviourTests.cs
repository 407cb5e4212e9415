using AqaStream.Numerics;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Training;
using Xunit;
using AqaStream.Tests.Shared;

namespace AqaStream.Scoring.Tests;

public class ModelBehaviourTests
{
    private static PerformanceSample Sample(string id, int clips, int featureDim, Random rng, float? score = null)
    {
        var f = new float[clips * featureDim];
        Gaussian.Fill(f, rng);
        return new PerformanceSample(id, f, clips, featureDim, score);
    }

    [Fact]
    public void Causal_PrefixOutputsAreFinal_WhenLaterClipsArrive()
    {
        var o = CheckpointTests.Small with { Causal = true };
        var model = new WeightScoreDecoder(o, seed: 2);
        var full = Sample("p", 9, o.FeatureDim, new Random(4));
        var prefix = full with { Features = full.Features[..(5 * o.FeatureDim)], Clips = 5 };
        using var _ = Autograd.NoGrad();
        var a = model.Forward(ScorerBatch.FromSequences([full.Features], o.FeatureDim));
        var b = model.Forward(ScorerBatch.FromSequences([prefix.Features], o.FeatureDim));
        for (var q = 0; q < 5; q++) { AssertClose.Equal(a.ClipScores.Data[q], b.ClipScores.Data[q], absolute: 1e-5, relative: 1e-5); }
        // The bidirectional model's earlier outputs do change.
        var bi = new WeightScoreDecoder(o with { Causal = false }, seed: 2);
        var c = bi.Forward(ScorerBatch.FromSequences([full.Features], o.FeatureDim));
        var d = bi.Forward(ScorerBatch.FromSequences([prefix.Features], o.FeatureDim));
        Assert.NotEqual(c.ClipScores.Data[0], d.ClipScores.Data[0]);
    }

    [Fact]
    public void Scorer_BatchedWithLongerPerformances_SameAsAlone_AndExplanationSumsToScore()
    {
        var model = new WeightScoreDecoder(CheckpointTests.Small, seed: 8);
        var rng = new Random(1);
        var samples = new[] { Sample("a", 7, 12, rng), Sample("b", 12, 12, rng), Sample("c", 3, 12, rng) };
        var scorer = new PerformanceScorer(model, 43f);
        var together = scorer.Score(samples);
        for (var i = 0; i < samples.Length; i++)
        {
            var alone = scorer.Score([samples[i]])[0];
            AssertClose.Equal(alone.Score, together[i].Score, absolute: 1e-4, relative: 1e-4);
            Assert.Equal(samples[i].Id, together[i].Id);
            Assert.Equal(samples[i].Clips, together[i].Clips.Count);
            AssertClose.Equal(1f, together[i].Clips.Sum(c => c.Weight), absolute: 1e-4, relative: 1e-4);
            AssertClose.Equal(together[i].Score, together[i].Clips.Sum(c => c.Contribution), absolute: 1e-3, relative: 1e-3);
        }
    }

    [Fact]
    public void Forward_TooManyClipsForQueries_ClearError()
    {
        var model = new WeightScoreDecoder(CheckpointTests.Small);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(ScorerBatch.FromSequences([new float[20 * 12]], 12)));
        Assert.Contains("exceeds the model's 16 query positions", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_SameSeed_BitIdenticalWeights_OtherSeedDiffers()
    {
        var rng = new Random(5);
        var samples = Enumerable.Range(0, 24).Select(i => Sample(i.ToString(System.Globalization.CultureInfo.InvariantCulture), 5 + i % 7, 12, rng, 10 + i)).ToList();
        float[] Run(int seed)
        {
            var model = new WeightScoreDecoder(CheckpointTests.Small, seed);
            new Trainer(new TrainingOptions { Epochs = 3, BatchSize = 6, TrainLength = 8, Seed = seed, Patience = 0 }).Train(model, samples[..18], samples[18..]);
            return model.Parameters.All.SelectMany(p => p.Value.Data).ToArray();
        }
        var a = Run(3);
        Assert.Equal(a, Run(3));
        Assert.NotEqual(a, Run(4));
    }

    [Fact]
    public void Split_IsSeededDisjointAndComplete()
    {
        var ids = Enumerable.Range(0, 103).ToList();
        var (train, val) = Trainer.Split(ids, 5, 2, seed: 9);
        Assert.Equal(103, train.Count + val.Count);
        Assert.Empty(train.Intersect(val));
        Assert.InRange(val.Count, 20, 21);
        Assert.Equal(val, Trainer.Split(ids, 5, 2, seed: 9).Validation);
        Assert.NotEqual(val, Trainer.Split(ids, 5, 2, seed: 10).Validation);
        var allVal = Enumerable.Range(0, 5).SelectMany(f => Trainer.Split(ids, 5, f, 9).Validation).OrderBy(x => x);
        Assert.Equal(ids, allVal);
    }

    [Fact]
    public void Train_LearnableSyntheticTask_ValidationSpearmanHigh()
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
        var model = new WeightScoreDecoder(o, seed: 1);
        var result = new Trainer(new TrainingOptions { Epochs = 40, BatchSize = 8, LearningRate = 3e-3f, TrainLength = 10, Seed = 1, Patience = 0, WarmupEpochs = 1 })
            .Train(model, train, val);
        Assert.True(result.Best.Spearman > 0.85, $"validation ρ {result.Best.Spearman}");
        Assert.True(result.History[^1].RegressionLoss < result.History[0].RegressionLoss);
        // The model keeps the best epoch's weights.
        var preds = new PerformanceScorer(model, 43f).Score(val);
        var rho = RegressionMetrics.Spearman(preds.Select(p => (double)p.Score).ToList(), val.Select(v => (double)v.Score!.Value).ToList());
        AssertClose.Equal(result.Best.Spearman, rho, absolute: 1e-6, relative: 1e-6);
    }
}

public class QuerySideCacheTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Inference_CachedFirstLayerQuerySide_EqualsFullComputation(bool causal)
    {
        var o = CheckpointTests.Small with { Causal = causal };
        var model = new WeightScoreDecoder(o, seed: 6);
        var rng = new Random(2);
        var seqs = new[] { 9, 4, 7 }.Select(n => { var f = new float[n * 12]; Gaussian.Fill(f, rng); return f; }).ToList();
        var batch = ScorerBatch.FromSequences(seqs, 12);
        using var _ = Autograd.NoGrad();
        for (var round = 0; round < 2; round++)
        {
            var cached = model.Forward(batch);
            var full = model.Forward(batch, withAttentionLoss: true); // the attention loss needs S, so nothing is cached
            for (var b = 0; b < 3; b++)
            {
                AssertClose.Equal(full.Score.Data[b], cached.Score.Data[b], absolute: 1e-5, relative: 1e-5);
                for (var q = 0; q < batch.Lengths[b]; q++)
                {
                    AssertClose.Equal(full.ClipScores.Data[b * 9 + q], cached.ClipScores.Data[b * 9 + q], absolute: 1e-5, relative: 1e-5);
                    AssertClose.Equal(full.Weights.Data[b * 9 + q], cached.Weights.Data[b * 9 + q], absolute: 1e-5, relative: 1e-5);
                }
            }
            for (var i = 0; i < full.SelfAttention[0].Length; i++)
            {
                // Rows and columns of padded queries are left empty in the cached map.
                if (cached.SelfAttention[0][i] != 0f) { AssertClose.Equal(full.SelfAttention[0][i], cached.SelfAttention[0][i], absolute: 1e-5, relative: 1e-5); }
            }
            // An optimiser step changes the weights: the cache must not serve stale query sides.
            using (Autograd.NoGrad())
            {
                foreach (var (_, p) in model.Parameters.All) { p.Data[0] += 0.5f; }
            }
            model.Parameters.MarkChanged();
        }
    }
}
