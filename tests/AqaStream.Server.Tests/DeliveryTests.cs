using System.Collections.Concurrent;
using AqaStream.Pipeline.Contracts;
using AqaStream.Scoring.Data;
using AqaStream.Server.Delivery;
using Xunit;

namespace AqaStream.Server.Tests;

/// <summary>The board and the fan-out in memory (no sockets): what subscribers are sent, and what a slow one costs.</summary>
public sealed class DeliveryTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 18, 0, 0, TimeSpan.Zero);

    private static PerformanceStarted Started(string id, string? competition = "cup") => new(id, "Ana Lee", "singles", "free", ScoreTarget.TES, T0, competition);

    private static ClipScore Clip(string id, int k, double w, double s) => new(id, k, k * 1.28, (k + 1) * 1.28, w, s, w * s, [new AttendedClip(k, 0.7)]);

    private static ProvisionalScore Provisional(string id, int seen, double total, bool final = false, IReadOnlyList<ClipContribution>? breakdown = null) =>
        new(id, seen, total, ScoreTarget.TES, "m", "v", T0.AddSeconds(seen), [], final, final ? CloseReason.Ended : null, breakdown, T0.AddSeconds(seen - 0.5));

    // Clip k scored, with the provisional after it (one message, as the scorer publishes it).
    private static ClipScored Scored(string id, int k, double w, double s, double total) => new(Clip(id, k, w, s), Provisional(id, k + 1, total));

    private static ClipScored Final(string id, int seen, double total, IReadOnlyList<ClipContribution>? breakdown = null) =>
        new(null, Provisional(id, seen, total, final: true, breakdown: breakdown));

    [Fact]
    public void Board_ClipsAndProvisionals_SnapshotHasEveryClipWithItsRunningTotal()
    {
        var board = new PerformanceBoard(new DeliveryOptions(), TimeProvider.System);
        board.Apply(Started("p1"));
        board.Apply(Scored("p1", 0, 1.0, 50, 50));
        board.Apply(Scored("p1", 1, 0.5, 70, 56.7));
        var view = board.Snapshot("p1", ViewerRole.Judge)!;
        Assert.Equal("Ana Lee", view.Athlete);
        Assert.Equal([0, 1], view.Clips.Select(c => c.ClipIndex));
        Assert.Equal([50.0, 56.7], view.Clips.Select(c => c.ProvisionalAfter!.Value));
        Assert.Equal(56.7, view.Provisional!.Total);
        Assert.Equal(T0.AddSeconds(1.5).ToUnixTimeMilliseconds(), view.Provisional.ReceivedAtMs);
        Assert.Equal(PerformanceView.Live, view.Status);
        Assert.NotNull(view.Clips[0].TopAttended);
        // The final closes the performance; the curve keeps what the provisional was after each clip.
        board.Apply(Final("p1", 2, 57.9));
        var ended = board.Snapshot("p1", ViewerRole.Judge)!;
        Assert.Equal([50.0, 56.7], ended.Clips.Select(c => c.ProvisionalAfter!.Value));
        Assert.Equal(57.9, ended.Provisional!.Total);
        Assert.Equal(PerformanceView.Ended, ended.Status);
    }

    [Fact]
    public void Board_ClipScored_IsOnePushWithTheClipAndTheProvisionalAfterIt()
    {
        var board = new PerformanceBoard(new DeliveryOptions(), TimeProvider.System);
        board.Apply(Started("p1"));
        board.Apply(Scored("p1", 0, 1.0, 50, 50));
        var push = board.Apply(Scored("p1", 1, 0.5, 70, 56.7))!;
        Assert.Equal(PushMethods.ClipScored, push.Method);
        var payload = (ClipScoredPush)push.Payload(ViewerRole.Overlay);
        Assert.Equal((1, 70.0, 56.7), (payload.Clip.ClipIndex, payload.Clip.Score, payload.Clip.ProvisionalAfter!.Value));
        Assert.Equal((2, 56.7), (payload.Provisional.ClipsSeen, payload.Provisional.Total));
        // A gap: a provisional alone, pushed as such, with the missing clip.
        var gap = board.Apply(new ClipScored(null, Provisional("p1", 2, 56.7) with { MissingClips = [2] }))!;
        Assert.Equal(PushMethods.ProvisionalScore, gap.Method);
        Assert.Equal([2], ((ProvisionalPush)gap.Payload(ViewerRole.Overlay)).Provisional.MissingClips);
        Assert.Equal([2], board.Snapshot("p1", ViewerRole.Overlay)!.Provisional!.MissingClips);
    }

    [Fact]
    public void Board_ReadAgainOrOlderStep_ChangesNothing_AndNothingReplacesTheFinal()
    {
        var board = new PerformanceBoard(new DeliveryOptions(), TimeProvider.System);
        board.Apply(Scored("p1", 0, 1.0, 50, 50));
        board.Apply(Scored("p1", 1, 0.5, 70, 56.7));
        // A consumer that restarts reads the retained topic again: every record it re-reads is a no-op.
        Assert.Null(board.Apply(Scored("p1", 0, 1.0, 50, 50)));
        Assert.Null(board.Apply(Scored("p1", 1, 0.5, 70, 56.7)));
        Assert.Equal((2, 56.7), (board.Snapshot("p1", ViewerRole.Overlay)!.Provisional!.ClipsSeen, board.Snapshot("p1", ViewerRole.Overlay)!.Provisional!.Total));
        Assert.NotNull(board.Apply(Final("p1", 2, 57.9)));
        Assert.Null(board.Apply(Scored("p1", 2, 0.3, 90, 64)));
        Assert.Null(board.Apply(Final("p1", 2, 11)));
        var shown = board.Snapshot("p1", ViewerRole.Overlay)!;
        Assert.Equal((PerformanceView.Ended, 57.9, 2), (shown.Status, shown.Provisional!.Total, shown.Clips.Count));
    }

    [Fact]
    public void Board_ClipScored_WhoseClipAndProvisionalDisagree_IsRefusedWithTheReason()
    {
        var board = new PerformanceBoard(new DeliveryOptions(), TimeProvider.System);
        var e = Assert.Throws<ArgumentException>(() => board.Apply(new ClipScored(Clip("p2", 0, 1, 50), Provisional("p1", 1, 50))));
        Assert.Contains("'p2'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'p1'", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => board.Apply(new ClipScored(Clip("p1", 0, 1, 50), Provisional("p1", 1, 50, final: true))));
        Assert.Contains("final", e.Message, StringComparison.Ordinal);
        foreach (var bad in new[] { 0.4, double.NaN })
        {
            e = Assert.Throws<ArgumentException>(() => board.Apply(new ClipScored(Clip("p1", 0, 1, 50) with { Deduction = bad }, Provisional("p1", 1, 50))));
            Assert.Contains("clip 0 has deduction " + bad.ToString(System.Globalization.CultureInfo.InvariantCulture) + "; a deduction is 0 or less", e.Message, StringComparison.Ordinal);
        }
        Assert.Null(board.Snapshot("p1", ViewerRole.Judge));
        Assert.NotNull(board.Apply(new ClipScored(Clip("p1", 0, 1, 50) with { Deduction = -3.2, Contribution = 46.8 }, Provisional("p1", 1, 46.8))));
        Assert.Equal(-3.2, board.Snapshot("p1", ViewerRole.Judge)!.Clips[0].Deduction);
    }

    [Fact]
    public void Board_PublicView_HasNoAttentionDetails()
    {
        var board = new PerformanceBoard(new DeliveryOptions(), TimeProvider.System);
        board.Apply(Started("p1"));
        var push = board.Apply(Scored("p1", 0, 1.0, 50, 50))!;
        Assert.Null(board.Snapshot("p1", ViewerRole.Overlay)!.Clips[0].TopAttended);
        Assert.Null(board.Snapshot("p1", ViewerRole.Public)!.Clips[0].TopAttended);
        Assert.Null(((ClipScoredPush)push.Payload(ViewerRole.Overlay)).Clip.TopAttended);
        Assert.Equal(0.7, ((ClipScoredPush)push.Payload(ViewerRole.Judge)).Clip.TopAttended![0].Attention);
    }

    [Fact]
    public void Board_Final_TakesTheFinalWeights_AndKeepsOnlyTheNewestFinishedPerformances()
    {
        var board = new PerformanceBoard(new DeliveryOptions { PerformancesKept = 2 }, TimeProvider.System);
        board.Apply(Started("p1"));
        board.Apply(Scored("p1", 0, 1.0, 50, 50));
        board.Apply(Scored("p1", 1, 0.5, 70, 56.7));
        var ended = board.Apply(Final("p1", 2, 60, [new(0, 0.5, 50, 25), new(1, 0.5, 70, 35)]))!;
        Assert.Equal(PushMethods.PerformanceEnded, ended.Method);
        var final = board.Snapshot("p1", ViewerRole.Overlay)!;
        Assert.Equal(PerformanceView.Ended, final.Status);
        Assert.Equal([0.5, 0.5], final.Clips.Select(c => c.Weight));
        Assert.Equal([25.0, 35.0], final.Clips.Select(c => c.Contribution));
        board.Apply(Started("p2"));
        board.Apply(Started("p3"));
        Assert.Equal(2, board.Count);
        Assert.Null(board.Snapshot("p1", ViewerRole.Overlay));   // the finished one went first
        Assert.NotNull(board.Snapshot("p2", ViewerRole.Overlay));
    }

    [Fact]
    public async Task FanOut_Subscriptions_EachClientGetsOnlyWhatItFollows()
    {
        var board = new PerformanceBoard(new DeliveryOptions(), TimeProvider.System);
        var sender = new RecordingSender();
        await using var fanOut = new ScoreFanOut(board, sender, new DeliveryOptions());
        fanOut.Connect("perf", ViewerRole.Overlay);
        fanOut.Connect("cup", ViewerRole.Overlay);
        fanOut.Connect("all", ViewerRole.Overlay);
        fanOut.Follow("perf", new Subscription("p1", null));
        fanOut.Follow("cup", new Subscription(null, "other-cup"));
        fanOut.Follow("all", Subscription.All);
        fanOut.Publish(board.Apply(Started("p1", "cup")));
        fanOut.Publish(board.Apply(Started("p2", "other-cup")));
        fanOut.Publish(board.Apply(Scored("p2", 0, 1, 40, 40))!);
        await sender.UntilAsync(() => sender.Count("all") == 3 && sender.Count("cup") == 2 && sender.Count("perf") == 1);
        Assert.Equal(["performanceStarted:p1"], sender.Of("perf"));
        Assert.Equal(["performanceStarted:p2", "clipScored:p2"], sender.Of("cup"));
    }

    [Fact]
    public async Task FanOut_SlowClient_IsCoalescedToASnapshot_WhileTheFastOneGetsEveryPushInOrder()
    {
        const int limit = 8, clips = 500;
        var options = new DeliveryOptions { MaxQueuedPushes = limit };
        var board = new PerformanceBoard(options, TimeProvider.System);
        var sender = new RecordingSender();
        sender.Block("slow");
        await using var fanOut = new ScoreFanOut(board, sender, options);
        fanOut.Connect("fast", ViewerRole.Overlay);
        fanOut.Connect("slow", ViewerRole.Overlay);
        fanOut.Follow("fast", Subscription.All);
        fanOut.Follow("slow", Subscription.All);
        fanOut.Publish(board.Apply(Started("p1")));
        for (var k = 0; k < clips; k++)
        {
            fanOut.Publish(board.Apply(Scored("p1", k, 1, k, k))!);
            Assert.True(fanOut.Queued("slow") <= limit + 1, $"slow client's queue grew to {fanOut.Queued("slow")}");
            // The fast client keeps up (at the pace clips come in), however stuck the slow one is.
            await sender.UntilAsync(() => sender.Count("fast") == 1 + k + 1);
        }
        Assert.Equal(Enumerable.Range(0, clips).Select(k => $"clipScored:p1"), sender.Of("fast").Where(m => m.StartsWith("clip", StringComparison.Ordinal)));
        Assert.True(fanOut.Counters.Coalesced > 0);

        sender.Release("slow");
        await sender.UntilAsync(() => sender.Payloads("slow").OfType<PerformanceView>().Any(v => v.Provisional?.ClipsSeen == clips));
        var received = sender.Of("slow");
        Assert.True(received.Count < 2 * limit + 4, $"the slow client was sent {received.Count} pushes, not a coalesced few");
        var snapshot = sender.Payloads("slow").OfType<PerformanceView>().Last();
        Assert.Equal(clips, snapshot.Clips.Count);   // the snapshot carries everything it missed
        Assert.Equal(clips - 1, snapshot.Provisional!.Total);
    }

    /// <summary>Records sends per connection; a blocked connection's sends wait (a client that stopped reading).</summary>
    private sealed class RecordingSender : IPushSender
    {
        private readonly ConcurrentDictionary<string, ConcurrentQueue<(string Method, object Payload)>> _sent = new();
        private readonly ConcurrentDictionary<string, TaskCompletionSource> _blocked = new();

        public void Block(string id) => _blocked[id] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release(string id)
        {
            if (_blocked.TryRemove(id, out var gate)) { gate.SetResult(); }
        }

        public object Prepare(string method, object payload) => (method, payload);

        public async Task SendAsync(string connectionId, object prepared, CancellationToken cancellationToken)
        {
            if (_blocked.TryGetValue(connectionId, out var gate)) { await gate.Task.WaitAsync(cancellationToken); }
            _sent.GetOrAdd(connectionId, _ => new()).Enqueue(((string Method, object Payload))prepared);
        }

        public int Count(string id) => _sent.TryGetValue(id, out var q) ? q.Count : 0;

        public List<string> Of(string id) => _sent.TryGetValue(id, out var q)
            ? [.. q.Select(m => $"{m.Method}:{PerformanceOf(m.Payload)}")] : [];

        public List<object> Payloads(string id) => _sent.TryGetValue(id, out var q) ? [.. q.Select(m => m.Payload)] : [];

        public async Task UntilAsync(Func<bool> condition)
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (!condition())
            {
                Assert.True(DateTime.UtcNow < deadline, "timed out waiting for the pushes");
                await Task.Delay(5);
            }
        }

        private static string PerformanceOf(object payload) => payload switch
        {
            PerformanceView v => v.PerformanceId,
            ClipScoredPush c => c.PerformanceId,
            ProvisionalPush p => p.PerformanceId,
            PanelPush p => p.PerformanceId,
            _ => "?",
        };
    }
}
