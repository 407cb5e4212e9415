using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
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
                var clips = random.Next(3, 7);
                for (var k = 0; k < clips && !stop.IsCancellationRequested; k++)
                {
                    total = Math.Round(total + 5 + (random.NextDouble() * 10), 2);
                    await server.ClipAsync(id, k, 1.0 / clips, 50 + k, total, DateTimeOffset.UtcNow);
                    await Task.Delay(random.Next(250, 500));   // one provisional in flight at most within the lag below
                }
                await server.FinalAsync(id, clips, Math.Round(total + 1.11, 2));
                await Task.Delay(random.Next(100, 400));   // the final on screen, then the next athlete
            }
        });
        try
        {
            // A final is held for 0.3 s: long enough for some reloads to land on a held final, short enough for others to
            // land on the next athlete's "–".
            var result = await Browser.RunAsync("reloads", new { url = new Uri(server.Url, "/overlay?hold=0.3").ToString(), reloads = 200, maxDwellMs = 300, lagMs = 500, holdMs = 300 },
                timeout: TimeSpan.FromMinutes(8));
            Assert.Equal(200, result.GetProperty("reloads").GetInt32());
            Assert.True(result.GetProperty("wrong").GetInt32() == 0, $"wrong numbers on air: {result.GetProperty("wrongSamples")}");
            // The reloads hit every moment that matters.
            Assert.True(result.GetProperty("atStart").GetInt32() >= 5, result.ToString());
            Assert.True(result.GetProperty("midPerformance").GetInt32() >= 20, result.ToString());
            Assert.True(result.GetProperty("ended").GetInt32() + result.GetProperty("held").GetInt32() >= 5, result.ToString());
            Assert.Empty(result.GetProperty("pageErrors").EnumerateArray());
        }
        finally
        {
            await stop.CancelAsync();
            await feeder;
        }
    }

    [Fact]
    public async Task Tablet_SignInThroughTheForm_DrawsTheTimelineWithAxes_AndOpensAClipWithItsThumbnail()
    {
        await using var server = await LiveServer.StartAsync();
        await server.StartedAsync("p1", "Ana Lee");
        for (var k = 0; k < 6; k++) { await server.ClipAsync("p1", k, 0.1 + (0.1 * k), 40 + k, 50 + k); }
        await server.ClipAsync("p1", 6, 0.05, 103.82, 57);   // beyond the 0–100 scale: flagged
        await server.UntilAsync(b => b.Snapshot("p1", Delivery.ViewerRole.Judge)?.Clips.Count == 7 && b.Thumbnail("p1", 5) is not null, "seven clips");
        server.Board.SetPanelScore("p1", 54.5, "tester");
        var judge = server.Jwt(AqaRoles.Judge, TimeSpan.FromMinutes(10));
        var result = await Browser.RunAsync("tablet", new { url = new Uri(server.Url, "/tablet").ToString(), token = judge, clips = 7, clip = 2, panelWait = true,
            screenshot = Screenshots.PathFor("tablet.png") });
        // Nothing showed before the sign-in, and the token never went into the address.
        Assert.True(result.GetProperty("signedInThroughForm").GetBoolean());
        Assert.False(result.GetProperty("before").GetProperty("mainVisible").GetBoolean());
        Assert.False(result.GetProperty("before").GetProperty("clipVisible").GetBoolean());
        Assert.False(result.GetProperty("clipVisibleBeforeTap").GetBoolean());   // no empty clip panel before a tap
        Assert.DoesNotContain("token", result.GetProperty("urlAfter").GetString(), StringComparison.Ordinal);
        // A chart at its true aspect ratio, with units on every axis.
        Assert.InRange(result.GetProperty("aspect").GetDouble(), 1000 / 360.0 * 0.98, 1000 / 360.0 * 1.02);
        Assert.Equal(JsonValueKind.Null, result.GetProperty("preserveAspectRatio").ValueKind);
        Assert.Equal(["points", "weight", "time (s)"], result.GetProperty("axisUnits").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(7, result.GetProperty("hits").GetInt32());
        Assert.Equal(7, result.GetProperty("bars").GetInt32());
        Assert.Equal(7, result.GetProperty("scoreDots").GetInt32());
        Assert.Equal(["6"], result.GetProperty("beyondMarks").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(1, result.GetProperty("totalPath").GetInt32());
        Assert.Equal("2", result.GetProperty("clipIndex").GetString());
        Assert.Equal("2.56–3.84 s", result.GetProperty("clipTime").GetString());
        Assert.Equal("0.3000", result.GetProperty("weight").GetString());
        Assert.Equal("42.00", result.GetProperty("score").GetString());
        Assert.StartsWith("clip 2 (60%)", result.GetProperty("attended").GetString(), StringComparison.Ordinal);
        // Weights 0.1..0.6 and 0.05 (mean 0.3071): 0.3 is 0.98× the mean, 4th by weight; scores 40..45 and 103.82 (mean 51.26).
        Assert.Equal("weight 0.98× the mean (4 of 7 by weight); score −9.26 vs the mean clip score 51.26", result.GetProperty("compared").GetString());
        Assert.Equal(JsonValueKind.Null, result.GetProperty("flag").ValueKind);
        Assert.Equal(16, result.GetProperty("thumbWidth").GetInt32());
        Assert.Equal("57.00", result.GetProperty("modelScore").GetString());
        Assert.Equal("54.50", result.GetProperty("panelScore").GetString());
        Assert.Equal("+2.50", result.GetProperty("modelMinusPanel").GetString());
        Assert.Equal(["2"], result.GetProperty("selectedHit").EnumerateArray().Select(e => e.GetString()));
        Assert.Empty(result.GetProperty("pageErrors").EnumerateArray());

        // The clip beyond the scale says so; a clip-local model's clip says what it attended to in words.
        var flagged = await Browser.RunAsync("tablet", new { url = new Uri(server.Url, "/tablet").ToString(), token = judge, clips = 7, clip = 6 });
        Assert.Contains("outside the 0–100 scale", flagged.GetProperty("flag").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tablet_ClipLocalModel_ExplainsByWeightAndScore_NotAttention()
    {
        await using var server = await LiveServer.StartAsync();
        await server.StartedAsync("p1", "Ana Lee");
        for (var k = 0; k < 4; k++) { await server.ClipAsync("p1", k, 0.25, 50 + (2 * k), 51 + k, topAttended: [new(k, 1.0)]); }
        await server.UntilAsync(b => b.Snapshot("p1", Delivery.ViewerRole.Judge)?.Clips.Count == 4 && b.Thumbnail("p1", 3) is not null, "four clips");
        var result = await Browser.RunAsync("tablet", new { url = new Uri(server.Url, "/tablet").ToString(), token = LiveServer.JudgeKey, clips = 4, clip = 3 });
        Assert.Equal("its own clip only (this model scores each clip from its own video)", result.GetProperty("attended").GetString());
        Assert.Equal("weight 1.00× the mean (1 of 4 by weight); score +3.00 vs the mean clip score 53.00", result.GetProperty("compared").GetString());
    }

    /// <summary>A model with a deduction term (TES): a likely fall is shown as a deduction of its own — on the overlay only
    /// while its clip is the latest, on the tablet as a marker and in the clip's facts — beside an ordinary clip score,
    /// and a clip with a small expected deduction is not called a fall.</summary>
    [Fact]
    public async Task Graphics_LikelyFall_ShownAsADeductionOfItsOwn_OnTheOverlayAndTheTablet()
    {
        await using var server = await LiveServer.StartAsync(anonymousResults: true);
        await server.StartedAsync("p1", "Ana Lee");
        double[] deductions = [0, -0.1, 0, -3.2];
        for (var k = 0; k < deductions.Length; k++) { await server.ClipAsync("p1", k, 0.25, 30 + k, 30 - (k == 3 ? 3.2 : 0), deduction: deductions[k]); }
        // The server says which clips are likely falls (the threshold lives in ClipScore only); the pages draw what it says.
        await server.UntilAsync(b => b.Snapshot("p1", Delivery.ViewerRole.Public)?.Clips.Count == 4, "four clips");
        using (var http = new HttpClient { BaseAddress = server.Url })
        {
            var snapshot = await http.GetFromJsonAsync<JsonElement>(new Uri("/api/performances/p1", UriKind.Relative));
            Assert.Equal([false, false, false, true], snapshot.GetProperty("clips").EnumerateArray().Select(c => c.GetProperty("likelyFall").GetBoolean()));
        }
        var overlay = new Uri(server.Url, "/overlay").ToString();
        var fall = await Browser.RunAsync("latest", new { url = overlay, clip = 3, screenshot = Screenshots.PathFor("overlay-fall.png") });
        Assert.Equal("33.00", fall.GetProperty("score").GetString());   // the execution score, not hundreds of negative points
        Assert.True(fall.GetProperty("deductionVisible").GetBoolean());
        Assert.Equal("-3.20", fall.GetProperty("deduction").GetString());
        Assert.Equal([3], fall.GetProperty("fallMarkers").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal("26.80", fall.GetProperty("shown").GetString());
        Assert.Empty(fall.GetProperty("pageErrors").EnumerateArray());

        await server.ClipAsync("p1", 4, 0.2, 34, 26.9);
        var after = await Browser.RunAsync("latest", new { url = overlay, clip = 4 });
        Assert.False(after.GetProperty("deductionVisible").GetBoolean());   // the fall is no longer the latest clip
        Assert.Equal("", after.GetProperty("deduction").GetString());
        Assert.Equal([3], after.GetProperty("fallMarkers").EnumerateArray().Select(e => e.GetInt32()));

        await server.UntilAsync(b => b.Snapshot("p1", Delivery.ViewerRole.Judge)?.Clips.Count == 5 && b.Thumbnail("p1", 4) is not null, "five clips");
        var judge = server.Jwt(AqaRoles.Judge, TimeSpan.FromMinutes(10));
        var tablet = await Browser.RunAsync("tablet", new { url = new Uri(server.Url, "/tablet").ToString(), token = judge, clips = 5, clip = 3,
            screenshot = Screenshots.PathFor("tablet-fall.png") });
        Assert.Equal("-3.20 (likely fall)", tablet.GetProperty("deduction").GetString());
        Assert.Equal("5.050", tablet.GetProperty("contribution").GetString());   // 0.25 · 33 − 3.2
        Assert.Equal(["3"], tablet.GetProperty("fallMarks").EnumerateArray().Select(e => e.GetString()));
        var small = await Browser.RunAsync("tablet", new { url = new Uri(server.Url, "/tablet").ToString(), token = judge, clips = 5, clip = 1 });
        Assert.Equal("-0.10", small.GetProperty("deduction").GetString());
        var none = await Browser.RunAsync("tablet", new { url = new Uri(server.Url, "/tablet").ToString(), token = judge, clips = 5, clip = 0 });
        Assert.Equal("–", none.GetProperty("deduction").GetString());
        Assert.Empty(tablet.GetProperty("pageErrors").EnumerateArray());
    }

    /// <summary>The score bug and the standings of a competition: three finals and a 300-clip programme on the ice.</summary>
    [Fact]
    public async Task Graphics_ScoreBugWithRankAndLeader_ClipStripFitsLongProgrammes_Standings()
    {
        await using var server = await LiveServer.StartAsync(anonymousResults: true);
        (string Id, string Athlete, string Nation, double Final)[] done = [("a", "Ada Holm", "NOR", 60.5), ("b", "Bea Lind", "SWE", 72.25), ("c", "Cai Novak", "CZE", 55.0)];
        foreach (var (id, athlete, nation, final) in done)
        {
            await server.StartedAsync(id, athlete, "worlds", nation);
            await server.ClipAsync(id, 0, 1, final, final);
            await server.FinalAsync(id, 1, final);
        }
        await server.StartedAsync("d", "Dan Orsi", "worlds", "ITA");
        for (var k = 0; k < 300; k++) { await server.ClipAsync("d", k, 1.0 / 300, 60, Math.Round(0.218 * (k + 1), 2)); }
        await server.UntilAsync(b => b.Snapshot("d", Delivery.ViewerRole.Public)?.Provisional?.ClipsSeen == 300, "300 clips");
        var result = await Browser.RunAsync("graphics", new
        {
            overlay = new Uri(server.Url, "/overlay?hold=0").ToString(),
            expect = new { athlete = "Dan Orsi", score = "65.40" },
            overlayShot = Screenshots.PathFor("overlay-score-bug.png"),
            standings = new Uri(server.Url, "/standings?competition=worlds").ToString(),
            rows = 3,
            standingsShot = Screenshots.PathFor("standings.png"),
        });
        var bug = result.GetProperty("overlay");
        Assert.Equal("ITA", bug.GetProperty("nation").GetString());
        Assert.Equal("rank now 2", bug.GetProperty("rank").GetString());
        Assert.Equal("6.85 behind Bea Lind", bug.GetProperty("leader").GetString());
        Assert.Equal("worlds", bug.GetProperty("competition").GetString());
        Assert.Equal("est. TES", bug.GetProperty("label").GetString());
        Assert.Equal(300, bug.GetProperty("markers").GetInt32());
        var strip = bug.GetProperty("strip");
        var latest = bug.GetProperty("latest");
        Assert.True(latest.GetProperty("left").GetDouble() >= strip.GetProperty("left").GetDouble() - 0.5
            && latest.GetProperty("right").GetDouble() <= strip.GetProperty("right").GetDouble() + 0.5, $"latest clip outside the strip: {latest} in {strip}");
        Assert.True(latest.GetProperty("width").GetDouble() >= 2, latest.ToString());

        var standings = result.GetProperty("standings");
        Assert.Equal("worlds", standings.GetProperty("title").GetString());
        var rows = standings.GetProperty("rows").EnumerateArray().Select(r => r.EnumerateArray().Select(c => c.GetString()!).ToArray()).ToList();
        Assert.Equal(["1", "Bea Lind", "SWE", "72.25", ""], rows[0]);
        Assert.Equal(["2", "Ada Holm", "NOR", "60.50", "-11.75"], rows[1]);
        Assert.Equal(["3", "Cai Novak", "CZE", "55.00", "-17.25"], rows[2]);
        Assert.Equal("On the ice: Dan Orsi (ITA) — est. 65.40, rank now 2", standings.GetProperty("onIce").GetString());
        Assert.True(standings.GetProperty("templateFunctions").GetBoolean());
        Assert.Empty(result.GetProperty("pageErrors").EnumerateArray());
    }

    [Fact]
    public async Task Overlay_Final_IsHeldForTheHoldTime_ThenTheNextAthlete()
    {
        await using var server = await LiveServer.StartAsync(anonymousResults: true);
        await server.StartedAsync("a", "Ada Holm", "worlds", "NOR");
        await server.ClipAsync("a", 0, 1, 60, 60);
        DateTimeOffset? endedAt = null;
        var result = await Browser.RunAsync("hold", new { url = new Uri(server.Url, "/overlay?hold=2").ToString(), first = "Ada Holm", watchMs = 4500 }, async line =>
        {
            if (line != "first") { return; }
            await server.FinalAsync("a", 1, 61.11);
            endedAt = DateTimeOffset.UtcNow;
            await server.StartedAsync("b", "Bea Lind", "worlds", "SWE");   // the next athlete at once, no score yet
        });
        var timeline = result.GetProperty("timeline").EnumerateArray()
            .Select(e => (At: e.GetProperty("at").GetInt64(), Athlete: e.GetProperty("athlete").GetString(), Score: e.GetProperty("score").GetString(), Label: e.GetProperty("label").GetString()))
            .ToList();
        var end = endedAt!.Value.ToUnixTimeMilliseconds();
        // The final stays on screen for the hold time, labelled final; then the next athlete, with no number yet.
        Assert.Contains(timeline, t => t.Athlete == "Ada Holm" && t.Score == "61.11" && t.Label == "final TES" && t.At > end + 1500);
        Assert.DoesNotContain(timeline, t => t.Athlete == "Bea Lind" && t.At < end + 1800);
        Assert.Contains(timeline, t => t.Athlete == "Bea Lind" && t.Score == "–");
        // Never one athlete's name with the other's number: Ada Holm shows one of her own numbers, or nothing ("–" while
        // the page's first snapshot is older than her first clip's score); Bea Lind has no number yet.
        Assert.All(timeline, t => Assert.True((t.Athlete == "Ada Holm" && t.Score is "–" or "60.00" or "61.11") || (t.Athlete == "Bea Lind" && t.Score == "–"), t.ToString()));
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

/// <summary>Where the browser tests put their screenshots: <c>AQA_SCREENSHOTS</c> when set (for a look at the
/// graphics), else a temporary folder.</summary>
internal static class Screenshots
{
    public static string PathFor(string name)
    {
        var dir = Environment.GetEnvironmentVariable("AQA_SCREENSHOTS") is { Length: > 0 } d ? d : Path.Combine(Path.GetTempPath(), "aqa-screenshots");
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
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
