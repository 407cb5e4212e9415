using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using AqaStream.Server.Delivery;
using Xunit;

namespace AqaStream.Server.Tests;

/// <summary>Judges' and operators' data cannot be corrupted by a request: every bad body is refused with a problem-details
/// JSON body that says what was wrong, and nothing is stored.</summary>
public sealed class ApiValidationTests
{
    private static HttpClient Client(LiveServer server, string? token) => server.Client(token);

    private static Task<HttpResponseMessage> Post(HttpClient http, string path, string body, string? contentType = "application/json")
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        if (contentType is not null) { content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType); }
        return http.PostAsync(new Uri(path, UriKind.Relative), content);
    }

    /// <summary>The response is a problem-details body for <paramref name="status"/>; returns its detail.</summary>
    private static async Task<string> Problem(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var root = JsonDocument.Parse(text).RootElement;
        Assert.Equal((int)status, root.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("title").GetString()));
        var detail = root.GetProperty("detail").GetString()!;
        Assert.Equal(detail, root.GetProperty("error").GetString());
        return detail;
    }

    private static async Task<LiveServer> WithOnePerformance()
    {
        var server = await LiveServer.StartAsync();
        await server.StartedAsync("p1", "Ana Lee");
        await server.ClipAsync("p1", 0, 1, 50, 50);
        await server.UntilAsync(b => b.Snapshot("p1", ViewerRole.Judge)?.Clips.Count == 1, "one clip");
        return server;
    }

    [Theory]
    [InlineData("{}", "score")]
    [InlineData("{\"scor\": 55}", "scor")]
    [InlineData("{\"score\": 55, \"extra\": 1}", "extra")]
    [InlineData("{\"score\": \"55\"}", "score")]
    [InlineData("{\"score\": NaN}", "malformed")]
    [InlineData("{\"score\": null}", "score")]
    [InlineData("{\"score\": -1}", "from 0 to 1000")]
    [InlineData("{\"score\": 1e308}", "from 0 to 1000")]
    [InlineData("{\"score\": 55", "malformed")]
    [InlineData("null", "null")]
    [InlineData("[55]", "malformed")]
    public async Task PanelScore_BadBody_400SaysWhatWasWrong_NothingStored(string body, string mentioned)
    {
        await using var server = await WithOnePerformance();
        using var http = Client(server, LiveServer.JudgeKey);
        var detail = await Problem(await Post(http, "/api/performances/p1/panel-score", body), HttpStatusCode.BadRequest);
        Assert.Contains(mentioned, detail, StringComparison.OrdinalIgnoreCase);
        Assert.Null(server.Board.Snapshot("p1", ViewerRole.Judge)!.Panel);
    }

    [Fact]
    public async Task PanelScore_ValidBody_IsStored()
    {
        await using var server = await WithOnePerformance();
        using var http = Client(server, LiveServer.JudgeKey);
        var r = await Post(http, "/api/performances/p1/panel-score", "{\"score\": 87.25}");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal(87.25, server.Board.Snapshot("p1", ViewerRole.Judge)!.Panel!.Score);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    public async Task PanelScore_NotJson_415(string? contentType)
    {
        await using var server = await WithOnePerformance();
        using var http = Client(server, LiveServer.JudgeKey);
        var detail = await Problem(await Post(http, "/api/performances/p1/panel-score", "{\"score\": 50}", contentType), HttpStatusCode.UnsupportedMediaType);
        Assert.Contains("application/json", detail, StringComparison.Ordinal);
        Assert.Null(server.Board.Snapshot("p1", ViewerRole.Judge)!.Panel);
    }

    [Fact]
    public async Task OversizedBody_413_EvenAt20MB()
    {
        await using var server = await WithOnePerformance();
        using var http = Client(server, LiveServer.JudgeKey);
        // Expect: 100-continue, as curl sends for large bodies: the refusal comes before the body is sent (without it the
        // server still answers 413, but closes the socket while this client is writing).
        http.DefaultRequestHeaders.ExpectContinue = true;
        var padding = new string(' ', 20 * 1024 * 1024);
        var detail = await Problem(await Post(http, "/api/performances/p1/panel-score", "{\"score\": 50" + padding + "}"), HttpStatusCode.RequestEntityTooLarge);
        Assert.Contains("1048576 bytes", detail, StringComparison.Ordinal);
        Assert.Null(server.Board.Snapshot("p1", ViewerRole.Judge)!.Panel);
    }

    [Fact]
    public async Task StartPerformance_IdThatExists_409_AndTheFinishedOneIsUntouched()
    {
        await using var server = await WithOnePerformance();
        await server.FinalAsync("p1", 1, 50);
        await server.UntilAsync(b => b.Snapshot("p1", ViewerRole.Operator)?.Status == PerformanceView.Ended, "final");
        using var http = Client(server, LiveServer.OperatorKey);
        var detail = await Problem(await Post(http, "/api/performances", "{\"performanceId\": \"p1\", \"athlete\": \"Somebody Else\"}"), HttpStatusCode.Conflict);
        Assert.Contains("already exists", detail, StringComparison.Ordinal);
        var view = server.Board.Snapshot("p1", ViewerRole.Operator)!;
        Assert.Equal("Ana Lee", view.Athlete);
        Assert.True(view.StartedAtMs <= view.EndedAtMs);
        // A second start of an id this host just started (not on the board yet) is refused too.
        var first = await Post(http, "/api/performances", "{\"performanceId\": \"p2\", \"athlete\": \"Bo Berg\"}");
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        await Problem(await Post(http, "/api/performances", "{\"performanceId\": \"p2\", \"athlete\": \"Bo Berg\"}"), HttpStatusCode.Conflict);
        // Ending a performance that has ended is a conflict as well.
        await Problem(await http.PostAsync(new Uri("/api/performances/p1/end", UriKind.Relative), null), HttpStatusCode.Conflict);
    }

    [Theory]
    [InlineData("{\"performanceId\": \"p9\"}", "athlete")]
    [InlineData("{\"performanceId\": \"\", \"athlete\": \"A\"}", "performanceId")]
    [InlineData("{\"performanceId\": \"p9\", \"athlete\": \"A\", \"target\": \"XYZ\"}", "malformed")]
    [InlineData("{\"performanceId\": \"p9\", \"athlete\": \"A\", \"atlete\": \"B\"}", "atlete")]
    [InlineData("{\"performanceId\": \"p9\", \"athlete\": \"A\\u0007\"}", "control characters")]
    public async Task StartPerformance_BadBody_400(string body, string mentioned)
    {
        await using var server = await WithOnePerformance();
        using var http = Client(server, LiveServer.OperatorKey);
        var detail = await Problem(await Post(http, "/api/performances", body), HttpStatusCode.BadRequest);
        Assert.Contains(mentioned, detail, StringComparison.OrdinalIgnoreCase);
        Assert.Null(server.Board.Snapshot("p9", ViewerRole.Operator));
    }

    [Fact]
    public async Task SelectModel_BadBody_400()
    {
        await using var server = await WithOnePerformance();
        using var http = Client(server, LiveServer.OperatorKey);
        using var put = new ByteArrayContent(Encoding.UTF8.GetBytes("{\"nam\": \"x\"}"));
        put.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var detail = await Problem(await http.PutAsync(new Uri("/api/model", UriKind.Relative), put), HttpStatusCode.BadRequest);
        Assert.Contains("nam", detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Basic dXNlcjpwYXNz", "Basic")]
    [InlineData("judge-key-1", "judge-key-1")]
    [InlineData("Token abc", "Token")]
    public async Task AuthorizationHeaderThatIsNotBearer_401_NeverAnonymous(string header, string scheme)
    {
        await using var server = await LiveServer.StartAsync(anonymousResults: true);
        using var http = new HttpClient { BaseAddress = server.Url };
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/api/performances", UriKind.Relative));
        request.Headers.TryAddWithoutValidation("Authorization", header);
        var detail = await Problem(await http.SendAsync(request), HttpStatusCode.Unauthorized);
        Assert.Contains($"'{scheme}", detail, StringComparison.Ordinal);
        Assert.Contains("Bearer TOKEN", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryErrorStatus_HasAJsonBody()
    {
        await using var server = await WithOnePerformance();
        using var judge = Client(server, LiveServer.JudgeKey);
        using var anonymous = Client(server, null);
        await Problem(await anonymous.GetAsync(new Uri("/api/performances", UriKind.Relative)), HttpStatusCode.Unauthorized);
        await Problem(await judge.PostAsync(new Uri("/api/performances/p1/end", UriKind.Relative), null), HttpStatusCode.Forbidden);
        await Problem(await judge.GetAsync(new Uri("/api/performances/nobody", UriKind.Relative)), HttpStatusCode.NotFound);
        await Problem(await judge.GetAsync(new Uri("/api/no-such-route", UriKind.Relative)), HttpStatusCode.NotFound);
        await Problem(await judge.DeleteAsync(new Uri("/api/performances/p1", UriKind.Relative)), HttpStatusCode.MethodNotAllowed);
        await Problem(await Post(judge, "/api/performances/nobody/panel-score", "{\"score\": 1}"), HttpStatusCode.NotFound);
    }
}
