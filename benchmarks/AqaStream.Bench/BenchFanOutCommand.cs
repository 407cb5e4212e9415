using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using AqaStream.Cli;
using AqaStream.Cli.Commands;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using AqaStream.Server;
using AqaStream.Server.Auth;
using AqaStream.Server.Delivery;
using AqaStream.Server.Hosting;
using AqaStream.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AqaStream.Bench;

/// <summary>
/// <c>./bench fanout</c>: N overlay clients on the SignalR hub (JSON hub protocol over WebSockets, from this process),
/// all following every performance; the scorer's clip-scored steps (a clip with the provisional after it, one push
/// each) are produced on the bus at a steady rate and the latency runs from producing one to each client having received it (p50/p99/max). The peer, in the same run and
/// with the same clients: a bare WebSocket broadcaster (Kestrel, no SignalR, no board, no per-client queues) sending the
/// same records. Reports the largest N whose p99 stays within the target.
/// </summary>
internal static class BenchFanOutCommand
{
    private const string OverlayKey = "bench-overlay";

    public static Command Create()
    {
        var clients = new Option<string>("--clients") { Description = "Client counts to step through (comma-separated).", DefaultValueFactory = _ => "100,250,500,1000,1500,2000" };
        var pushes = new Option<int>("--pushes") { Description = "Scored clips (one push each) produced per step.", DefaultValueFactory = _ => 50 };
        var interval = new Option<int>("--interval-ms") { Description = "Time between two scored clips.", DefaultValueFactory = _ => 100 };
        var target = new Option<double>("--p99-target-ms") { Description = "A step passes when its p99 push latency is at most this.", DefaultValueFactory = _ => 50 };
        var warmUp = new Option<int>("--warm-up-pushes") { Description = "Unmeasured pushes after the clients connect, hub and peer alike (a long-running server is warm: its hot paths are JIT-compiled at their final tier and the connection setup's garbage is collected).", DefaultValueFactory = _ => 40 };
        var peer = new Option<bool>("--peer") { Description = "Also run the bare WebSocket broadcaster at each step (the peer).", DefaultValueFactory = _ => true };
        var cmd = new Command("fanout", "SignalR fan-out: N subscribed overlay clients, push latency p50/p99 from score produced to client received, vs a bare WebSocket broadcaster.")
        {
            clients, pushes, interval, target, peer, warmUp,
        };
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            var steps = r.GetValue(clients)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(s => int.TryParse(s, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"--clients: '{s}' is not a positive count.")).ToArray();
            return RunAsync(steps, Math.Max(5, r.GetValue(pushes)), Math.Max(1, r.GetValue(interval)), r.GetValue(target), r.GetValue(peer), Math.Max(0, r.GetValue(warmUp))).GetAwaiter().GetResult();
        }));
        return cmd;
    }

    private static async Task<int> RunAsync(int[] steps, int pushes, int intervalMs, double targetMs, bool withPeer, int warmUpPushes)
    {
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"bench fanout: {pushes} scored clips (one clipScored push each, clip + provisional) per step every {intervalMs} ms after {warmUpPushes} unmeasured ones and one unmeasured round, all clients in this process, {Environment.ProcessorCount} cores, target p99 <= {targetMs} ms"));
        Console.WriteLine(string.Create(inv, $"{"clients",8}  {"hub p50",8} {"p99",8} {"max",8} {"lost",6}  {"peer p50",9} {"p99",8}  {"p99 ratio",9}  verdict"));
        // One unmeasured round first (server, clients, pushes, peer): the process's first SignalR server pays the JIT and
        // its background tier-up on these two cores, which a long-running delivery host has long finished.
        await HubStepAsync(steps[0], pushes, intervalMs, warmUpPushes).ConfigureAwait(false);
        if (withPeer) { await PeerStepAsync(steps[0], pushes, intervalMs, warmUpPushes).ConfigureAwait(false); }
        var best = 0;
        foreach (var n in steps)
        {
            var hub = await HubStepAsync(n, pushes, intervalMs, warmUpPushes).ConfigureAwait(false);
            var bare = withPeer ? await PeerStepAsync(n, pushes, intervalMs, warmUpPushes).ConfigureAwait(false) : null;
            var ok = hub.Lost == 0 && hub.P99 <= targetMs;
            if (ok) { best = n; }
            Console.WriteLine(string.Create(inv,
                $"{n,8}  {hub.P50,8:F1} {hub.P99,8:F1} {hub.Max,8:F1} {hub.Lost,6}  {bare?.P50 ?? double.NaN,9:F1} {bare?.P99 ?? double.NaN,8:F1}  {(bare is null ? double.NaN : hub.P99 / bare.P99),9:F2}  {(ok ? "ok" : "over")}"));
            if (!ok && hub.P99 > 4 * targetMs) { break; }
        }
        Console.WriteLine(best > 0 ? $"largest client count with p99 <= {targetMs.ToString(inv)} ms and nothing lost: {best}" : "no step met the target");
        return 0;
    }

    private sealed record StepResult(double P50, double P99, double Max, long Lost);

    /// <summary>Latency recorder: produced timestamps by sequence, receive latencies of every client.</summary>
    private sealed class Recorder(int clients, int pushes)
    {
        private readonly long[] _produced = new long[pushes + 1];
        private readonly double[] _latencies = new double[(long)clients * pushes];
        private long _count;

        public void Produced(int sequence) => Volatile.Write(ref _produced[sequence], Stopwatch.GetTimestamp());

        public void Received(int sequence, long at)
        {
            if (sequence <= 0 || sequence >= _produced.Length) { return; }
            var produced = Volatile.Read(ref _produced[sequence]);
            if (produced == 0) { return; }
            var i = Interlocked.Increment(ref _count) - 1;
            if (i < _latencies.Length) { _latencies[i] = Stopwatch.GetElapsedTime(produced, at).TotalMilliseconds; }
        }

        public long Count => Interlocked.Read(ref _count);

        public StepResult Result()
        {
            var n = (int)Math.Min(Count, _latencies.Length);
            var sorted = _latencies.AsSpan(0, n).ToArray();
            Array.Sort(sorted);
            double At(double q) => n == 0 ? double.NaN : sorted[Math.Min(n - 1, (int)Math.Ceiling(q * n) - 1)];
            return new StepResult(At(0.5), At(0.99), n == 0 ? double.NaN : sorted[^1], _latencies.LongLength - n);
        }

        public async Task WaitAllAsync()
        {
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (Count < _latencies.LongLength && DateTime.UtcNow < deadline) { await Task.Delay(20).ConfigureAwait(false); }
        }
    }

    private static async Task<StepResult> HubStepAsync(int n, int pushes, int intervalMs, int warmUpPushes)
    {
        await using var bus = new InMemoryBus();
        var options = new DecoderOptions { FeatureDim = 8, ModelDim = 8, Layers = 1, Heads = 2, HeadHidden1 = 8, HeadHidden2 = 4, MaxQueries = 8 };
        var model = new ScoringModel(new Scoring.Torch.TorchClipScorer(new Scoring.Torch.TorchWeightScoreDecoder(options, seed: 1)), new ModelCard { ModelId = "bench", Architecture = options }, "bench", IncrementalMode.Exact);
        var registry = new ModelRegistry(Path.GetTempPath(), 8, new Dictionary<string, ScoringModel> { ["bench"] = model });
        await using var app = AqaServer.Build("http://127.0.0.1:0", bus, registry, new Dictionary<string, string?> { [$"Auth:ApiKeys:{OverlayKey}"] = AqaRoles.Overlay });
        await app.StartAsync().ConfigureAwait(false);
        var hubUrl = new Uri(app.BoundUrl(), AqaEndpoints.HubPath);
        var recorder = new Recorder(n, pushes);
        var clients = await ConnectAllAsync(n, hubUrl, OverlayKey, recorder, warmUpPushes).ConfigureAwait(false);
        var producer = bus.Producer(Topics.ClipScored);
        for (var step = 1; step <= warmUpPushes + pushes; step++)
        {
            if (step > warmUpPushes) { recorder.Produced(step - warmUpPushes); }
            await producer.ProduceAsync("bench-1", Step(step)).ConfigureAwait(false);
            await Task.Delay(intervalMs).ConfigureAwait(false);
        }
        await recorder.WaitAllAsync().ConfigureAwait(false);
        await DisposeAllAsync(clients).ConfigureAwait(false);
        await app.StopAsync().ConfigureAwait(false);
        return recorder.Result();
    }

    /// <summary>The peer: Kestrel WebSockets with the same handshake and records, one serialisation per push, sent to
    /// every socket concurrently.</summary>
    private static async Task<StepResult> PeerStepAsync(int n, int pushes, int intervalMs, int warmUpPushes)
    {
        var sockets = new ConcurrentDictionary<WebSocket, SemaphoreSlim>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.SetMinimumLevel(Microsoft.Extensions.Logging.LogLevel.Warning);
        await using var app = builder.Build();
        app.UseWebSockets();
        app.Map("/hub", async (HttpContext context) =>
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
            var buffer = new byte[4096];
            var first = await socket.ReceiveAsync(buffer, context.RequestAborted).ConfigureAwait(false);   // the handshake
            if (first.MessageType == WebSocketMessageType.Close) { return; }
            await socket.SendAsync("{}\u001e"u8.ToArray(), WebSocketMessageType.Text, true, context.RequestAborted).ConfigureAwait(false);
            sockets[socket] = new SemaphoreSlim(1, 1);
            try
            {
                while (socket.State == WebSocketState.Open)
                {
                    var r = await socket.ReceiveAsync(buffer, context.RequestAborted).ConfigureAwait(false);
                    var text = Encoding.UTF8.GetString(buffer, 0, r.Count);
                    if (r.MessageType == WebSocketMessageType.Close) { break; }
                    if (text.Contains("\"type\":1", StringComparison.Ordinal))
                    {
                        // Answer the SubscribeAll invocation with an empty completion.
                        var id = JsonDocument.Parse(text.TrimEnd('\u001e')).RootElement.GetProperty("invocationId").GetString();
                        await Send(socket, sockets[socket], Encoding.UTF8.GetBytes($"{{\"type\":3,\"invocationId\":\"{id}\",\"result\":[]}}\u001e")).ConfigureAwait(false);
                    }
                }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                // client gone
            }
            finally
            {
                sockets.TryRemove(socket, out _);
            }
        });
        await app.StartAsync().ConfigureAwait(false);
        var hubUrl = new Uri(app.BoundUrl(), "/hub");
        var recorder = new Recorder(n, pushes);
        var clients = await ConnectAllAsync(n, hubUrl, null, recorder, warmUpPushes).ConfigureAwait(false);
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        for (var step = 1; step <= warmUpPushes + pushes; step++)
        {
            if (step > warmUpPushes) { recorder.Produced(step - warmUpPushes); }
            var scored = Step(step);
            var clip = scored.Clip!;
            var push = new ClipScoredPush("bench-1", new ClipView(clip.ClipIndex, clip.Start, clip.End, clip.Weight, clip.Score, clip.Contribution,
                scored.Provisional.Total, null, false), ProvisionalView.From(scored.Provisional));
            var record = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { type = 1, target = PushMethods.ClipScored, arguments = new object[] { push } }, json) + "\u001e");
            await Task.WhenAll(sockets.Select(s => Send(s.Key, s.Value, record))).ConfigureAwait(false);
            await Task.Delay(intervalMs).ConfigureAwait(false);
        }
        await recorder.WaitAllAsync().ConfigureAwait(false);
        await DisposeAllAsync(clients).ConfigureAwait(false);
        await app.StopAsync().ConfigureAwait(false);
        return recorder.Result();
    }

    private static async Task Send(WebSocket socket, SemaphoreSlim gate, byte[] record)
    {
        await gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await socket.SendAsync(record, WebSocketMessageType.Text, true, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WebSocketException or ObjectDisposedException)
        {
            // client gone
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>What the scorer publishes at step <paramref name="step"/> (1-based): clip step - 1 with the provisional after
    /// it, so each push is the product's per-clip push (clip and provisional in one).</summary>
    private static ClipScored Step(int step) => new(
        new ClipScore("bench-1", step - 1, (step - 1) * 1.28, step * 1.28, 1.0 / step, 50 + (step * 0.37), (50 + (step * 0.37)) / step, []),
        new ProvisionalScore("bench-1", step, 50 + (step * 0.37), ScoreTarget.TES, "bench", "bench", DateTimeOffset.UtcNow, []));

    /// <summary>N clients following everything, each recording the latency of every clip push it receives (the first
    /// <paramref name="warmUpPushes"/> steps are not recorded).</summary>
    private static async Task<List<HubProbeClient>> ConnectAllAsync(int n, Uri hubUrl, string? token, Recorder recorder, int warmUpPushes)
    {
        var clients = new ConcurrentBag<HubProbeClient>();
        await Parallel.ForEachAsync(Enumerable.Range(0, n), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (_, _) =>
        {
            var c = await HubProbeClient.ConnectAsync(hubUrl, token, (target, arg, at) =>
            {
                if (target == PushMethods.ClipScored) { recorder.Received(arg.GetProperty("provisional").GetProperty("clipsSeen").GetInt32() - warmUpPushes, at); }
            }).ConfigureAwait(false);
            await c.InvokeAsync("SubscribeAll").ConfigureAwait(false);
            clients.Add(c);
        }).ConfigureAwait(false);
        return [.. clients];
    }

    private static async Task DisposeAllAsync(List<HubProbeClient> clients) =>
        await Parallel.ForEachAsync(clients, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (c, _) => await c.DisposeAsync().ConfigureAwait(false)).ConfigureAwait(false);
}
