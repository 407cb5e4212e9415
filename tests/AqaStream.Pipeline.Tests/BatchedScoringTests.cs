using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using AqaStream.Tests.Shared;
using Xunit;

namespace AqaStream.Pipeline.Tests;

/// <summary>The batch window: clips of different performances are stepped together within (max batch, max wait), and
/// every update equals the unbatched pipeline's, in the same order per performance. The batched scorer here is the own
/// core stepped clip by clip (the batched libtorch step's equality is proven in the Scoring tests); it records each
/// step's size and refuses a marked vector, as a real scorer refuses a bad one.</summary>
public class BatchedScoringTests
{
    private sealed class RecordingBatchedScorer(IClipScorer inner) : IBatchedClipScorer
    {
        public List<int> StepSizes { get; } = [];

        public string Method => inner.Method;

        public int FeatureDim => inner.FeatureDim;

        public int MaxClips => inner.MaxClips;

        public bool Causal => inner.Causal;

        public IncrementalDecoder StartPerformance(IncrementalMode mode) => inner.StartPerformance(mode);

        public IReadOnlyList<PerformancePrediction> Score(IReadOnlyList<PerformanceSample> samples, float scoreScale) => inner.Score(samples, scoreScale);

        public void Step(IReadOnlyList<(IncrementalDecoder State, float[] Features)> clips)
        {
            lock (StepSizes)
            {
                if (clips.Any(c => c.Features[0] == 99f)) { throw new ArgumentException("a refused vector"); }
                if (clips.Select(c => c.State).Distinct().Count() != clips.Count) { throw new InvalidOperationException("a state twice in one step"); }
                StepSizes.Add(clips.Count);
                foreach (var (state, features) in clips) { state.Append(features); }
            }
        }
    }

    /// <summary>Performances with a clip every 1.28 s each, offset by 0.01 s: a 100 ms window gathers six.</summary>
    private static List<(double, PerformanceMessage)> Input(int performances, int clips, (string Id, int Clip)? refused = null)
    {
        var input = new List<(double, PerformanceMessage)>();
        for (var p = 0; p < performances; p++) { input.Add((p * 0.01, Msg.Start($"p{p}"))); }
        for (var i = 0; i < clips; i++)
        {
            for (var p = 0; p < performances; p++)
            {
                var id = $"p{p}";
                var vector = Msg.Vector(id, i);
                if (refused is { } r && r.Id == id && r.Clip == i) { vector = [99f, .. vector[1..]]; }
                input.Add((1 + i * 1.28 + p * 0.01, Msg.Clip(id, i, vector)));
            }
        }
        for (var p = 0; p < performances; p++) { input.Add((1 + clips * 1.28 + p * 0.01, Msg.End($"p{p}", clips))); }
        return input;
    }

    private static (List<ClipScored> Updates, VirtualTimeline Time) Run(ScoringModel model, List<(double, PerformanceMessage)> input, BatchWindow? window)
    {
        var time = new VirtualTimeline();
        var options = new LivePipelineOptions { Lanes = 0, Batch = window };
        var output = time.Record(LivePipeline.Create(time.Hot(input), new Dictionary<ScoreTarget, ScoringModel> { [model.Card.Target] = model },
            options, time.Scheduler, time.DeadLetters, time.Counters));
        time.Run();
        Assert.Null(output.Error);
        return (output.Values.Select(v => v.Value).ToList(), time);
    }

    [Theory]
    [InlineData(IncrementalMode.Exact)]
    [InlineData(IncrementalMode.Streaming)]
    public void Batched_SameUpdatesInTheSameOrder_AndFewerSteps(IncrementalMode mode)
    {
        var plain = LivePipelineTests.Model(mode);
        var scorer = new RecordingBatchedScorer(plain.Scorer);
        var batched = new ScoringModel(scorer, plain.Card, plain.Version, mode);
        var input = Input(6, 9);
        var (expected, _) = Run(plain, input, null);
        var (actual, time) = Run(batched, input, new BatchWindow(8, TimeSpan.FromMilliseconds(100)));
        Assert.Equal(6 * 9 + 6, actual.Count);
        foreach (var id in Enumerable.Range(0, 6).Select(p => $"p{p}"))
        {
            var e = expected.Where(u => u.Provisional.PerformanceId == id).ToList();
            var a = actual.Where(u => u.Provisional.PerformanceId == id).ToList();
            Assert.Equal(e.Count, a.Count);
            for (var k = 0; k < e.Count; k++)
            {
                Assert.Equal(e[k].Clip?.ClipIndex, a[k].Clip?.ClipIndex);
                Assert.Equal(e[k].Provisional.ClipsSeen, a[k].Provisional.ClipsSeen);
                Assert.Equal(e[k].Provisional.Final, a[k].Provisional.Final);
                AssertClose.Equal(e[k].Provisional.Total, a[k].Provisional.Total, absolute: 1e-9, relative: 1e-9);
            }
        }
        // The six performances' clips went through in steps of six, each no more than the window after its arrival.
        Assert.Equal(9, scorer.StepSizes.Count);
        Assert.All(scorer.StepSizes, n => Assert.Equal(6, n));
        Assert.Equal(54, time.Counters.ClipsScored);
    }

