using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AqaStream.Server.Auth;
using AqaStream.Tests.Shared;
using Xunit;

namespace AqaStream.Server.Tests;

/// <summary>The overlay and tablet pages in a real browser (Debian's chromium, driven by playwright-core from
/// web/node_modules; tools/setup.sh installs both).</summary>
[Collection(BrowserCollection.Name)]
public sealed class BrowserTests
{
    [Fact]
    public async Task Overlay_ProvisionalChangesAsClipsArrive_OnATransparentBackground()
    {
        await using var server = await LiveServer.StartAsync(anonymousResults: true);
        await server.StartedAsync("p1", "Ana Lee");
        using var stop = new CancellationTokenSource();
        var totals = new List<double>();
        var feeder = Task.Run(async () =>
        {
            for (var k = 0; k < 60 && !stop.IsCancellationRequested; k++)
            {
                var total = Math.Round(40 + (k * 1.7), 2);
                lock (totals) { totals.Add(total); }
                await server.ClipAsync("p1", k, 1.0 / (k + 1), 30 + k, total, DateTimeOffset.UtcNow);
                await Task.Delay(300);
            }
        });
        var result = await Browser.RunAsync("overlay", new { url = new Uri(server.Url, "/overlay").ToString(), distinctScores = 3 });
        await stop.CancelAsync();
        await feeder;

        var scores = result.GetProperty("scores").EnumerateArray().Select(s => double.Parse(s.GetString()!, CultureInfo.InvariantCulture)).ToList();
        Assert.True(scores.Count >= 3, $"the score changed {scores.Count} times");
        lock (totals) { Assert.All(scores, s => Assert.Contains(s, totals)); }   // every value shown was a real provisional
        Assert.Equal("Ana Lee", result.GetProperty("athlete").GetString());
        Assert.True(result.GetProperty("markers").GetInt32() >= 3);
        Assert.True(result.GetProperty("templateFunctions").GetBoolean());
        Assert.False(result.GetProperty("stale").GetBoolean());
        var alpha = result.GetProperty("alpha");
        Assert.Equal(1920, alpha.GetProperty("width").GetInt32());
        Assert.True(alpha.GetProperty("outsideTransparent").GetDouble() > 0.995, $"background not transparent: {alpha}");
        Assert.True(alpha.GetProperty("insideOpaque").GetDouble() > 0.9, $"graphic not drawn: {alpha}");
        var rect = result.GetProperty("rect");   // inside the graphics-safe area (90 % of 1920×1080)
        Assert.True(rect.GetProperty("x").GetDouble() >= 96 && rect.GetProperty("x").GetDouble() + rect.GetProperty("width").GetDouble() <= 1824);
        Assert.True(rect.GetProperty("y").GetDouble() + rect.GetProperty("height").GetDouble() <= 1026);
        Assert.Empty(result.GetProperty("pageErrors").EnumerateArray());
    }

