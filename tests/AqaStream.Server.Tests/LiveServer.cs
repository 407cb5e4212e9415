using System.Net;
using System.Net.Sockets;
using AqaStream.Media.Thumbnails;
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
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace AqaStream.Server.Tests;

/// <summary>The real host (Kestrel on a loopback port) over an in-memory bus that the test feeds with what the scorer
/// would publish.</summary>
internal sealed class LiveServer : IAsyncDisposable
{
    public const string SigningKey = "test-signing-key-0123456789abcdef-0123456789";
    public const string OverlayKey = "overlay-key-1";
    public const string JudgeKey = "judge-key-1";
    public const string OperatorKey = "operator-key-1";
    public const int FeatureDim = 8;

    private LiveServer(InMemoryBus bus, WebApplication app, ModelRegistry models)
    {
        Bus = bus;
        App = app;
        Models = models;
        Url = app.BoundUrl();
    }

    public InMemoryBus Bus { get; }
    public WebApplication App { get; }
    public ModelRegistry Models { get; }
    public Uri Url { get; }
    public Uri Hub => new(Url, AqaEndpoints.HubPath);
    public PerformanceBoard Board => App.Services.GetRequiredService<PerformanceBoard>();
    public ScoreFanOut FanOut => App.Services.GetRequiredService<ScoreFanOut>();

    public static async Task<LiveServer> StartAsync(bool anonymousResults = false, int port = 0, int maxQueuedPushes = 64, string? modelsDirectory = null,
        bool withModel = true, TimeProvider? clock = null, bool allowBelowBaseline = false)
    {
        var bus = new InMemoryBus(capacity: 100_000);
        var models = new ModelRegistry(modelsDirectory ?? Path.GetTempPath(), FeatureDim,
            withModel ? new Dictionary<string, ScoringModel> { ["test-model"] = SmallModel() } : new Dictionary<string, ScoringModel>(),
            allowBelowBaseline: allowBelowBaseline);
        var app = AqaServer.Build($"http://127.0.0.1:{port}", bus, models, new Dictionary<string, string?>
        {
            ["Auth:SigningKey"] = SigningKey,
            ["Auth:AnonymousResults"] = anonymousResults ? "true" : "false",
            [$"Auth:ApiKeys:{OverlayKey}"] = AqaRoles.Overlay,
            [$"Auth:ApiKeys:{JudgeKey}"] = AqaRoles.Judge,
            [$"Auth:ApiKeys:{OperatorKey}"] = AqaRoles.Operator,
            ["Delivery:MaxQueuedPushes"] = maxQueuedPushes.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }, clock);
        await app.StartAsync();
        return new LiveServer(bus, app, models);
    }

    /// <summary>A small ridge-mean scorer with seeded coefficients (exact mode), and its card.</summary>
    public static ScoringModel SmallModel(int seed = 1)
    {
        var coefficients = new float[FeatureDim];
        Gaussian.Fill(coefficients, new Random(seed), 0f, 0.5f);
        return new ScoringModel(new MeanPooledRidge(coefficients, intercept: 20f, lengthCoefficient: 0f, maxClips: 64),
            new ModelCard { ModelId = $"small-{seed}", Architecture = new DecoderOptions { FeatureDim = FeatureDim, MaxQueries = 64 }, Target = ScoreTarget.TES },
            $"v{seed}", IncrementalMode.Exact);
    }

    /// <summary>A free loopback port (for restarting a server on the same address).</summary>
    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>An HTTP client of this server, with <paramref name="token"/> as the bearer token when given.</summary>
    public HttpClient Client(string? token)
    {
        var client = new HttpClient { BaseAddress = Url };
        if (token is not null) { client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token); }
        return client;
    }

    public string Jwt(string role, TimeSpan lifetime, DateTime? issuedAt = null) =>
        App.Services.GetRequiredService<TokenService>().Issue("tester", role, lifetime, issuedAt);

    public async Task StartedAsync(string id, string athlete, string? competition = "test-cup", string? nation = null) =>
        await Bus.Producer(Topics.PerformanceEvents).ProduceAsync(id, new PerformanceStarted(id, athlete, "singles", "free", ScoreTarget.TES,
            DateTimeOffset.UtcNow, competition, nation));

    /// <summary>Publishes clip <paramref name="k"/>'s score and the provisional after it, with a thumbnail.</summary>
    public async Task ClipAsync(string id, int k, double weight, double score, double total, DateTimeOffset? receivedAt = null, int attended = 2,
        IReadOnlyList<AttendedClip>? topAttended = null, double deduction = 0)
    {
        var frame = new byte[16 * 9];
        Array.Fill(frame, (byte)(40 + (k * 20 % 200)));
        await Bus.Producer(Topics.PerformanceEvents).ProduceAsync(id, new ClipThumbnail(id, k, GreyPng.Encode(frame, 16, 9)));
        var clip = new ClipScore(id, k, k * 1.28, (k + 1) * 1.28, weight, score, (weight * score) + deduction,
            topAttended ?? [.. Enumerable.Range(0, attended).Select(i => new AttendedClip(Math.Max(0, k - i), 0.6 / (i + 1)))], receivedAt, deduction);
        await Bus.Producer(Topics.ClipScored).ProduceAsync(id, new ClipScored(clip, new ProvisionalScore(id, k + 1, total, ScoreTarget.TES, "small-1", "v1",
            DateTimeOffset.UtcNow, [], ReceivedAt: receivedAt)));
    }

    /// <summary>Publishes a provisional alone (no new clip): clip <paramref name="missing"/> declared missing.</summary>
    public async Task MissingAsync(string id, int clipsSeen, IReadOnlyList<int> missing, double total) =>
        await Bus.Producer(Topics.ClipScored).ProduceAsync(id, new ClipScored(null, new ProvisionalScore(id, clipsSeen, total, ScoreTarget.TES, "small-1", "v1",
            DateTimeOffset.UtcNow, missing)));

    public async Task FinalAsync(string id, int clips, double total, IReadOnlyList<ClipContribution>? breakdown = null) =>
        await Bus.Producer(Topics.ClipScored).ProduceAsync(id, new ClipScored(null, new ProvisionalScore(id, clips, total, ScoreTarget.TES, "small-1", "v1",
            DateTimeOffset.UtcNow, [], Final: true, CloseReason: Pipeline.Contracts.CloseReason.Ended, Breakdown: breakdown)));

    /// <summary>Waits until the board satisfies <paramref name="condition"/> (the bridge reads the bus on its own tasks).</summary>
    public async Task UntilAsync(Func<PerformanceBoard, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!condition(Board))
        {
            if (DateTime.UtcNow > deadline) { throw new TimeoutException($"timed out waiting for: {what}"); }
            await Task.Delay(10);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        await Bus.DisposeAsync();
    }
}
