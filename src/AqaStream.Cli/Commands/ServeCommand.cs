using System.CommandLine;
using System.Globalization;
using System.Reactive.Concurrency;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using AqaStream.Media.Decoding;
using AqaStream.Media.Features;
using AqaStream.Media.Ingest;
using AqaStream.Media.Windowing;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Live;
using AqaStream.Numerics;
using AqaStream.Server;
using AqaStream.Server.Auth;
using AqaStream.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AqaStream.Cli.Commands;

/// <summary>
/// <c>aqa serve</c>: the pipeline's boxes on a shared bus (Kafka in deployment): <c>ingest</c> (video chunks to clip
/// features), <c>scorer</c> (clip features to clip scores and provisional scores) and <c>web</c> (SignalR hub, overlay,
/// tablet, REST). Run several processes with <c>--roles scorer</c> to share the partitions; a process that dies is
/// replaced by another that carries on where it stopped.
/// </summary>
internal static class ServeCommand
{
    private static readonly string[] AllRoles = ["ingest", "scorer", "web"];

    public static Command Create()
    {
        var kafka = new KafkaCli(defaultBus: "kafka");
        var roles = new Option<string>("--roles") { Description = "Comma-separated: ingest, scorer, web (default: all three).", DefaultValueFactory = _ => string.Join(',', AllRoles) };
        var port = new Option<int>("--port") { Description = "web: HTTP port (0 = any free port).", DefaultValueFactory = _ => DemoCommand.DefaultPort };
        var host = new Option<string>("--host") { Description = "web: address to listen on.", DefaultValueFactory = _ => "127.0.0.1" };
        var checkpoint = new Option<FileInfo>("--checkpoint") { Description = "scorer/web: the model that scores.", DefaultValueFactory = _ => new FileInfo(RepositoryLayout.SynthDemoModel) };
        var lanes = new Option<int>("--lanes") { Description = "scorer: scoring threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var group = new Option<string?>("--group") { Description = "scorer/ingest: consumer group (default aqa-scorer / aqa-ingest); processes in one group share the partitions." };
        var fps = new Option<int>("--fps") { Description = "ingest: frames per second of the venue video.", DefaultValueFactory = _ => new ClipWindowOptions().FramesPerSecond };
        var cmd = new Command("serve", "Run pipeline boxes on a bus (Kafka by default): ingest, scorer and/or web. Prints 'ready' when consuming; "
            + "stops cleanly on Ctrl+C / SIGTERM (commits what it finished).")
        {
            roles, port, host, checkpoint, lanes, fps, group,
        };
        kafka.AddTo(cmd);
        var engine = new EngineOptions().AddTo(cmd, live: true);
        cmd.SetAction((r, ct) => Task.FromResult(AqaApp.Guarded(() =>
        {
            var batch = engine.Window(r);
            CommonOptions.ParseEngine(r.GetValue(engine.Engine));
            var chosen = (r.GetValue(roles) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var unknown = chosen.Except(AllRoles, StringComparer.Ordinal).ToArray();
            if (chosen.Length == 0 || unknown.Length > 0) { throw new ArgumentException($"--roles takes ingest, scorer, web (got '{r.GetValue(roles)}')."); }
            if (r.GetValue(lanes) < 1) { throw new ArgumentException("--lanes must be at least 1."); }
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
            using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            var settings = new ServeSettings(CommonOptions.ExistingFile(r.GetValue(checkpoint)!, "checkpoint"), r.GetValue(host)!, r.GetValue(port),
                r.GetValue(lanes), r.GetValue(fps), r.GetValue(group), m => engine.Apply(r, m), batch);
            return RunAsync(r, kafka, chosen.ToHashSet(StringComparer.Ordinal), settings, stop.Token).GetAwaiter().GetResult();
        })));
        return cmd;
    }

    private sealed record ServeSettings(string Checkpoint, string Host, int Port, int Lanes, int Fps, string? Group,
        Func<ScoringModel, ScoringModel> Prepare, BatchWindow? Batch);

    private static async Task<int> RunAsync(ParseResult r, KafkaCli kafka, HashSet<string> roles, ServeSettings s, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        static void Log(string line) { Console.Error.WriteLine(line); }
        Parallelism.Threads = 1; // lanes are the parallelism
        var configuration = kafka.Configuration(r);
        var extractor = new MotionAppearanceDescriptor();
        var checkpoint = s.Checkpoint;
        EngineOptions.SetThreads(1);
        var model = roles.Contains("scorer") || roles.Contains("web") ? s.Prepare(ScoringModel.Load(checkpoint)) : null;
        if (roles.Contains("ingest")) { Ffmpeg.EnsureAvailable(); }
        await using var bus = await kafka.ConnectAsync(r, Log, cancellationToken).ConfigureAwait(false);
        var runs = new List<Task>();
        var counters = new List<Func<string>>();
        FfmpegChunkDecoder? decoder = null;
        WebApplication? app = null;
        try
        {
            if (roles.Contains("ingest"))
            {
                decoder = new FfmpegChunkDecoder(extractor.InputSize);
                var window = new ClipWindowOptions { FramesPerSecond = s.Fps };
                var ingest = new VideoIngestService(bus, decoder, extractor, window, Scheduler.Default) { Group = s.Group ?? VideoIngestService.ConsumerGroup };
                runs.Add(ingest.RunAsync(cancellationToken));
                counters.Add(() => $"ingest: {ingest.Counters}; {ingest.Resume}");
            }
            ModelRegistry? models = null;
            if (model is not null)
            {
                models = new ModelRegistry(Path.GetDirectoryName(checkpoint)!, extractor.Dimension,
                    new Dictionary<string, ScoringModel> { [Path.GetFileNameWithoutExtension(checkpoint)] = model }, s.Prepare);
            }
            if (roles.Contains("scorer"))
            {
                var scorer = new LiveScoringService(bus, models!.InUse, new LivePipelineOptions { Lanes = s.Lanes, Batch = s.Batch }, Scheduler.Default)
                {
                    Group = s.Group ?? LiveScoringService.ConsumerGroup,
                };
                runs.Add(scorer.RunAsync(cancellationToken));
                counters.Add(() => $"scorer: {scorer.Counters}; {scorer.Resume}");
            }
            if (roles.Contains("web"))
            {
                var settings = configuration.AsEnumerable().Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value);
                settings["Delivery:ConsumerGroup"] = configuration["Delivery:ConsumerGroup"]
                    ?? string.Create(inv, $"aqa-delivery-{Environment.MachineName}-{Environment.ProcessId}");
                var madeKey = configuration["Auth:SigningKey"] is not { Length: > 0 };
                if (madeKey) { settings["Auth:SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48)); }
                app = AqaServer.Build(string.Create(inv, $"http://{s.Host}:{s.Port}"), bus, models!, settings);
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
                var origin = app.BoundUrl().GetLeftPart(UriPartial.Authority);
                Console.WriteLine($"web: {origin}/overlay  {origin}/tablet  {origin}/api/performances  (hub {origin}{AqaEndpoints.HubPath})");
                if (madeKey)
                {
                    var tokens = app.Services.GetRequiredService<TokenService>();
                    Console.WriteLine("web: no Auth:SigningKey configured; tokens for this run only:");
                    Console.WriteLine($"  judge token:    {tokens.Issue("judge", AqaRoles.Judge, TimeSpan.FromHours(12))}");
                    Console.WriteLine($"  operator token: {tokens.Issue("operator", AqaRoles.Operator, TimeSpan.FromHours(12))}");
                }
            }
            Console.WriteLine($"ready: {string.Join(", ", roles.Order(StringComparer.Ordinal))} on {(kafka.IsKafka(r) ? "kafka" : "the in-memory bus")}");
            Console.Out.Flush();
            var all = Task.WhenAll(runs);
            await Task.WhenAny(all, Task.Delay(Timeout.Infinite, cancellationToken)).ConfigureAwait(false);
            if (all.IsFaulted) { await all.ConfigureAwait(false); }
            if (cancellationToken.IsCancellationRequested) { Console.Error.WriteLine("stopping…"); }
            await Quietly(all).ConfigureAwait(false);
        }
        finally
        {
            if (app is not null)
            {
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
            }
            decoder?.Dispose();
        }
        foreach (var c in counters) { Console.Error.WriteLine(c()); }
        return 0;
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }
}
