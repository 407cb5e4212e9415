using System.Reactive.Concurrency;
using System.Reactive.Linq;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using Xunit;

namespace AqaStream.Pipeline.Tests;

public class LivePipelineTests
{
    private const double Tolerance = 1e-5;
    private const float Scale = 43f;

    /// <summary>A ridge-mean scorer (a shipped method, causal, so it runs in both modes) with seeded coefficients; the
    /// decoder's own incremental states are proved against its offline forward in AqaStream.Scoring.Tests.</summary>
    internal static ScoringModel Model(IncrementalMode mode, ScoreTarget target = ScoreTarget.TES)
    {
        var coefficients = new float[Msg.FeatureDim];
        Gaussian.Fill(coefficients, new Random(3), 0f, 0.3f);
        var ridge = new MeanPooledRidge(coefficients, intercept: 0.4f, lengthCoefficient: 0f, maxClips: 16);
        var card = new ModelCard
        {
            ModelId = $"test-{mode}", Architecture = new DecoderOptions { FeatureDim = Msg.FeatureDim, MaxQueries = 16 }, Target = target, ScoreScale = Scale,
        };
        return new ScoringModel(ridge, card, "v1", mode);
    }

    /// <summary>Offline score (points) of clips 0..n-1 of a performance, skipping <paramref name="skip"/>.</summary>
    internal static double Offline(ScoringModel model, string id, int n, params int[] skip)
    {
        var features = Enumerable.Range(0, n).Where(i => !skip.Contains(i)).SelectMany(i => Msg.Vector(id, i)).ToArray();
        var sample = new PerformanceSample(id, features, features.Length / Msg.FeatureDim, Msg.FeatureDim, null);
        return model.Scorer.Score([sample], model.Card.ScoreScale)[0].Score;
    }

    private static (VirtualTimeline Time, Recording<ClipScored> Out) Run(ScoringModel model, IEnumerable<(double, PerformanceMessage)> input, double? completeAt = null)
    {
        var time = new VirtualTimeline();
        var options = new LivePipelineOptions { Lanes = 0 };
        var output = time.Record(LivePipeline.Create(time.Hot(input, completeAt), new Dictionary<ScoreTarget, ScoringModel> { [model.Card.Target] = model },
            options, time.Scheduler, time.DeadLetters, time.Counters));
        time.Run();
        return (time, output);
    }

    /// <summary>Two performances interleaved, one clip every 1.28 s each.</summary>
    private static List<(double, PerformanceMessage)> TwoPerformances(int clipsA, int clipsB)
    {
        var input = new List<(double, PerformanceMessage)> { (0, Msg.Start("a")), (0.5, Msg.Start("b")) };
        for (var i = 0; i < Math.Max(clipsA, clipsB); i++)
        {
            if (i < clipsA) { input.Add((1 + i * 1.28, Msg.Clip("a", i))); }
            if (i < clipsB) { input.Add((1.5 + i * 1.28, Msg.Clip("b", i))); }
        }
        input.Add((1 + clipsA * 1.28, Msg.End("a", clipsA)));
        input.Add((1.5 + clipsB * 1.28, Msg.End("b", clipsB)));
        return input;
    }

    [Fact]
    public void ScoredClips_ReachTheExportedInstrument()
    {
        var before = Telemetry.AqaMetrics.Total(Telemetry.AqaCounter.ClipsScored);
        var (time, _) = Run(Model(IncrementalMode.Exact), TwoPerformances(5, 3));
        Assert.Equal(8, time.Counters.ClipsScored);
        // Other tests score in parallel, so the process-wide total moved by at least this run's clips.
        Assert.True(Telemetry.AqaMetrics.Total(Telemetry.AqaCounter.ClipsScored) - before >= 8);
    }

