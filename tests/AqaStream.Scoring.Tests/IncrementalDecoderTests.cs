using AqaStream.Numerics;
using AqaStream.Scoring.Model;
using Xunit;

namespace AqaStream.Scoring.Tests;

public class IncrementalDecoderTests
{
    private const float Tolerance = 1e-5f;

    private static (WeightScoreDecoder Model, float[] Features, int Clips) Fixture(bool causal, bool projected, bool localCross = false)
    {
        var o = CheckpointTests.Small with { Causal = causal, ModelDim = projected ? 8 : 12, LocalCross = localCross };
        if (!projected) { o = o with { Heads = 3 }; }
        var model = new WeightScoreDecoder(o, seed: 12);
        var clips = 11;
        var f = new float[clips * o.FeatureDim];
        Gaussian.Fill(f, new Random(6));
        return (model, f, clips);
    }

    private static ScorerOutput Offline(WeightScoreDecoder model, float[] features, int clips)
    {
        using var _ = Autograd.NoGrad();
        return model.Forward(ScorerBatch.FromSequences([features.AsSpan(0, clips * model.Options.FeatureDim).ToArray()], model.Options.FeatureDim));
    }

    [Theory]
    [InlineData(IncrementalMode.Streaming, true, false)]
    [InlineData(IncrementalMode.Streaming, true, true)]
    [InlineData(IncrementalMode.Exact, false, false)]
    [InlineData(IncrementalMode.Exact, false, true)]
    [InlineData(IncrementalMode.Exact, true, true)]
    [InlineData(IncrementalMode.Streaming, true, true, true)]
    [InlineData(IncrementalMode.Exact, false, true, true)]
    public void EveryClip_ProvisionalEqualsOfflineScoreOfClipsSoFar(IncrementalMode mode, bool causal, bool projected, bool localCross = false)
    {
        var (model, features, clips) = Fixture(causal, projected, localCross);
        var f = model.Options.FeatureDim;
        var state = model.StartPerformance(mode);
        for (var t = 1; t <= clips; t++)
        {
            state.Append(features.AsSpan((t - 1) * f, f));
            var offline = Offline(model, features, t);
            Assert.Equal(t, state.Clips);
            Assert.Equal(offline.Score.Data[0], state.Score, Tolerance);
            for (var q = 0; q < t; q++)
            {
                Assert.Equal(offline.ClipScores.Data[q], state.ClipScores[q], Tolerance);
                Assert.Equal(offline.Logits.Data[q], state.Logits[q], Tolerance);
            }
            var w = state.Weights();
            for (var q = 0; q < t; q++) { Assert.Equal(offline.Weights.Data[q], w[q], Tolerance); }
            // The newest query's last-layer cross-attention, head-averaged, is the offline map's last row.
            var map = offline.CrossAttention[^1];
            var heads = model.Options.Heads;
            Assert.Equal(t, state.LatestCrossAttention.Length);
            for (var j = 0; j < t; j++)
            {
                var expected = 0f;
                for (var h = 0; h < heads; h++) { expected += map[(h * t + t - 1) * t + j]; }
                Assert.Equal(expected / heads, state.LatestCrossAttention[j], Tolerance);
            }
        }
    }

    [Fact]
    public void Streaming_EarlierClipOutputsNeverChange()
    {
        var (model, features, clips) = Fixture(causal: true, projected: true);
        var f = model.Options.FeatureDim;
        var state = model.StartPerformance(IncrementalMode.Streaming);
        state.Append(features.AsSpan(0, f));
        var first = (state.ClipScores[0], state.Logits[0]);
        for (var t = 1; t < clips; t++) { state.Append(features.AsSpan(t * f, f)); }
        Assert.Equal(first, (state.ClipScores[0], state.Logits[0]));
    }

    [Fact]
    public void Streaming_OnBidirectionalModel_ClearError()
    {
        var (model, _, _) = Fixture(causal: false, projected: false);
        var e = Assert.Throws<InvalidOperationException>(() => model.StartPerformance(IncrementalMode.Streaming));
        Assert.Contains("causal", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Append_BadVector_RejectedWithReason_StateUnchanged()
    {
        var (model, features, _) = Fixture(causal: true, projected: true);
        var state = model.StartPerformance(IncrementalMode.Streaming);
        state.Append(features.AsSpan(0, 12));
        Assert.Contains("expects 12", Assert.Throws<ArgumentException>(() => state.Append(new float[5])).Message, StringComparison.Ordinal);
        var bad = features.AsSpan(0, 12).ToArray();
        bad[3] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => state.Append(bad)).Message, StringComparison.Ordinal);
        Assert.Equal(1, state.Clips);
        Assert.True(float.IsFinite(state.Score));
    }
}
