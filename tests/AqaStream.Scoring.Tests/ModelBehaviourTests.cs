using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Torch;
using AqaStream.Scoring.Training;
using Xunit;
using AqaStream.Tests.Shared;

namespace AqaStream.Scoring.Tests;

/// <summary>What the decoder promises offline: causal prefixes are final, batching does not change a score, the
/// explanation sums to it, a too-long performance is a clear error; and the seeded split every trainer uses.</summary>
[Collection(LibtorchCollection.Name)]
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
        using var causal = new TorchClipScorer(new TorchWeightScoreDecoder(o, seed: 2));
        var full = Sample("p", 9, o.FeatureDim, new Random(4));
        var prefix = full with { Features = full.Features[..(5 * o.FeatureDim)], Clips = 5 };
        var a = causal.Score([full], 1f)[0];
        var b = causal.Score([prefix], 1f)[0];
        for (var q = 0; q < 5; q++) { AssertClose.Equal(a.Clips[q].Score, b.Clips[q].Score, absolute: 1e-5, relative: 1e-5); }
        // The bidirectional model's earlier outputs do change.
        using var bidirectional = new TorchClipScorer(new TorchWeightScoreDecoder(o with { Causal = false }, seed: 2));
        Assert.NotEqual(bidirectional.Score([full], 1f)[0].Clips[0].Score, bidirectional.Score([prefix], 1f)[0].Clips[0].Score);
    }

    [Fact]
    public void Scorer_BatchedWithLongerPerformances_SameAsAlone_AndExplanationSumsToScore()
    {
        using var model = new TorchClipScorer(new TorchWeightScoreDecoder(CheckpointTests.Small, seed: 8));
        var rng = new Random(1);
        var samples = new[] { Sample("a", 7, 12, rng), Sample("b", 12, 12, rng), Sample("c", 3, 12, rng) };
        var together = model.Score(samples, 43f);
        for (var i = 0; i < samples.Length; i++)
        {
            var alone = model.Score([samples[i]], 43f)[0];
            AssertClose.Equal(alone.Score, together[i].Score, absolute: 1e-4, relative: 1e-4);
            Assert.Equal(samples[i].Id, together[i].Id);
            Assert.Equal(samples[i].Clips, together[i].Clips.Count);
            AssertClose.Equal(1f, together[i].Clips.Sum(c => c.Weight), absolute: 1e-4, relative: 1e-4);
            AssertClose.Equal(together[i].Score, together[i].Clips.Sum(c => c.Contribution), absolute: 1e-3, relative: 1e-3);
        }
    }

    [Fact]
    public void Split_IsSeededDisjointAndComplete()
    {
        var ids = Enumerable.Range(0, 103).ToList();
        var (train, val) = TrainingData.Split(ids, 5, 2, seed: 9);
        Assert.Equal(103, train.Count + val.Count);
        Assert.Empty(train.Intersect(val));
        Assert.InRange(val.Count, 20, 21);
        Assert.Equal(val, TrainingData.Split(ids, 5, 2, seed: 9).Validation);
        Assert.NotEqual(val, TrainingData.Split(ids, 5, 2, seed: 10).Validation);
        var allVal = Enumerable.Range(0, 5).SelectMany(f => TrainingData.Split(ids, 5, f, 9).Validation).OrderBy(x => x);
        Assert.Equal(ids, allVal);
    }
}
