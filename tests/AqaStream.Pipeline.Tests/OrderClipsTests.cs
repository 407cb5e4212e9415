using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Pipeline.Live.Operators;
using Xunit;

namespace AqaStream.Pipeline.Tests;

public class OrderClipsTests
{
    private static readonly TimeSpan s_gap = TimeSpan.FromSeconds(4);

    private static (VirtualTimeline Time, Recording<PerformanceMessage> Out) Run(params (double, PerformanceMessage)[] input)
    {
        var time = new VirtualTimeline();
        var output = time.Record(time.Hot(input).OrderClips(maxClipsAhead: 8, s_gap, time.Scheduler, time.DeadLetters, time.Counters));
        time.Run();
        return (time, output);
    }

    private static string Describe(PerformanceMessage m) => m switch
    {
        ClipFeatures c => $"clip {c.ClipIndex}",
        ClipMissing g => $"missing {g.ClipIndex}",
        _ => m.GetType().Name,
    };

    [Fact]
    public void Order_EarlyClip_WaitsForTheOneBefore_NoGap()
    {
        var (time, output) = Run((0, Msg.Start("p")), (1, Msg.Clip("p", 0)), (2, Msg.Clip("p", 2)), (3, Msg.Clip("p", 1)), (4, Msg.End("p")));
        Assert.Equal(["PerformanceStarted", "clip 0", "clip 1", "clip 2", "PerformanceEnded"], output.Values.Select(v => Describe(v.Value)));
        Assert.Equal(3.0, output.Values[3].Seconds); // clip 2 went out when clip 1 arrived
        Assert.Equal(0, time.Counters.Missing);
    }

    [Fact]
    public void Order_ClipNeverComes_DeclaredMissingAtGapTimeout_ThenLaterClipsFlow()
    {
        var (time, output) = Run((0, Msg.Start("p")), (1, Msg.Clip("p", 0)), (2, Msg.Clip("p", 2)), (3, Msg.Clip("p", 3)), (20, Msg.End("p")));
        Assert.Equal(["PerformanceStarted", "clip 0", "missing 1", "clip 2", "clip 3", "PerformanceEnded"], output.Values.Select(v => Describe(v.Value)));
        Assert.Equal(2 + s_gap.TotalSeconds, output.Values[2].Seconds); // four seconds after clip 2 started waiting
        Assert.Equal(2 + s_gap.TotalSeconds, output.Values[4].Seconds);
        Assert.Equal(1, time.Counters.Missing);
    }

    [Fact]
    public void Order_ClipAfterDeclaredMissing_DeadLetterWithReason()
    {
        var (time, output) = Run((0, Msg.Start("p")), (1, Msg.Clip("p", 1)), (9, Msg.Clip("p", 0)), (10, Msg.End("p")));
        Assert.Equal(["PerformanceStarted", "missing 0", "clip 1", "PerformanceEnded"], output.Values.Select(v => Describe(v.Value)));
        var dead = Assert.Single(time.Rejected);
        Assert.Contains("clip 0 arrived after it was declared missing", dead.Reason, StringComparison.Ordinal);
        Assert.Equal("p", dead.Key);
    }

    [Fact]
    public void Order_FarAheadClip_DeadLetter_OthersUnaffected()
    {
        var (time, output) = Run((0, Msg.Start("p")), (1, Msg.Clip("p", 0)), (2, Msg.Clip("p", 500)), (3, Msg.Clip("p", 1)), (4, Msg.End("p")));
        Assert.Equal(["PerformanceStarted", "clip 0", "clip 1", "PerformanceEnded"], output.Values.Select(v => Describe(v.Value)));
        Assert.Contains("clip 500 is 499 positions ahead", Assert.Single(time.Rejected).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Order_EndWhileWaiting_FlushesBehindMissingMarkers_AndTailFromClipCount()
    {
        var (_, output) = Run((0, Msg.Start("p")), (1, Msg.Clip("p", 0)), (2, Msg.Clip("p", 3)), (2.5, Msg.End("p", clipCount: 6)));
        Assert.Equal(["PerformanceStarted", "clip 0", "missing 1", "missing 2", "clip 3", "missing 4", "missing 5", "PerformanceEnded"],
            output.Values.Select(v => Describe(v.Value)));
        Assert.All(output.Values.Skip(2), v => Assert.Equal(2.5, v.Seconds));
    }
}
