using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using AqaStream.Cli.Hosting;
using AqaStream.Media.Decoding;
using AqaStream.Media.Synthetic;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Live;
using AqaStream.Server;
using Microsoft.Extensions.DependencyInjection;

namespace AqaStream.Cli.Commands;

/// <summary>
/// <c>aqa demo</c>: the whole system in one process — the synthetic venue encoder streaming athlete after athlete in
/// real time, the in-memory bus, ffmpeg decoding, features, the shipped synthetic model, the SignalR hub and the
/// overlay and tablet pages — until stopped (Ctrl+C).
/// </summary>
internal static class DemoCommand
{
    /// <summary>Port unless told otherwise.</summary>
    public const int DefaultPort = 5080;

    /// <summary>Pause between two athletes.</summary>
    private static readonly TimeSpan BetweenPerformances = TimeSpan.FromSeconds(3);

    public static Command Create()
    {
        var port = new Option<int>("--port") { Description = "HTTP port on 127.0.0.1 (0 = any free port).", DefaultValueFactory = _ => DefaultPort };
        var host = new Option<string>("--host") { Description = "Address to listen on (0.0.0.0 to reach it from tablets on the venue network).", DefaultValueFactory = _ => "127.0.0.1" };
        var checkpoint = new Option<FileInfo>("--checkpoint") { Description = "The model that scores.", DefaultValueFactory = _ => new FileInfo(RepositoryLayout.SynthDemoModel) };
        var size = new Option<string>("--size") { Description = "Picture size of the synthetic venue camera.", DefaultValueFactory = _ => new VenueEncoderOptions().Size.ToString() };
        var seed = new Option<int>("--seed") { Description = "Seed of the first athlete (then SEED+1, ...).", DefaultValueFactory = _ => 1 };
        var count = new Option<int>("--count") { Description = "Athletes to perform before stopping (0 = until Ctrl+C).", DefaultValueFactory = _ => 0 };
        var allowBelow = CommonOptions.AllowBelowBaseline();
        var speed = new Option<double>("--speed") { Description = "1 = real time; 2 = twice as fast.", DefaultValueFactory = _ => 1 };
        var cmd = new Command("demo", "Run everything in one process: a synthetic venue streaming in real time, ingest, scorer, SignalR hub, "
            + "the broadcast overlay and the judge tablet. Prints the URLs and the judge and operator tokens; public results need no token.")
        {
            port, host, checkpoint, size, seed, count, speed, allowBelow,
        };
        var engine = new EngineOptions().AddTo(cmd, live: true);
        cmd.SetAction((r, ct) => Task.FromResult(AqaApp.Guarded(() =>
        {
            var batch = engine.Window(r);
            Ffmpeg.EnsureAvailable();
            var speedValue = r.GetValue(speed);
            if (!(speedValue > 0)) { throw new ArgumentException("--speed must be positive (1 = real time)."); }
            var options = new VenueEncoderOptions { Size = FrameSize.Parse(r.GetValue(size)!) };
            var path = CommonOptions.ExistingFile(r.GetValue(checkpoint)!, "checkpoint");
            return RunAsync(options, path, r.GetValue(host)!, r.GetValue(port), r.GetValue(seed), r.GetValue(count), speedValue, m => engine.Apply(r, m), batch, r.GetValue(allowBelow), ct)
                .GetAwaiter().GetResult();
        })));
        return cmd;
    }

