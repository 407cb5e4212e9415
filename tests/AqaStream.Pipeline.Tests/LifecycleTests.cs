using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Pipeline.Live.Operators;
using Xunit;

namespace AqaStream.Pipeline.Tests;

public class LifecycleTests
{
    private static readonly TimeSpan s_idle = TimeSpan.FromSeconds(30);

    private static (VirtualTimeline Time, Recording<PerformanceMessage> Out) Run(double? completeAt, params (double, PerformanceMessage)[] input)
    {
        var time = new VirtualTimeline();
        var output = time.Record(time.Hot(input, completeAt).TrackLifecycle(s_idle, time.Scheduler, time.DeadLetters, 100, time.Counters));
        time.Run();
        return (time, output);
    }

    [Fact]
    public void Idle_NoMessageForTimeout_ClosesAtPipelineTime_NotStreamTime()
    {
        // Clip timestamps say nothing about the pause: the close comes 30 s of pipeline time after the last message.
        var (_, output) = Run(null, (0, Msg.Start("p")), (1, Msg.Clip("p", 0)), (20, Msg.Clip("p", 1)));
        var last = output.Values[^1];
        Assert.IsType<PerformanceIdle>(last.Value);
        Assert.Equal(50.0, last.Seconds);
        Assert.Equal(4, output.Values.Count);
    }

    [Fact]
    public void Idle_MessagesKeepItOpen_EndClosesWithoutIdle()
    {
        var input = Enumerable.Range(0, 40).Select(i => ((double)i * 25, (PerformanceMessage)Msg.Clip("p", i))).Prepend((0.0, Msg.Start("p"))).ToList();
        input.Add((40 * 25, Msg.End("p")));
        var (_, output) = Run(null, [.. input]);
        Assert.DoesNotContain(output.Values, v => v.Value is PerformanceIdle);
        Assert.IsType<PerformanceEnded>(output.Values[^1].Value);
    }

    [Fact]
    public void ClipAfterEnd_UnknownId_SecondStart_EndOfNothing_DeadLettersWithReasons()
    {
        var (time, output) = Run(null,
            (0, Msg.Start("p")), (1, Msg.Start("p")), (2, Msg.Clip("p", 0)), (3, Msg.End("p")), (4, Msg.Clip("p", 1)),
            (5, Msg.Clip("ghost", 0)), (6, Msg.End("nobody")), (7, Msg.Start("p")));
        Assert.Equal(["PerformanceStarted", "ClipFeatures", "PerformanceEnded"], output.Values.Select(v => v.Value.GetType().Name));
        var reasons = time.Rejected.Select(d => d.Reason).ToArray();
        Assert.Equal(5, reasons.Length);
        Assert.Contains("already open", reasons[0], StringComparison.Ordinal);
        Assert.Contains("clip 1 arrived after its PerformanceEnded", reasons[1], StringComparison.Ordinal);
        Assert.Contains("unknown performance id 'ghost'", reasons[2], StringComparison.Ordinal);
        Assert.Contains("unknown performance id 'nobody'", reasons[3], StringComparison.Ordinal);
        Assert.Contains("already ended", reasons[4], StringComparison.Ordinal);
        Assert.Equal(5, time.Counters.DeadLetters);
    }

    [Fact]
    public void InputEnds_OpenPerformancesClose_ThenCompletes()
    {
        var (_, output) = Run(10, (0, Msg.Start("a")), (1, Msg.Start("b")), (2, Msg.End("a")));
        Assert.Equal(["a", "b", "a", "b"], output.Values.Select(v => v.Value.PerformanceId));
        Assert.IsType<PerformanceIdle>(output.Values[^1].Value);
        Assert.Equal(10.0, output.Values[^1].Seconds);
    }
}