    [Fact]
    public void FullBatch_GoesWithoutWaiting_AndAPerformanceHasOneClipPerStep()
    {
        var plain = LivePipelineTests.Model(IncrementalMode.Streaming);
        var scorer = new RecordingBatchedScorer(plain.Scorer);
        var batched = new ScoringModel(scorer, plain.Card, plain.Version, IncrementalMode.Streaming);
        // One performance sends three clips at once: they need three steps.
        var input = new List<(double, PerformanceMessage)> { (0, Msg.Start("a")), (1, Msg.Clip("a", 0)), (1, Msg.Clip("a", 1)), (1, Msg.Clip("a", 2)), (2, Msg.End("a", 3)) };
        var (updates, _) = Run(batched, input, new BatchWindow(2, TimeSpan.FromSeconds(0.5)));
        Assert.Equal([1, 1, 1], scorer.StepSizes);
        Assert.Equal([1, 2, 3, 3], updates.Select(u => u.Provisional.ClipsSeen).ToArray());
        Assert.True(updates[^1].Provisional.Final);
    }

    [Fact]
    public void RefusedClip_IsDeadLettered_TheRestOfItsBatchIsScored()
    {
        var plain = LivePipelineTests.Model(IncrementalMode.Exact);
        var scorer = new RecordingBatchedScorer(plain.Scorer);
        var batched = new ScoringModel(scorer, plain.Card, plain.Version, IncrementalMode.Exact);
        var (updates, time) = Run(batched, Input(3, 4, refused: ("p1", 2)), new BatchWindow(8, TimeSpan.FromMilliseconds(50)));
        var rejected = Assert.Single(time.Rejected);
        Assert.Contains("clip 2 could not be scored: a refused vector", rejected.Reason, StringComparison.Ordinal);
        Assert.Equal(4, updates.Count(u => u.Provisional.PerformanceId == "p0" && u.Clip is not null));
        Assert.Equal(3, updates.Count(u => u.Provisional.PerformanceId == "p1" && u.Clip is not null));
        Assert.Equal(3, updates.Single(u => u.Provisional.PerformanceId == "p1" && u.Provisional.Final).Provisional.ClipsSeen);
    }

    [Fact]
    public void StepInParallelParts_EveryClipSteppedOnce_ARefusedClipFailsAlone()
    {
        var plain = LivePipelineTests.Model(IncrementalMode.Streaming);
        var scorer = new RecordingBatchedScorer(plain.Scorer);
        var time = new System.Reactive.Concurrency.HistoricalScheduler();
        var batcher = new ClipBatcher(scorer, new BatchWindow(40, TimeSpan.FromMilliseconds(10)), time, parallelism: 2);
        var states = Enumerable.Range(0, 40).Select(_ => plain.Scorer.StartPerformance(IncrementalMode.Streaming)).ToArray();
        var outcomes = new Exception?[40];
        var done = new int[40];
        for (var i = 0; i < 40; i++)
        {
            var k = i;
            var vector = Msg.Vector($"p{i}", 0);
            if (i == 33) { vector = [99f, .. vector[1..]]; }
            batcher.Submit(states[i], vector, e => { outcomes[k] = e; done[k]++; });
        }
        time.Start();
        // Two parts of 20; the one holding the refused clip is retried clip by clip (19 steps of one).
        Assert.Equal(1, batcher.Steps);
        Assert.Equal(40, batcher.Clips);
        Assert.Equal([.. Enumerable.Repeat(1, 19), 20], scorer.StepSizes.Order().ToArray());
        Assert.All(done, n => Assert.Equal(1, n));
        Assert.Contains("a refused vector", Assert.IsType<ArgumentException>(outcomes[33]).Message, StringComparison.Ordinal);
        Assert.Equal(39, outcomes.Count(e => e is null));
        Assert.Equal(39, states.Count(s => s.Clips == 1));
        Assert.Equal(0, states[33].Clips);
    }

    [Fact]
    public void BadWindow_ClearError()
    {
        Assert.Contains("at least 1", Assert.Throws<ArgumentException>(() => new BatchWindow(0, TimeSpan.Zero).Validate()).Message, StringComparison.Ordinal);
    }
}
