using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Server.Auth;
using AqaStream.Tests.Shared;
using Microsoft.AspNetCore.SignalR.Client;
using Xunit;

namespace AqaStream.Server.Tests;

/// <summary>Roles on the REST API and the hub: unauthorised calls get 401/403 and an error, never data.</summary>
public sealed class AuthTests
{
    private static HttpClient Client(LiveServer server, string? token) => server.Client(token);

    private static async Task<string> ErrorOf(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;

    private static async Task<LiveServer> WithOnePerformance(bool anonymous)
    {
        var server = await LiveServer.StartAsync(anonymousResults: anonymous);
        await server.StartedAsync("p1", "Ana Lee");
        await server.ClipAsync("p1", 0, 1, 50, 50);
        await server.UntilAsync(b => b.Thumbnail("p1", 0) is not null && b.Snapshot("p1", Delivery.ViewerRole.Judge)?.Clips.Count == 1, "clip with thumbnail");
        return server;
    }

    [Fact]
    public async Task NoToken_WhenResultsAreClosed_Gets401AndNoData()
    {
        await using var server = await WithOnePerformance(anonymous: false);
        using var http = Client(server, null);
        foreach (var path in new[] { "/api/performances", "/api/performances/p1", "/api/model", "/api/performances/p1/clips/0/thumbnail.png" })
        {
            var r = await http.GetAsync(new Uri(path, UriKind.Relative));
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            var body = await r.Content.ReadAsStringAsync();
            Assert.DoesNotContain("Ana Lee", body, StringComparison.Ordinal);
            Assert.Contains("bearer token is required", await ErrorOf(r), StringComparison.Ordinal);
        }
        await Assert.ThrowsAnyAsync<Exception>(() => HubClients.ConnectAsync(server.Hub, null));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/health", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/overlay", UriKind.Relative))).StatusCode);   // the page itself holds no data
    }

    [Fact]
    public async Task AnonymousResults_ListIsOpen_JudgeViewsAreNot()
    {
        await using var server = await WithOnePerformance(anonymous: true);
        using var http = Client(server, null);
        var list = await http.GetFromJsonAsync<JsonElement>(new Uri("/api/performances", UriKind.Relative));
        Assert.Equal("Ana Lee", list[0].GetProperty("athlete").GetString());
        Assert.Equal(50, list[0].GetProperty("provisional").GetDouble());
        var view = await http.GetFromJsonAsync<JsonElement>(new Uri("/api/performances/p1", UriKind.Relative));
        Assert.False(view.GetProperty("clips")[0].TryGetProperty("topAttended", out var t) && t.ValueKind != JsonValueKind.Null);
        var thumb = await http.GetAsync(new Uri("/api/performances/p1/clips/0/thumbnail.png", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Forbidden, thumb.StatusCode);
        Assert.Contains("'public' may not", await ErrorOf(thumb), StringComparison.Ordinal);
        var panel = await http.PostAsJsonAsync(new Uri("/api/performances/p1/panel-score", UriKind.Relative), new { score = 80 });
        Assert.Equal(HttpStatusCode.Forbidden, panel.StatusCode);
        await using var hub = await HubClients.ConnectAsync(server.Hub, null);   // overlays need no token here
        Assert.Equal("p1", (await hub.InvokeAsync<JsonElement>("Subscribe", "p1")).GetProperty("performanceId").GetString());
    }

    /// <summary>Issuing and expiry follow the host's TimeProvider: a token is good until its lifetime (plus the 30 s clock
    /// skew) has passed on that clock, then refused as expired — in virtual time, without waiting.</summary>
    [Fact]
    public async Task Token_ExpiresOnTheHostsClock()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var server = await LiveServer.StartAsync(clock: clock);
        var token = server.Jwt(AqaRoles.Judge, TimeSpan.FromMinutes(5));
        using var http = Client(server, token);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/api/me", UriKind.Relative))).StatusCode);
        clock.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromSeconds(20));   // within the skew
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/api/me", UriKind.Relative))).StatusCode);
        clock.Advance(TimeSpan.FromSeconds(20));
        var expired = await http.GetAsync(new Uri("/api/me", UriKind.Relative));
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Contains("expired", await ErrorOf(expired), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ExpiredOrForgedToken_Gets401WithTheReason_EvenWhereResultsAreOpen()
    {
        await using var server = await WithOnePerformance(anonymous: true);
        var expired = server.Jwt(AqaRoles.Judge, TimeSpan.FromMinutes(5), DateTime.UtcNow.AddHours(-1));
        using (var http = Client(server, expired))
        {
            var r = await http.GetAsync(new Uri("/api/performances", UriKind.Relative));
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.Contains("expired", await ErrorOf(r), StringComparison.Ordinal);
            Assert.Contains("invalid_token", r.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
        await Assert.ThrowsAnyAsync<Exception>(() => HubClients.ConnectAsync(server.Hub, expired));
        var forged = server.Jwt(AqaRoles.Judge, TimeSpan.FromMinutes(5));
        forged = forged[..^4] + (forged[^4..] == "AAAA" ? "BBBB" : "AAAA");
        using (var http = Client(server, forged))
        {
            var r = await http.GetAsync(new Uri("/api/performances", UriKind.Relative));
            Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
            Assert.Contains("signature", await ErrorOf(r), StringComparison.Ordinal);
        }
        using (var http = Client(server, "not-a-key"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(new Uri("/api/performances", UriKind.Relative))).StatusCode);
        }
    }

    [Fact]
    public async Task Roles_OverlayReads_JudgeEntersPanel_OperatorStartsAndEnds()
    {
        await using var server = await WithOnePerformance(anonymous: false);
        using var overlay = Client(server, LiveServer.OverlayKey);
        using var judge = Client(server, server.Jwt(AqaRoles.Judge, TimeSpan.FromMinutes(5)));
        using var op = Client(server, LiveServer.OperatorKey);

        Assert.Equal(HttpStatusCode.OK, (await overlay.GetAsync(new Uri("/api/performances", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await overlay.GetAsync(new Uri("/api/performances/p1/clips/0/thumbnail.png", UriKind.Relative))).StatusCode);
        Assert.Equal("overlay", (await overlay.GetFromJsonAsync<JsonElement>(new Uri("/api/me", UriKind.Relative))).GetProperty("role").GetString());

        var png = await judge.GetAsync(new Uri("/api/performances/p1/clips/0/thumbnail.png", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, png.StatusCode);
        Assert.Equal("image/png", png.Content.Headers.ContentType!.MediaType);
        Assert.Equal((byte)0x89, (await png.Content.ReadAsByteArrayAsync())[0]);
        var judgeView = await judge.GetFromJsonAsync<JsonElement>(new Uri("/api/performances/p1", UriKind.Relative));
        Assert.Equal(2, judgeView.GetProperty("clips")[0].GetProperty("topAttended").GetArrayLength());
        Assert.Equal(HttpStatusCode.BadRequest, (await judge.PostAsJsonAsync(new Uri("/api/performances/p1/panel-score", UriKind.Relative), new { score = double.NaN.ToString(System.Globalization.CultureInfo.InvariantCulture) })).StatusCode);
        var entered = await judge.PostAsJsonAsync(new Uri("/api/performances/p1/panel-score", UriKind.Relative), new { score = 81.25 });
        Assert.Equal(HttpStatusCode.OK, entered.StatusCode);
        Assert.Equal(81.25, server.Board.Snapshot("p1", Delivery.ViewerRole.Public)!.Panel!.Score);
        Assert.Equal(HttpStatusCode.NotFound, (await judge.PostAsJsonAsync(new Uri("/api/performances/nope/panel-score", UriKind.Relative), new { score = 1 })).StatusCode);

        // Operator actions reach the venue side of the bus.
        using var chunks = server.Bus.Subscribe(Topics.VideoChunks, "test");
        Assert.Equal(HttpStatusCode.Forbidden, (await judge.PostAsJsonAsync(new Uri("/api/performances", UriKind.Relative), new { performanceId = "p2", athlete = "Bo Kim" })).StatusCode);
        var bad = await op.PostAsJsonAsync(new Uri("/api/performances", UriKind.Relative), new { performanceId = "p2" });
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("athlete", await ErrorOf(bad), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Accepted, (await op.PostAsJsonAsync(new Uri("/api/performances", UriKind.Relative), new { performanceId = "p2", athlete = "Bo Kim", competition = "cup" })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await op.PostAsync(new Uri("/api/performances/p1/end", UriKind.Relative), null)).StatusCode);
        var received = new List<PerformanceMessage>();
        await foreach (var r in chunks.ConsumeAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token))
        {
            received.Add(r.Value);
            if (received.Count == 2) { break; }
        }
        Assert.Equal("Bo Kim", Assert.IsType<PerformanceStarted>(received[0]).Athlete);
        Assert.Equal("p1", Assert.IsType<PerformanceEnded>(received[1]).PerformanceId);
    }

    [Fact]
    public async Task Model_InUseIsPublic_SwitchingIsForOperatorsWithClearErrors()
    {
        using var dir = new AqaStream.Tests.Shared.TempDirectory();
        var other = LiveServer.SmallModel(7);
        Scoring.Checkpoints.CheckpointStore.Save(Path.Combine(dir.Path, "other.safetensors"), other.Scorer, other.Card with { ModelId = "other-model" });
        await using var server = await LiveServer.StartAsync(modelsDirectory: dir.Path);
        using var overlay = Client(server, LiveServer.OverlayKey);
        using var op = Client(server, LiveServer.OperatorKey);
        var model = await overlay.GetFromJsonAsync<JsonElement>(new Uri("/api/model", UriKind.Relative));
        Assert.Equal("small-1", model[0].GetProperty("modelId").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await overlay.PutAsJsonAsync(new Uri("/api/model", UriKind.Relative), new { name = "other" })).StatusCode);
        var unknown = await op.PutAsJsonAsync(new Uri("/api/model", UriKind.Relative), new { name = "../etc/passwd" });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        var missing = await op.PutAsJsonAsync(new Uri("/api/model", UriKind.Relative), new { name = "nope" });
        Assert.Contains("other", await ErrorOf(missing), StringComparison.Ordinal);   // lists what there is
        Assert.Empty((await op.GetFromJsonAsync<JsonElement>(new Uri("/api/models", UriKind.Relative))).GetProperty("notFitForAir").EnumerateObject());
        var switched = await op.PutAsJsonAsync(new Uri("/api/model", UriKind.Relative), new { name = "other" });
        Assert.Equal(HttpStatusCode.OK, switched.StatusCode);
        Assert.Equal("other-model", server.Models.InUse[Scoring.Data.ScoreTarget.TES].Card.ModelId);
    }

    [Fact]
    public async Task Model_SwitchToOneThatLosesToItsBaselines_RefusedWithTheReason_UnlessTheServerAllowsIt()
    {
        using var dir = new AqaStream.Tests.Shared.TempDirectory();
        var weak = LiveServer.SmallModel(9);
        Scoring.Checkpoints.BaselineFigures[] baselines =
        [
            new("constant", "the training mean", 320, null, 25.6, 0.7),
            new("ridge-mean", "ridge on mean clip features", 320, 0.724, 10.0, 0.9),
        ];
        Scoring.Checkpoints.CheckpointStore.Save(Path.Combine(dir.Path, "weak.safetensors"), weak.Scorer, weak.Card with
        {
            ModelId = "weak-model",
            Validation = new Scoring.Checkpoints.ValidationSummary(0.686, 0.77, 17.2, 0.02, 80, 54, baselines),
        });
        await using (var server = await LiveServer.StartAsync(modelsDirectory: dir.Path))
        {
            using var op = Client(server, LiveServer.OperatorKey);
            var list = await op.GetFromJsonAsync<JsonElement>(new Uri("/api/models", UriKind.Relative));
            Assert.Equal(["weak"], list.GetProperty("available").EnumerateArray().Select(e => e.GetString()));
            var unfit = list.GetProperty("notFitForAir");
            Assert.StartsWith("on its validation split (80 performances) it loses to the baselines", unfit.GetProperty("weak").GetString(), StringComparison.Ordinal);
            var refused = await op.PutAsJsonAsync(new Uri("/api/model", UriKind.Relative), new { name = "weak" });
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            var error = await ErrorOf(refused);
            Assert.Contains("Model 'weak' is not fit for air: on its validation split (80 performances) it loses to the baselines: "
                + "MSE 17.20 against ridge-mean's 10.00; ρ 0.686 against ridge-mean's 0.724", error, StringComparison.Ordinal);
            Assert.Contains("--allow-below-baseline", error, StringComparison.Ordinal);
            Assert.Equal("small-1", server.Models.InUse[Scoring.Data.ScoreTarget.TES].Card.ModelId);   // still the model in use
        }
        await using (var server = await LiveServer.StartAsync(modelsDirectory: dir.Path, allowBelowBaseline: true))
        {
            using var op = Client(server, LiveServer.OperatorKey);
            Assert.Equal(HttpStatusCode.OK, (await op.PutAsJsonAsync(new Uri("/api/model", UriKind.Relative), new { name = "weak" })).StatusCode);
            Assert.Equal("weak-model", server.Models.InUse[Scoring.Data.ScoreTarget.TES].Card.ModelId);
        }
    }
}
