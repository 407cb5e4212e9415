using System.Collections.Concurrent;
using System.Text.Json;
using AqaStream.Server.Auth;
using AqaStream.Tests.Shared;
using Microsoft.AspNetCore.SignalR.Client;
using Xunit;

namespace AqaStream.Server.Tests;

/// <summary>The hub over a real socket, spoken to in the SignalR JSON hub protocol.</summary>
public sealed class HubTests
{
    private sealed class Inbox
    {
        private int _clipsSeen;

        public ConcurrentQueue<(string Target, JsonElement Arg)> Pushes { get; } = new();

        /// <summary>clipsSeen of the latest provisional pushed (with a clip, alone, or in a snapshot).</summary>
        public int ClipsSeen => Volatile.Read(ref _clipsSeen);

        public void On(string target, JsonElement arg, long _)
        {
            Pushes.Enqueue((target, arg));
            var provisional = target switch
            {
                "clipScored" or "provisionalScore" => arg.GetProperty("provisional"),
                "snapshot" => arg.GetProperty("provisional"),
                _ => default,
            };
            if (provisional.ValueKind == JsonValueKind.Object) { Volatile.Write(ref _clipsSeen, provisional.GetProperty("clipsSeen").GetInt32()); }
        }

        public async Task UntilClipsSeen(int n)
        {
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (ClipsSeen < n)
            {
                if (DateTime.UtcNow > deadline) { throw new TimeoutException($"clipsSeen stayed at {ClipsSeen}, expected {n}"); }
                await Task.Delay(1);
            }
        }

        public async Task<(string Target, JsonElement Arg)> WaitFor(Func<(string Target, JsonElement Arg), bool> match)
        {
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (DateTime.UtcNow < deadline)
            {
                var hit = Pushes.FirstOrDefault(match);
                if (hit.Target is not null) { return hit; }
                await Task.Delay(10);
            }
            throw new TimeoutException("push not received; got: " + string.Join(", ", Pushes.Select(p => p.Target)));
        }
    }