    [Theory]
    [InlineData(IncrementalMode.Exact)]
    [InlineData(IncrementalMode.Streaming)]
    public void EveryClip_ProvisionalEqualsOfflineOfClipsSoFar_FinalEqualsFullSequence(IncrementalMode mode)
    {
        var model = Model(mode);
        var (time, output) = Run(model, TwoPerformances(11, 7));
        foreach (var id in new[] { "a", "b" })
        {
            var updates = output.Values.Select(v => v.Value).Where(u => u.Provisional.PerformanceId == id).ToList();
            var clips = id == "a" ? 11 : 7;
            Assert.Equal(clips + 1, updates.Count);
            for (var t = 1; t <= clips; t++)
            {
                var u = updates[t - 1];
                Assert.Equal(t - 1, u.Clip!.ClipIndex);
                Assert.Equal(t, u.Provisional.ClipsSeen);
                Assert.Equal(Offline(model, id, t), u.Provisional.Total, Tolerance);
                Assert.False(u.Provisional.Final);
            }
            var final = updates[^1].Provisional;
            Assert.True(final.Final);
            Assert.Equal(CloseReason.Ended, final.CloseReason);
            Assert.Equal(Offline(model, id, clips), final.Total, Tolerance);
            // The breakdown explains the total: contributions sum to it, weights to one.
            Assert.Equal(final.Total, final.Breakdown!.Sum(c => c.Contribution), Tolerance);
            Assert.Equal(1.0, final.Breakdown!.Sum(c => c.Weight), Tolerance);
            Assert.Equal(model.Version, final.ModelVersion);
        }
        Assert.Equal(0, time.Counters.Open);
        Assert.Equal(18, time.Counters.ClipsScored);
    }

    [Fact]
    public void ClipScore_ExplainsTheClip_ContributionIsWeightTimesScore_TopAttendedFromSeenClips()
    {
        var model = Model(IncrementalMode.Exact);
        var (_, output) = Run(model, TwoPerformances(6, 0));
        foreach (var clip in output.Values.Select(v => v.Value.Clip).OfType<ClipScore>())
        {
            Assert.Equal(clip.Weight * clip.Score, clip.Contribution, Tolerance);
            Assert.InRange(clip.TopAttended.Count, 1, 3);
            Assert.All(clip.TopAttended, a => Assert.InRange(a.ClipIndex, 0, clip.ClipIndex));
            Assert.True(clip.TopAttended.Zip(clip.TopAttended.Skip(1)).All(p => p.First.Attention >= p.Second.Attention), "sorted by attention");
            Assert.Equal(clip.ClipIndex * 1.28, clip.Start, Tolerance);
        }
    }

    /// <summary>A model with a deduction term: the clip where the detector sees a fall carries the deduction as a field of
    /// its own (points), its score stays the ridge's execution score, the contribution is w·s + deduction, and the
    /// provisionals and the final breakdown still add up to the offline score.</summary>
    [Fact]
    public void ClipScore_CarriesAFallAsItsOwnDeduction_ScoreStaysTheExecutionScore()
    {
        var coefficients = new float[2 * Msg.FeatureDim];
        Gaussian.Fill(coefficients, new Random(5), 0f, 0.3f);
        var detector = new float[Msg.FeatureDim];
        detector[0] = 10f;   // p = σ(10·x₀ − 5): x₀ = 1 is a fall (p ≈ 0.993), x₀ = −1 none (p ≈ 3e-7)
        var plain = new PositionalRidge(coefficients, knots: 2, intercept: 0.5f, maxClips: 16);
        var withTerm = plain.WithDeductions(new ClipDeductions(detector, bias: -5f, points: -0.1f));
        var card = new ModelCard { ModelId = "test-deductions", Architecture = new DecoderOptions { FeatureDim = Msg.FeatureDim, MaxQueries = 16 }, Target = ScoreTarget.TES, ScoreScale = Scale };
        var model = new ScoringModel(withTerm, card, "v1", IncrementalMode.Exact);
        float[] Vector(int q) { var v = Msg.Vector("a", q); v[0] = q == 2 ? 1f : -1f; return v; }
        var input = new List<(double, PerformanceMessage)> { (0, Msg.Start("a")) };
        input.AddRange(Enumerable.Range(0, 5).Select(q => (1 + (q * 1.28), (PerformanceMessage)Msg.Clip("a", q, Vector(q)))));
        input.Add((8, Msg.End("a", 5)));
        var (_, output) = Run(model, input);

        var clips = output.Values.Select(v => v.Value.Clip).OfType<ClipScore>().ToList();
        Assert.Equal(5, clips.Count);
        var expected = 0.1 * Scale / (1 + Math.Exp(-5));   // γ·p in points: −4.27
        Assert.Equal(-expected, clips[2].Deduction, 1e-3);
        Assert.All(clips.Where(c => c.ClipIndex != 2), c => Assert.InRange(c.Deduction, -1e-4, 0));
        var features = Enumerable.Range(0, 5).SelectMany(Vector).ToArray();
        var sample = new PerformanceSample("a", features, 5, Msg.FeatureDim, null);
        foreach (var c in clips)
        {
            Assert.Equal(c.Weight * c.Score + c.Deduction, c.Contribution, Tolerance);
            // The clip's score is the plain ridge's on the clips so far: the fall does not turn it into hundreds of negative points.
            var prefix = plain.Score([CrossValidationPrefix(sample, c.ClipIndex + 1)], Scale)[0];
            Assert.Equal(prefix.Clips[c.ClipIndex].Score, c.Score, 1e-3);
        }
        var final = output.Values[^1].Value.Provisional;
        Assert.True(final.Final);
        Assert.Equal(withTerm.Score([sample], Scale)[0].Score, final.Total, 1e-3);
        Assert.Equal(plain.Score([sample], Scale)[0].Score - expected, final.Total, 1e-2);
        Assert.Equal(final.Total, final.Breakdown!.Sum(c => c.Contribution), Tolerance);
        Assert.Equal(-expected, final.Breakdown![2].Deduction, 1e-3);
    }

