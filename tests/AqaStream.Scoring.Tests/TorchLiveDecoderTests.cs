using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Torch;
using AqaStream.Tests.Shared;
using TorchSharp;
using Scalar = TorchSharp.Scalar;
using Xunit;

namespace AqaStream.Scoring.Tests;

/// <summary>Live decoder state on libtorch: after every clip it equals the offline forward of the clips so far, batched
/// steps equal one-at-a-time ones, and bad input changes nothing.</summary>
[Collection(LibtorchCollection.Name)]
public class TorchLiveDecoderTests
{
    private static float[][] Clips(int n, int featureDim, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ =>
        {
            var f = new float[featureDim];
            Gaussian.Fill(f, rng);
            return f;
        }).ToArray();
    }

    /// <summary>The offline forward of the first <paramref name="n"/> clips, and the newest query's last-layer
    /// cross-attention averaged over heads.</summary>
    private static (float Score, float[] Logits, float[] Scores, float[] LatestCross) Offline(TorchWeightScoreDecoder model, float[][] clips, int n)
    {
        using var mode = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(clips.Take(n).SelectMany(c => c).ToArray(), [1, n, model.Options.FeatureDim]);
        var o = model.Forward(x, [n], [0], withMaps: true);
        var latest = o.CrossAttention[^1][0, .., n - 1, ..].mean([0]);   // [B, H, Q, T] -> [T]
        return (o.Score.item<float>(), o.Logits.data<float>().ToArray(), o.ClipScores.data<float>().ToArray(), latest.data<float>().ToArray());
    }

    public static TheoryData<IncrementalMode, bool> Modes => new()
    {
        { IncrementalMode.Exact, false }, { IncrementalMode.Streaming, false }, { IncrementalMode.Exact, true }, { IncrementalMode.Streaming, true },
    };

    private static DecoderOptions OptionsFor(IncrementalMode mode, bool projected) =>
        (projected ? CheckpointTests.Small with { FeatureDim = 20, ModelDim = 12 } : CheckpointTests.Small) with
        {
            Causal = mode == IncrementalMode.Streaming, Dropout = 0.3f, AttentionDropout = 0.3f,
        };

    [Theory]
    [MemberData(nameof(Modes))]
    public void EveryClip_EqualsOfflineForwardOfClipsSoFar(IncrementalMode mode, bool projected) =>
        _ = EqualsOfflineAfterEveryClip(mode, OptionsFor(mode, projected));

    [Fact]
    public void Streaming_LocalCross_EqualsOfflineForwardOfClipsSoFar() =>
        EqualsOfflineAfterEveryClip(IncrementalMode.Streaming, OptionsFor(IncrementalMode.Streaming, projected: true) with { LocalCross = true });

    [Fact]
    public void Streaming_OneLayerLocalCross_CachesNothing_EqualsOfflineForwardOfClipsSoFar() =>
        // One local layer reads the learned queries and each clip's own value row: the pool is never made.
        EqualsOfflineAfterEveryClip(IncrementalMode.Streaming, OptionsFor(IncrementalMode.Streaming, projected: true) with { LocalCross = true, Layers = 1 });

    [Fact]
    public void Streaming_ThreeLayers_UpToTheLastQueryPosition_EqualsOfflineForward()
    {
        // Layer 0 comes from the per-position table, layers 1 and 2 from the caches; every position of the table is used.
        var o = OptionsFor(IncrementalMode.Streaming, projected: true) with { Layers = 3 };
        EqualsOfflineAfterEveryClip(IncrementalMode.Streaming, o, clipCount: o.MaxQueries);
    }

    [Fact]
    public void Exact_LocalCross_EqualsOfflineForwardOfClipsSoFar() =>
        EqualsOfflineAfterEveryClip(IncrementalMode.Exact, OptionsFor(IncrementalMode.Exact, projected: true) with { LocalCross = true });

    [Fact]
    public void Exact_CausalModel_EqualsOfflineForwardOfClipsSoFar() =>
        EqualsOfflineAfterEveryClip(IncrementalMode.Exact, OptionsFor(IncrementalMode.Streaming, projected: false));

    [Fact]
    public void Exact_Layer0Table_FilledPerLength_WithinItsBudget_AndNoTableGivesTheSameResults()
    {
        var o = OptionsFor(IncrementalMode.Exact, projected: true);
        // One length's entry: n·d floats for the residual, as many for the positions and for the cross query.
        long Entry(int n) => n * o.ModelDim * sizeof(float) * 3L;
        var kept = EqualsOfflineAfterEveryClip(IncrementalMode.Exact, o, clipCount: 9);
        Assert.Equal(Enumerable.Range(1, 9).Sum(Entry), kept);
        // A budget of four lengths keeps the first four; the rest are recomputed by the forward, with the same results.
        kept = EqualsOfflineAfterEveryClip(IncrementalMode.Exact, o, clipCount: 9, layer0Budget: Enumerable.Range(1, 4).Sum(Entry));
        Assert.Equal(Enumerable.Range(1, 4).Sum(Entry), kept);
        Assert.Equal(0, EqualsOfflineAfterEveryClip(IncrementalMode.Exact, o, clipCount: 9, layer0Budget: 0));
    }

    /// <summary>Steps a performance clip by clip against the offline forward; returns the exact-mode layer-0 table's
    /// bytes afterwards.</summary>
    private static long EqualsOfflineAfterEveryClip(IncrementalMode mode, DecoderOptions o, int clipCount = 13, long layer0Budget = 64L << 20)
    {
        using var model = new TorchWeightScoreDecoder(o, seed: 7);
        using var live = new TorchLiveDecoder(model) { ExactLayer0Bytes = layer0Budget };
        var clips = Clips(clipCount, o.FeatureDim, 2);
        using var p = live.Start(mode);
        for (var t = 1; t <= clips.Length; t++)
        {
            p.Append(clips[t - 1]);
            var (score, logits, scores, latestCross) = Offline(model, clips, t);
            Assert.Equal(t, p.Clips);
            AssertClose.Equal(score, p.Score, absolute: 1e-5, relative: 1e-5);
            for (var q = 0; q < t; q++)
            {
                AssertClose.Equal(logits[q], p.Logits[q], absolute: 1e-5, relative: 1e-5);
                AssertClose.Equal(scores[q], p.ClipScores[q], absolute: 1e-5, relative: 1e-5);
            }
            Assert.Equal(t, p.LatestCrossAttention.Length);
            AssertClose.Equal(1f, p.LatestCrossAttention.ToArray().Sum(), absolute: 1e-5, relative: 1e-5);
            for (var j = 0; j < t; j++) { AssertClose.Equal(latestCross[j], p.LatestCrossAttention[j], absolute: 1e-5, relative: 1e-5); }
        }
        return live.ExactLayer0BytesInUse;
    }

    [Theory]
    [MemberData(nameof(Modes))]
    public void BatchedSteps_EqualOneAtATime_RaggedLengths(IncrementalMode mode, bool projected)
    {
        BatchedEqualsAlone(mode, projected, passSize: 16);
        BatchedEqualsAlone(mode, projected, passSize: 2); // a step of five runs as three passes
    }

    private static void BatchedEqualsAlone(IncrementalMode mode, bool projected, int passSize) =>
        BatchedEqualsAlone(mode, OptionsFor(mode, projected), passSize, TorchLiveDecoder.DefaultExactLayer0Bytes);

    private static void BatchedEqualsAlone(IncrementalMode mode, DecoderOptions o, int passSize, long exactLayer0Bytes)
    {
        using var model = new TorchWeightScoreDecoder(o, seed: 3);
        using var live = new TorchLiveDecoder(model) { StreamingPassSize = passSize, ExactLayer0Bytes = exactLayer0Bytes };
        var lengths = new[] { 11, 4, 9, 1, 15 };
        var perf = lengths.Select((n, i) => Clips(n, o.FeatureDim, 10 + i)).ToArray();
        var alone = lengths.Select((_, i) =>
        {
            var p = live.Start(mode);
            foreach (var c in perf[i]) { p.Append(c); }
            return p;
        }).ToArray();
        // Batched: each step carries the next clip of every performance that has one; one performance starts late.
        var batched = lengths.Select(_ => live.Start(mode)).ToArray();
        var next = new int[lengths.Length];
        for (var step = 0; next.Where((n, i) => n < lengths[i]).Any(); step++)
        {
            var items = Enumerable.Range(0, lengths.Length).Where(i => next[i] < lengths[i] && !(i == 2 && step < 3)).Select(i => (batched[i], perf[i][next[i]++])).ToList();
            live.Step(items);
        }
        for (var i = 0; i < lengths.Length; i++)
        {
            Assert.Equal(lengths[i], batched[i].Clips);
            AssertClose.Equal(alone[i].Score, batched[i].Score, absolute: 1e-5, relative: 1e-5);
            for (var q = 0; q < lengths[i]; q++)
            {
                AssertClose.Equal(alone[i].Logits[q], batched[i].Logits[q], absolute: 1e-5, relative: 1e-5);
                AssertClose.Equal(alone[i].ClipScores[q], batched[i].ClipScores[q], absolute: 1e-5, relative: 1e-5);
            }
            for (var q = 0; q < lengths[i]; q++)
            {
                AssertClose.Equal(alone[i].LatestCrossAttention[q], batched[i].LatestCrossAttention[q], absolute: 1e-5, relative: 1e-5);
            }
            alone[i].Dispose();
            batched[i].Dispose();
        }
    }

    [Theory]
    [InlineData(IncrementalMode.Exact)]
    [InlineData(IncrementalMode.Streaming)]
    public void ConcurrentSteps_OfDisjointPerformances_EqualOneAtATime(IncrementalMode mode)
    {
        // The live batcher cuts a step into parts stepped at once on several threads: two threads here, each with its
        // own performances, step the same decoder together for every clip.
        var o = OptionsFor(mode, projected: true);
        using var model = new TorchWeightScoreDecoder(o, seed: 11);
        var live = new TorchLiveDecoder(model) { StreamingPassSize = 3 };
        const int performances = 12, clips = 10;
        var perf = Enumerable.Range(0, performances).Select(i => Clips(clips, o.FeatureDim, 40 + i)).ToArray();
        var alone = Enumerable.Range(0, performances).Select(i =>
        {
            var p = live.Start(mode);
            foreach (var c in perf[i]) { p.Append(c); }
            return p;
        }).ToArray();
        var together = Enumerable.Range(0, performances).Select(_ => live.Start(mode)).ToArray();
        using var bothReady = new Barrier(2);
        void Part(int first) => Enumerable.Range(0, clips).ToList().ForEach(t =>
        {
            bothReady.SignalAndWait();
            live.Step(Enumerable.Range(first, performances / 2).Select(i => (together[i], perf[i][t])).ToList());
        });
        Parallel.Invoke(new ParallelOptions { MaxDegreeOfParallelism = 2 }, () => Part(0), () => Part(performances / 2));
        for (var i = 0; i < performances; i++)
        {
            Assert.Equal(clips, together[i].Clips);
            AssertClose.Equal(alone[i].Score, together[i].Score, absolute: 1e-5, relative: 1e-5);
            for (var q = 0; q < clips; q++) { AssertClose.Equal(alone[i].ClipScores[q], together[i].ClipScores[q], absolute: 1e-5, relative: 1e-5); }
            alone[i].Dispose();
            together[i].Dispose();
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Streaming_ManyBlocks_PoolGrowsAndReusesBlocks_EqualsOfflineForward(bool inPlace)
    {
        // inPlace: attention reads the pool where it lies (the CPU default); false: the gathered copy other devices use.
        // Streaming rows live in blocks of 16 positions in one pool per decoder: performances of up to 47 clips span three
        // blocks, a first wave's blocks are given back and reused (holding its old rows) by the second, and the second
        // wave needs more blocks than the first pool holds, so the pool grows between steps.
        var o = OptionsFor(IncrementalMode.Streaming, projected: true) with { MaxQueries = 48 };
        using var model = new TorchWeightScoreDecoder(o, seed: 21);
        using var live = new TorchLiveDecoder(model) { StreamingPassSize = 8, InPlaceAttention = inPlace };
        var firstWave = Enumerable.Range(0, 10).Select(_ => live.Start(IncrementalMode.Streaming)).ToArray();
        for (var t = 0; t < 20; t++) { live.Step(firstWave.Select((p, i) => (p, Clips(1, o.FeatureDim, 1000 + (100 * i) + t)[0])).ToList()); }
        var poolAfterFirst = live.PagedBytes;
        foreach (var p in firstWave) { p.Dispose(); }
        var lengths = Enumerable.Range(0, 30).Select(i => 33 + (i % 15)).ToArray();
        var perf = lengths.Select((n, i) => Clips(n, o.FeatureDim, 200 + i)).ToArray();
        var second = lengths.Select(_ => live.Start(IncrementalMode.Streaming)).ToArray();
        var next = new int[second.Length];
        for (var step = 0; next.Where((n, i) => n < lengths[i]).Any(); step++)
        {
            // Every fourth performance starts five steps late, so steps mix depths across block boundaries.
            live.Step(Enumerable.Range(0, second.Length).Where(i => next[i] < lengths[i] && !(i % 4 == 1 && step < 5)).Select(i => (second[i], perf[i][next[i]++])).ToList());
        }
        Assert.True(live.PagedBytes > poolAfterFirst, $"the pool grew ({poolAfterFirst} -> {live.PagedBytes} bytes)");
        for (var i = 0; i < second.Length; i++)
        {
            var (score, logits, scores, latestCross) = Offline(model, perf[i], lengths[i]);
            Assert.Equal(lengths[i], second[i].Clips);
            Assert.Equal(3 * 16 * 6 * o.ModelDim * sizeof(float), second[i].CacheBytes); // three blocks of 16 rows, 6 cached vectors
            AssertClose.Equal(score, second[i].Score, absolute: 1e-5, relative: 1e-5);
            for (var q = 0; q < lengths[i]; q++)
            {
                AssertClose.Equal(logits[q], second[i].Logits[q], absolute: 1e-5, relative: 1e-5);
                AssertClose.Equal(scores[q], second[i].ClipScores[q], absolute: 1e-5, relative: 1e-5);
            }
            for (var j = 0; j < lengths[i]; j++) { AssertClose.Equal(latestCross[j], second[i].LatestCrossAttention[j], absolute: 1e-5, relative: 1e-5); }
            second[i].Dispose();
            Assert.Equal(0, second[i].CacheBytes);
        }
    }

    [Fact]
    public void HotPathScalars_OutliveDisposeScopesAndCollections()
    {
        // Made inside a scope that then ends, then every collectable object collected and finalised: still valid, and the
        // same object each time (so no temporary can be finalised under a native call).
        Scalar first;
        using (torch.NewDisposeScope()) { first = TorchScalars.Of(2.5); }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.Same(first, TorchScalars.Of(2.5));
        using var scope = torch.NewDisposeScope();
        var filled = torch.zeros(3).masked_fill(torch.tensor(new[] { true, false, true }), TorchScalars.NegativeInfinity).div(first);
        Assert.Equal([float.NegativeInfinity, 0f, float.NegativeInfinity], filled.data<float>().ToArray());
    }

    [Fact]
    public void Streaming_EarlierClipOutputsNeverChange()
    {
        var o = OptionsFor(IncrementalMode.Streaming, projected: true);
        using var model = new TorchWeightScoreDecoder(o, seed: 5);
        var clips = Clips(9, o.FeatureDim, 4);
        using var p = new TorchLiveDecoder(model).Start(IncrementalMode.Streaming);
        p.Append(clips[0]);
        var first = (p.ClipScores[0], p.Logits[0]);
        foreach (var c in clips.Skip(1))
        {
            p.Append(c);
            Assert.Equal(first, (p.ClipScores[0], p.Logits[0]));
        }
    }

    [Fact]
    public void BadClip_OneLineError_StateUnchanged_AndTheServiceGoesOn()
    {
        var o = OptionsFor(IncrementalMode.Streaming, projected: false);
        using var model = new TorchWeightScoreDecoder(o, seed: 1);
        var live = new TorchLiveDecoder(model);
        using var p = live.Start(IncrementalMode.Streaming);
        using var q = live.Start(IncrementalMode.Streaming);
        var clips = Clips(3, o.FeatureDim, 1);
        p.Append(clips[0]);
        var before = p.Score;
        var nan = (float[])clips[1].Clone();
        nan[3] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => live.Step([(q, clips[1]), (p, nan)])).Message, StringComparison.Ordinal);
        Assert.Contains("expects 12", Assert.Throws<ArgumentException>(() => p.Append(new float[5])).Message, StringComparison.Ordinal);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => live.Step([(p, clips[1]), (p, clips[2])])).Message, StringComparison.Ordinal);
        Assert.Equal(1, p.Clips);
        Assert.Equal(0, q.Clips); // the good clip in the refused step was not applied either
        Assert.Equal(before, p.Score);
        p.Append(clips[1]);
        Assert.Equal(2, p.Clips);
        Assert.Throws<InvalidOperationException>(() => new TorchLiveDecoder(new TorchWeightScoreDecoder(o with { Causal = false })).Start(IncrementalMode.Streaming));
    }
}
