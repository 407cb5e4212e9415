using System.Reactive.Linq;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Pipeline.Live.Operators;
using Xunit;

namespace AqaStream.Pipeline.Tests;

public class GroupAndDedupeTests
{
    [Fact]
    public void GroupByPerformance_EndMessageReachesGroup_ThenGroupCompletes()
    {
        var time = new VirtualTimeline();
        var input = time.Hot<PerformanceMessage>([(0, Msg.Start("a")), (1, Msg.Start("b")), (2, Msg.Clip("a", 0)), (3, Msg.End("a")), (4, Msg.Clip("b", 0)), (5, Msg.End("b"))]);
        var seen = new List<string>();
        var completed = new List<(string, double)>();
        input.GroupByPerformance().Subscribe(g => g.Subscribe(
            m => seen.Add($"{g.Key}:{m.GetType().Name}"),
            () => completed.Add((g.Key, time.Now))));
        time.Run();
        Assert.Equal(["a:PerformanceStarted", "b:PerformanceStarted", "a:ClipFeatures", "a:PerformanceEnded", "b:ClipFeatures", "b:PerformanceEnded"], seen);
        Assert.Equal([("a", 3.0), ("b", 5.0)], completed);
    }

    [Fact]
    public void DropDuplicateClips_RepeatsDroppedAndCounted()
    {
        var time = new VirtualTimeline();
        var input = time.Hot<PerformanceMessage>([(0, Msg.Start("a")), (1, Msg.Clip("a", 0)), (2, Msg.Clip("a", 0)), (3, Msg.Clip("a", 1)), (4, Msg.Clip("a", 0))]);
        var output = time.Record(input.DropDuplicateClips(time.Counters));
        time.Run();
        Assert.Equal([0, 1], output.Values.Select(v => v.Value).OfType<ClipFeatures>().Select(c => c.ClipIndex));
        Assert.Equal(2, time.Counters.Duplicates);
    }

    [Fact]
    public void RejectMalformed_NaN_WrongLength_BadIndex_BadRange_UnknownTarget()
    {
        var time = new VirtualTimeline();
        var rules = new MessageRules(Msg.FeatureDim, 16, new HashSet<Scoring.Data.ScoreTarget> { Scoring.Data.ScoreTarget.TES });
        var nan = Msg.Vector("a", 0);
        nan[5] = float.NaN;
        var input = time.Hot<PerformanceMessage>([
            (0, Msg.Start("a")), (1, Msg.Clip("a", 0, nan)), (2, Msg.Clip("a", 1, new float[3])), (3, Msg.Clip("a", -1)), (4, Msg.Clip("a", 16)),
            (5, Msg.Clip("a", 2) with { Start = 5, End = 4 }), (6, Msg.Start("b", Scoring.Data.ScoreTarget.PCS)), (7, Msg.Clip("a", 3)), (8, Msg.Clip(" ", 0))]);
        var output = time.Record(input.RejectMalformed(rules, time.DeadLetters));
        time.Run();
        Assert.Equal(["PerformanceStarted", "ClipFeatures"], output.Values.Select(v => v.Value.GetType().Name));
        var reasons = time.Rejected.Select(d => d.Reason).ToArray();
        Assert.Contains("feature value 5 is NaN", reasons[0], StringComparison.Ordinal);
        Assert.Contains("has 3 values, the model expects 12", reasons[1], StringComparison.Ordinal);
        Assert.Contains("clip index -1 is out of range", reasons[2], StringComparison.Ordinal);
        Assert.Contains("clip index 16 is out of range", reasons[3], StringComparison.Ordinal);
        Assert.Contains("is not a range", reasons[4], StringComparison.Ordinal);
        Assert.Contains("no model is loaded for target PCS", reasons[5], StringComparison.Ordinal);
        Assert.Contains("performance id is empty", reasons[6], StringComparison.Ordinal);
        Assert.Contains("\"NaN\"", time.Rejected[0].Payload, StringComparison.Ordinal); // the payload is kept, readable
    }
}