    private static PerformanceSample CrossValidationPrefix(PerformanceSample sample, int clips) =>
        Scoring.Evaluation.CrossValidation.Prefix(sample, clips / (double)sample.Clips);

    [Fact]
    public void MissingClip_ReportedInProvisional_ScoreIsOfTheClipsThatArrived()
    {
        var model = Model(IncrementalMode.Exact);
        var input = TwoPerformances(8, 0).Where(e => e.Item2 is not ClipFeatures { PerformanceId: "a", ClipIndex: 3 }).ToList();
        var (time, output) = Run(model, input);
        var updates = output.Values.Select(v => v.Value).Where(u => u.Provisional.PerformanceId == "a").ToList();
        var gap = Assert.Single(updates, u => u.Clip is null && !u.Provisional.Final);
        Assert.Equal([3], gap.Provisional.MissingClips);
        var final = updates[^1].Provisional;
        Assert.Equal([3], final.MissingClips);
        Assert.Equal(7, final.ClipsSeen);
        Assert.Equal(Offline(model, "a", 8, skip: 3), final.Total, Tolerance);
        Assert.DoesNotContain(final.Breakdown!, c => c.ClipIndex == 3);
        Assert.Equal(1, time.Counters.Missing);
    }

    [Fact]
    public void BadMessages_DeadLettered_OtherPerformanceScoresUnchanged()
    {
        var model = Model(IncrementalMode.Exact);
        var clean = Run(model, TwoPerformances(6, 6)).Out.Values.Select(v => v.Value).Where(u => u.Provisional.PerformanceId == "b").ToList();
        var nan = Msg.Vector("a", 2);
        nan[0] = float.PositiveInfinity;
        var noisy = TwoPerformances(6, 6);
        noisy.AddRange([
            (3.0, Msg.Clip("a", 2, nan)), (4.0, Msg.Clip("a", 1, new float[5])), (5.0, Msg.Clip("ghost", 0)), (6.0, Msg.Clip("a", 1)),
            (30.0, Msg.Clip("a", 6)), (3.3, Msg.Clip("b", 400))]);
        var (time, output) = Run(model, noisy.OrderBy(e => e.Item1).ToList());
        var b = output.Values.Select(v => v.Value).Where(u => u.Provisional.PerformanceId == "b").ToList();
        Assert.Equal(clean.Select(u => u.Provisional.Total), b.Select(u => u.Provisional.Total));
        Assert.Equal(5, time.Rejected.Count);
        Assert.Equal(1, time.Counters.Duplicates);
        var a = output.Values.Select(v => v.Value).Where(u => u.Provisional.PerformanceId == "a").ToList();
        Assert.Equal(Offline(model, "a", 6), a[^1].Provisional.Total, Tolerance);
    }