    private static async Task<int> RunAsync(VenueEncoderOptions encoderOptions, string checkpoint, string host, int port, int seed, int count, double speed,
        Func<ScoringModel, ScoringModel> prepare, BatchWindow? batch, bool allowBelowBaseline, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        EngineOptions.SetThreads(1); // the lanes are the parallelism
        var model = prepare(CommonOptions.FitForAir(ScoringModel.Load(checkpoint), checkpoint, allowBelowBaseline));
        await using var bus = new InMemoryBus();
        await using var system = AqaHost.Build(new AqaHostOptions
        {
            Boxes = AqaBoxes.Ingest | AqaBoxes.Scorer | AqaBoxes.Web,
            Model = model,
            Checkpoint = checkpoint,
            Prepare = prepare,
            AllowBelowBaseline = allowBelowBaseline,
            Pipeline = new LivePipelineOptions { Batch = batch },
            FramesPerSecond = encoderOptions.FramesPerSecond,
            Url = string.Create(inv, $"http://{host}:{port}"),
            // A fresh signing key per run: the printed tokens are good for this run only.
            Settings = new Dictionary<string, string?> { ["Auth:SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48)), ["Auth:AnonymousResults"] = "true" },
        }, bus);
        await system.StartAsync(cancellationToken).ConfigureAwait(false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, system.Stopping);   // Ctrl+C / SIGTERM through the host
        var url = system.Web!.BoundUrl();
        var (overlayToken, judge, op) = system.RunTokens("demo");
        var origin = url.GetLeftPart(UriPartial.Authority);
        Console.WriteLine($"AqaStream demo: model {model.Card.ModelId} ({model.Version}), synthetic venue at {encoderOptions.Size}, {speed.ToString(inv)}× real time");
        Console.WriteLine($"  overlay:   {origin}/overlay   (score bug; a browser source or CasparCG template)");
        Console.WriteLine($"  standings: {origin}/standings");
        Console.WriteLine($"  tablet:    {origin}/tablet   (sign in with the judge token)");
        Console.WriteLine($"  results:   {origin}/api/performances   (open; hub at {origin}{AqaEndpoints.HubPath})");
        Console.WriteLine($"  overlay token:  {overlayToken}   (for /overlay?token=... where results are not public)");
        Console.WriteLine($"  judge token:    {judge}");
        Console.WriteLine($"  operator token: {op}");
        Console.WriteLine("Press Ctrl+C to stop.");
        Console.Out.Flush();

        var venue = new VenueStream(new SyntheticEncoder(encoderOptions), TimeProvider.System, speed);
        var producer = bus.Producer(Topics.VideoChunks);
        var board = system.Services.GetRequiredService<Server.Delivery.PerformanceBoard>();
        try
        {
            for (var i = 0; count == 0 || i < count; i++)
            {
                var program = SyntheticProgram.Generate(seed + i);
                Console.WriteLine(string.Create(inv, $"{program.PerformanceId}: {program.Athlete} takes the ice ({program.DurationSeconds:F0} s)"));
                await venue.PublishAsync(producer, program, stop.Token).ConfigureAwait(false);
                await Task.Delay(BetweenPerformances, stop.Token).ConfigureAwait(false);
                var final = board.Snapshot(program.PerformanceId, Server.Delivery.ViewerRole.Public)?.Provisional;
                // The synthetic panel's score, entered through the REST API with the judge's token as a judge would
                // on the tablet: the tablet then shows model against panel.
                var panel = Math.Round(program.JudgesScore(encoderOptions.FramesPerSecond), 2);
                var entered = await EnterPanelScoreAsync(url, judge, program.PerformanceId, panel, stop.Token).ConfigureAwait(false);
                Console.WriteLine(string.Create(inv, $"{program.PerformanceId}: model {(final is null ? "–" : final.Total.ToString("F2", inv))}{(final?.Final == true ? " (final)" : "")}, panel {panel:F2}{(entered is null ? "" : $" (not entered: {entered})")}"));
                Console.Out.Flush();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Console.WriteLine("stopping…");
        }
        await system.StopAsync().ConfigureAwait(false);
        Console.WriteLine($"ingest: {system.Ingest!.Counters}; scorer: {system.Scorer!.Counters}");
        return 0;
    }

    private static async Task<string?> EnterPanelScoreAsync(Uri server, string judgeToken, string performanceId, double score, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = server };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", judgeToken);
        using var body = new StringContent(string.Create(CultureInfo.InvariantCulture, $"{{\"score\": {score}}}"), System.Text.Encoding.UTF8, "application/json");
        try
        {
            using var response = await http.PostAsync(new Uri($"/api/performances/{Uri.EscapeDataString(performanceId)}/panel-score", UriKind.Relative), body, cancellationToken)
                .ConfigureAwait(false);
            return response.IsSuccessStatusCode ? null : $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false)}";
        }
        catch (HttpRequestException e)
        {
            return e.Message;
        }
    }
}