    /// <summary>A clip-scored record the board refuses (here a positive deduction) goes to the dead-letter topic with the
    /// reason and the record, nothing of it is shown, and delivery goes on with the next record.</summary>
    [Fact]
    public async Task Delivery_RefusedRecord_GoesToDeadLettersWithTheReason_AndDeliveryGoesOn()
    {
        await using var server = await LiveServer.StartAsync(anonymousResults: true);
        using var dead = server.Bus.Subscribe(Pipeline.Bus.Topics.DeadLetters, "test");
        await server.StartedAsync("p1", "Ana Lee");
        await server.ClipAsync("p1", 0, 0.5, 40, 20, deduction: 0.4);   // a deduction that raises the score cannot be one
        await server.ClipAsync("p1", 1, 0.5, 42, 21, deduction: -0.2);
        await server.UntilAsync(b => b.Snapshot("p1", Delivery.ViewerRole.Public)?.Clips.Count == 1, "the valid clip");
        var letter = default(Pipeline.Contracts.DeadLetter);
        await foreach (var r in dead.ConsumeAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token))
        {
            letter = r.Value;
            break;
        }
        Assert.NotNull(letter);
        Assert.Equal(Pipeline.Bus.Topics.ClipScored.Name, letter.SourceTopic);
        Assert.Equal("p1", letter.Key);
        Assert.Equal("delivery refused it: clip-scored message of 'p1' refused: clip 0 has deduction 0.4; a deduction is 0 or less.", letter.Reason);
        Assert.Equal(0.4, JsonDocument.Parse(letter.Payload).RootElement.GetProperty("clip").GetProperty("deduction").GetDouble());
        var shown = server.Board.Snapshot("p1", Delivery.ViewerRole.Public)!;
        Assert.Equal(1, shown.Clips.Single().ClipIndex);
        Assert.Equal(-0.2, shown.Clips.Single().Deduction);
    }

    [Fact]
    public async Task Subscribe_ReturnsTheSnapshot_ThenPushesEachClipWithItsProvisional_GapsAndTheEnd()
    {
        await using var server = await LiveServer.StartAsync();
        await server.StartedAsync("p1", "Ana Lee");
        await server.ClipAsync("p1", 0, 1.0, 50, 50);
        await server.UntilAsync(b => b.Snapshot("p1", Delivery.ViewerRole.Judge)?.Provisional is not null, "first clip on the board");

        var inbox = new Inbox();
        await using var client = await HubClients.ConnectAsync(server.Hub, LiveServer.OverlayKey, inbox.On);
        var snapshot = await client.InvokeAsync<JsonElement>("Subscribe", "p1");
        Assert.Equal("Ana Lee", snapshot.GetProperty("athlete").GetString());
        Assert.Equal(50, snapshot.GetProperty("provisional").GetProperty("total").GetDouble());
        Assert.Equal(1, snapshot.GetProperty("clips").GetArrayLength());
        Assert.True(snapshot.GetProperty("startedAtMs").GetInt64() > 1_700_000_000_000);   // Unix milliseconds

        await server.ClipAsync("p1", 1, 0.5, 70, 56.7);
        // One push per clip: the clip's explanation and the provisional right after it.
        var clip = await inbox.WaitFor(p => p.Target == "clipScored");
        Assert.Equal(1, clip.Arg.GetProperty("clip").GetProperty("clipIndex").GetInt32());
        Assert.Equal(56.7, clip.Arg.GetProperty("clip").GetProperty("provisionalAfter").GetDouble());
        Assert.Equal(56.7, clip.Arg.GetProperty("provisional").GetProperty("total").GetDouble());
        Assert.Equal(2, clip.Arg.GetProperty("provisional").GetProperty("clipsSeen").GetInt32());
        // A clip declared missing: the provisional alone.
        await server.MissingAsync("p1", 2, [2], 56.7);
        var gap = await inbox.WaitFor(p => p.Target == "provisionalScore");
        Assert.Equal(2, gap.Arg.GetProperty("provisional").GetProperty("missingClips")[0].GetInt32());
        await server.FinalAsync("p1", 2, 60);
        var ended = await inbox.WaitFor(p => p.Target == "performanceEnded");
        Assert.Equal("ended", ended.Arg.GetProperty("status").GetString());
        Assert.True(ended.Arg.GetProperty("provisional").GetProperty("final").GetBoolean());
    }

    [Fact]
    public async Task Judge_GetsAttentionDetails_OverlayDoesNot()
    {
        await using var server = await LiveServer.StartAsync();
        await server.StartedAsync("p1", "Ana Lee");
        await server.UntilAsync(b => b.Count == 1, "performance on the board");
        var judgeInbox = new Inbox();
        var overlayInbox = new Inbox();
        await using var judge = await HubClients.ConnectAsync(server.Hub, server.Jwt(AqaRoles.Judge, TimeSpan.FromMinutes(5)), judgeInbox.On);
        await using var overlay = await HubClients.ConnectAsync(server.Hub, LiveServer.OverlayKey, overlayInbox.On);
        await judge.InvokeAsync<JsonElement>("Subscribe", "p1");
        await overlay.InvokeAsync<JsonElement>("Subscribe", "p1");
        await server.ClipAsync("p1", 0, 1.0, 50, 50);
        var j = await judgeInbox.WaitFor(p => p.Target == "clipScored");
        var o = await overlayInbox.WaitFor(p => p.Target == "clipScored");
        Assert.Equal(2, j.Arg.GetProperty("clip").GetProperty("topAttended").GetArrayLength());
        Assert.False(o.Arg.GetProperty("clip").TryGetProperty("topAttended", out var t) && t.ValueKind != JsonValueKind.Null);
    }

    [Fact]
    public async Task SubscribeCompetition_FollowsPerformancesThatStartLater_AndOnlyThatCompetition()
    {
        await using var server = await LiveServer.StartAsync();
        var inbox = new Inbox();
        await using var client = await HubClients.ConnectAsync(server.Hub, LiveServer.OverlayKey, inbox.On);
        var now = await client.InvokeAsync<JsonElement>("SubscribeCompetition", "worlds");
        Assert.Equal(0, now.GetArrayLength());
        await server.StartedAsync("other", "Bo Kim", "nationals");
        await server.StartedAsync("w1", "Ana Lee", "worlds");
        var started = await inbox.WaitFor(p => p.Target == "performanceStarted");
        Assert.Equal("w1", started.Arg.GetProperty("performanceId").GetString());
        await Task.Delay(200);
        Assert.DoesNotContain(inbox.Pushes, p => p.Arg.ValueKind == JsonValueKind.Object && p.Arg.TryGetProperty("performanceId", out var id) && id.GetString() == "other");
    }

    [Fact]
    public async Task BadCalls_GetClearErrors_AndTheConnectionKeepsWorking()
    {
        await using var server = await LiveServer.StartAsync();
        await server.StartedAsync("p1", "Ana Lee");
        await server.UntilAsync(b => b.Count == 1, "performance on the board");
        await using var client = await HubClients.ConnectAsync(server.Hub, LiveServer.OverlayKey);
        var unknown = await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(() => client.InvokeAsync<JsonElement>("Subscribe", "no-such-performance"));
        Assert.Contains("unknown performance 'no-such-performance'", unknown.Message, StringComparison.Ordinal);
        var empty = await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(() => client.InvokeAsync<JsonElement>("Subscribe", ""));
        Assert.Contains("non-empty", empty.Message, StringComparison.Ordinal);
        var method = await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(() => client.InvokeAsync<JsonElement>("DropTables"));
        Assert.Contains("DropTables", method.Message, StringComparison.Ordinal);
        var args = await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(() => client.InvokeAsync<JsonElement>("Subscribe", 1, 2, 3));
        Assert.NotEmpty(args.Message);
        // Still usable.
        var snapshot = await client.InvokeAsync<JsonElement>("Subscribe", "p1");
        Assert.Equal("p1", snapshot.GetProperty("performanceId").GetString());
    }

    [Theory]
    [InlineData("malformed")]
    [InlineData("oversized")]
    public async Task MalformedOrOversizedMessage_ClosesThatConnectionOnly(string kind)
    {
        await using var server = await LiveServer.StartAsync();
        await server.StartedAsync("p1", "Ana Lee");
        await server.UntilAsync(b => b.Count == 1, "performance on the board");
        var inbox = new Inbox();
        await using var good = await HubClients.ConnectAsync(server.Hub, LiveServer.OverlayKey, inbox.On);
        await good.InvokeAsync<JsonElement>("Subscribe", "p1");
        await using var bad = await HubProbeClient.ConnectAsync(server.Hub, LiveServer.OverlayKey);
        await bad.SendRawAsync(kind == "malformed"
            ? "{\"type\":1,\"target\":\"Subscribe\",\"arguments\":[\"p1\"\u001e"
            : "{\"type\":1,\"invocationId\":\"9\",\"target\":\"Subscribe\",\"arguments\":[\"" + new string('x', 200_000) + "\"]}\u001e");
        await bad.WaitClosedAsync(TimeSpan.FromSeconds(15));
        Assert.True(bad.Closed);
        Assert.NotNull(bad.CloseReason);
        // Everyone else carries on.
        await server.ClipAsync("p1", 0, 1, 50, 50);
        await inbox.WaitFor(p => p.Target == "clipScored");
        Assert.Equal("Healthy", await new HttpClient().GetStringAsync(new Uri(server.Url, "/health")));
    }

    [Fact]
    public async Task SlowClientOverTheSocket_IsCoalesced_FastClientStillGetsEverything()
    {
        await using var server = await LiveServer.StartAsync(maxQueuedPushes: 16);
        await server.StartedAsync("p1", "Ana Lee");
        await server.UntilAsync(b => b.Count == 1, "performance on the board");
        var fastInbox = new Inbox();
        var slowInbox = new Inbox();
        await using var fast = await HubProbeClient.ConnectAsync(server.Hub, server.Jwt(AqaRoles.Judge, TimeSpan.FromMinutes(5)), fastInbox.On);
        await using var slow = await HubProbeClient.ConnectAsync(server.Hub, server.Jwt(AqaRoles.Judge, TimeSpan.FromMinutes(5)), slowInbox.On, receiveBufferBytes: 8192);
        await fast.InvokeAsync("Subscribe", "p1");
        await slow.InvokeAsync("Subscribe", "p1");
        slow.PauseReading();
        // Enough pushes to fill the socket buffers behind the paused client (judges get the attention lists: ~1.5 KB a clip;
        // the client's receive buffer is fixed at 8 KiB, the server's send buffer auto-tunes up to 4 MiB here).
        const int clips = 3000;
        for (var k = 0; k < clips; k++)
        {
            await server.ClipAsync("p1", k, 1.0 / (k + 1), k % 100, k, attended: 40);
            await fastInbox.UntilClipsSeen(k + 1);   // the fast client keeps up with every clip while the slow one is stuck
        }
        Assert.Equal(clips, fastInbox.Pushes.Count(p => p.Target == "clipScored"));
        Assert.True(server.FanOut.Counters.Coalesced > 0, "the paused client's pushes were never coalesced (socket buffers absorbed everything?)");
        Assert.True(server.FanOut.Counters.MaxQueued <= 16, $"a queue grew to {server.FanOut.Counters.MaxQueued}");
        slow.ResumeReading();
        var caughtUp = await slowInbox.WaitFor(p => p.Target == "snapshot" && p.Arg.GetProperty("provisional").GetProperty("clipsSeen").GetInt32() == clips);
        Assert.Equal(clips, caughtUp.Arg.GetProperty("clips").GetArrayLength());
        Assert.True(slowInbox.Pushes.Count < 2 * clips, $"the slow client got {slowInbox.Pushes.Count} pushes");
    }
}