    [Fact]
    public void IdleTimeout_ClosesWithFinal_StateReleased()
    {
        var model = Model(IncrementalMode.Streaming);
        var input = new List<(double, PerformanceMessage)> { (0, Msg.Start("a")), (1, Msg.Clip("a", 0)), (2, Msg.Clip("a", 1)) };
        var (time, output) = Run(model, input);
        var final = output.Values[^1];
        Assert.True(final.Value.Provisional.Final);
        Assert.Equal(CloseReason.IdleTimeout, final.Value.Provisional.CloseReason);
        Assert.Equal(2 + new LivePipelineOptions().IdleTimeout.TotalSeconds, final.Seconds);
        Assert.Equal(0, time.Counters.Open);
    }

    [Fact]
    public void ManyPerformances_OpenAndClose_NoStateLeft()
    {
        var model = Model(IncrementalMode.Streaming);
        var input = new List<(double, PerformanceMessage)>();
        for (var p = 0; p < 300; p++)
        {
            var id = $"p{p}";
            input.Add((p * 0.01, Msg.Start(id)));
            for (var i = 0; i < 3; i++) { input.Add((5 + p * 0.01 + i, Msg.Clip(id, i))); }
            input.Add((10 + p * 0.01, Msg.End(id)));
        }
        var (time, output) = Run(model, input.OrderBy(e => e.Item1).ToList());
        Assert.Equal(300, time.Counters.Opened);
        Assert.Equal(0, time.Counters.Open);
        Assert.Equal(300, output.Values.Count(v => v.Value.Provisional.Final));
    }

    [Fact]
    public async Task LiveScoringService_OnInMemoryBus_ScoresFromTopicToTopic_OnLanes()
    {
        var model = Model(IncrementalMode.Exact);
        await using var bus = new InMemoryBus(capacity: 8);
        var service = new LiveScoringService(bus, new Dictionary<ScoreTarget, ScoringModel> { [ScoreTarget.TES] = model },
            new LivePipelineOptions { Lanes = 2 }, DefaultScheduler.Instance);
        using var scored = bus.Subscribe(Topics.ClipScored, "test");
        using var dead = bus.Subscribe(Topics.DeadLetters, "test");
        var running = service.RunAsync();
        var producer = bus.Producer(Topics.ClipFeatures);
        var ids = Enumerable.Range(0, 6).Select(i => $"perf-{i}").ToArray();
        // The outputs are read while the inputs are produced: with capacity 8 on both topics, a scorer whose output topic
        // is full stops consuming (back-pressure), so a test that produced all 67 inputs before reading would wait on
        // itself whenever the scorer ran ahead of the consumer.
        var finals = new Dictionary<string, ProvisionalScore>();
        var clipCount = 0;
        var readScored = Task.Run(async () =>
        {
            await foreach (var r in scored.ConsumeAsync())
            {
                // Each step is one message: a clip with the provisional after it, or the final alone.
                if (r.Value.Clip is { } clip)
                {
                    clipCount++;
                    Assert.Equal((r.Key, clip.ClipIndex + 1), (clip.PerformanceId, r.Value.Provisional.ClipsSeen));
                }
                if (r.Value.Final) { finals[r.Key] = r.Value.Provisional; }
                if (finals.Count == ids.Length) { break; }
            }
        });
        var readDead = Task.Run(async () => { var l = new List<DeadLetter>(); await foreach (var d in dead.ConsumeAsync()) { l.Add(d.Value); } return l; });
        foreach (var id in ids) { await producer.ProduceAsync(id, Msg.Start(id)); }
        for (var i = 0; i < 9; i++)
        {
            foreach (var id in ids) { await producer.ProduceAsync(id, Msg.Clip(id, i)); }
        }
        await producer.ProduceAsync("perf-0", Msg.Clip("perf-0", 2, new float[1]));
        foreach (var id in ids) { await producer.ProduceAsync(id, Msg.End(id)); }

        bus.Complete(Topics.ClipFeatures);
        await readScored.WaitAsync(TimeSpan.FromSeconds(30));
        await running.WaitAsync(TimeSpan.FromSeconds(30));
        bus.Complete(Topics.DeadLetters);
        var deadLetters = await readDead;
        foreach (var id in ids) { Assert.Equal(Offline(model, id, 9), finals[id].Total, Tolerance); }
        Assert.Equal(54, clipCount);
        Assert.Contains("has 1 values", Assert.Single(deadLetters).Reason, StringComparison.Ordinal);
        Assert.Equal(0, service.Counters.Open);
    }
}