    /// <summary>The on-air rule: whenever the overlay is (re)loaded — at the start of a performance, in the middle, just
    /// after the previous athlete's final — the number on screen is the current performance's latest provisional or
    /// "–", checked against the REST API after each of 200 reloads (a count-up once left the previous athlete's
    /// total on screen).</summary>
    [Fact]
    public async Task Overlay_ReloadedAtRandomMoments_NeverShowsAWrongNumber()
    {
        await using var server = await LiveServer.StartAsync(anonymousResults: true);
        using var stop = new CancellationTokenSource();
        var random = new Random(14);
        var feeder = Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                var id = $"p{n}";
                await server.StartedAsync(id, $"Athlete {n}");
                await Task.Delay(random.Next(150, 500));   // the start, before any clip
                var total = 0.0;
                var clips = random.Next(4, 9);
                for (var k = 0; k < clips && !stop.IsCancellationRequested; k++)
                {
                    total = Math.Round(total + 5 + (random.NextDouble() * 10), 2);
                    await server.ClipAsync(id, k, 1.0 / clips, 50 + k, total, DateTimeOffset.UtcNow);
                    await Task.Delay(random.Next(60, 260));
                }
                await server.FinalAsync(id, clips, Math.Round(total + 1.11, 2));
                await Task.Delay(random.Next(100, 400));   // the final on screen, then the next athlete
            }
        });
        try
        {
            var result = await Browser.RunAsync("reloads", new { url = new Uri(server.Url, "/overlay").ToString(), reloads = 200, maxDwellMs = 300, lagMs = 250 },
                timeout: TimeSpan.FromMinutes(8));
            Assert.Equal(200, result.GetProperty("reloads").GetInt32());
            Assert.True(result.GetProperty("wrong").GetInt32() == 0, $"wrong numbers on air: {result.GetProperty("wrongSamples")}");
            // The reloads hit every moment that matters.
            Assert.True(result.GetProperty("atStart").GetInt32() >= 5, result.ToString());
            Assert.True(result.GetProperty("midPerformance").GetInt32() >= 20, result.ToString());
            Assert.True(result.GetProperty("ended").GetInt32() >= 5, result.ToString());
            Assert.Empty(result.GetProperty("pageErrors").EnumerateArray());
        }
        finally
        {
            await stop.CancelAsync();
            await feeder;
        }
    }

    [Fact]
    public async Task Tablet_DrawsTheTimeline_AndOpensAClipWithItsThumbnail()
    {
        await using var server = await LiveServer.StartAsync();
        await server.StartedAsync("p1", "Ana Lee");
        for (var k = 0; k < 6; k++) { await server.ClipAsync("p1", k, 0.1 + (0.1 * k), 40 + k, 50 + k); }
        await server.UntilAsync(b => b.Snapshot("p1", Delivery.ViewerRole.Judge)?.Clips.Count == 6 && b.Thumbnail("p1", 5) is not null, "six clips");
        var judge = server.Jwt(AqaRoles.Judge, TimeSpan.FromMinutes(10));
        var result = await Browser.RunAsync("tablet", new { url = new Uri(server.Url, "/tablet?token=" + judge).ToString(), clips = 6, clip = 2 });
        Assert.Equal(6, result.GetProperty("hits").GetInt32());
        Assert.Equal(6, result.GetProperty("bars").GetInt32());
        Assert.Equal(6, result.GetProperty("scoreDots").GetInt32());
        Assert.Equal(1, result.GetProperty("totalPath").GetInt32());
        Assert.Equal("2", result.GetProperty("clipIndex").GetString());
        Assert.Equal("2.56–3.84 s", result.GetProperty("clipTime").GetString());
        Assert.Equal("0.3000", result.GetProperty("weight").GetString());
        Assert.Equal("42.00", result.GetProperty("score").GetString());
        Assert.StartsWith("clip 2 (60%)", result.GetProperty("attended").GetString(), StringComparison.Ordinal);
        Assert.Equal(16, result.GetProperty("thumbWidth").GetInt32());
        Assert.Equal("55.00", result.GetProperty("modelScore").GetString());
        Assert.Equal(["2"], result.GetProperty("selectedHit").EnumerateArray().Select(e => e.GetString()));
        Assert.Empty(result.GetProperty("pageErrors").EnumerateArray());
    }

    [Fact]
    public async Task Overlay_ServerRestarts_PageShowsStaleThenResumes()
    {
        var port = LiveServer.FreePort();
        var server = await LiveServer.StartAsync(anonymousResults: true, port: port);
        LiveServer? second = null;
        try
        {
            await server.StartedAsync("p1", "Ana Lee");
            await server.ClipAsync("p1", 0, 1, 50, 50);
            var result = await Browser.RunAsync("reconnect", new { url = $"http://127.0.0.1:{port}/overlay", expectAfter = 77 }, async line =>
            {
                if (line == "ready")
                {
                    await server.DisposeAsync();   // the server goes away...
                }
                else if (line == "stale")
                {
                    second = await LiveServer.StartAsync(anonymousResults: true, port: port);   // ...and a new one comes up
                    await second.StartedAsync("p1", "Ana Lee");
                    await second.ClipAsync("p1", 0, 1, 77, 77);
                }
            });
            Assert.Equal("77", result.GetProperty("resumedWith").GetString());
        }
        finally
        {
            await server.DisposeAsync();
            if (second is not null) { await second.DisposeAsync(); }
        }
    }

    [Theory]
    [InlineData(null, "public")]
    [InlineData(LiveServer.OverlayKey, "overlay")]
    public async Task Tablet_WithoutAJudgeToken_ShowsNothingItShouldNot(string? token, string role)
    {
        await using var server = await LiveServer.StartAsync(anonymousResults: true);
        await server.StartedAsync("p1", "Ana Lee");
        await server.ClipAsync("p1", 0, 1, 50, 50);
        await server.UntilAsync(b => b.Count == 1, "performance");
        var url = new Uri(server.Url, "/tablet" + (token is null ? "" : "?token=" + token)).ToString();
        var result = await Browser.RunAsync("denied", new { url });
        Assert.Contains($"the role \"{role}\"", result.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.True(result.GetProperty("mainHidden").GetBoolean());
        Assert.Equal(0, result.GetProperty("clipDetails").GetInt32());
        Assert.DoesNotContain("Ana Lee", result.GetProperty("bodyText").GetString(), StringComparison.Ordinal);
        Assert.All(result.GetProperty("api").EnumerateArray(), r => Assert.Equal("/api/me", r.GetProperty("url").GetString()));
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BrowserCollection
{
    public const string Name = "browser";
}

/// <summary>Runs a scenario of browser/scenarios.mjs under node and returns its result.</summary>
internal static class Browser
{
    public static async Task<JsonElement> RunAsync(string scenario, object args, Func<string, Task>? onLine = null, TimeSpan? timeout = null)
    {
        var script = Path.Combine(RepositoryRoot.Path, "tools", "browser", "scenarios.mjs");
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add(scenario);
        psi.ArgumentList.Add(JsonSerializer.Serialize(args));
        psi.Environment["AQA_WEB_DIR"] = Path.Combine(RepositoryRoot.Path, "web");
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("node did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        string? result = null;
        try
        {
            while (await process.StandardOutput.ReadLineAsync(deadline.Token) is { } line)
            {
                if (line.StartsWith("result ", StringComparison.Ordinal)) { result = line["result ".Length..]; }
                else if (onLine is not null) { await onLine(line); }
            }
            await process.WaitForExitAsync(deadline.Token);
        }
        finally
        {
            if (!process.HasExited) { process.Kill(entireProcessTree: true); }
        }
        if (result is null) { throw new InvalidOperationException($"scenario {scenario} gave no result; stderr: {await stderr}"); }
        var element = JsonDocument.Parse(result).RootElement.Clone();
        if (element.TryGetProperty("error", out var error)) { throw new InvalidOperationException($"scenario {scenario} failed: {error.GetString()}\n{await stderr}"); }
        return element;
    }
}
