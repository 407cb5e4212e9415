using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using AqaStream.Cli.Hosting;
using AqaStream.Media.Decoding;
using AqaStream.Media.Windowing;
using AqaStream.Pipeline.Live;
using AqaStream.Server;
using Microsoft.Extensions.Configuration;

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
        var metricsPort = new Option<int?>("--metrics-port") { Description = "ingest/scorer without web: serve /metrics (Prometheus) and /health/live, /health/ready on this port of --host (0 = any free port; default: none). The web role serves them on --port." };
        var idle = new Option<double>("--idle-timeout-s")
        {
            Description = "scorer: seconds without a message before an open performance closes as idle (a final with reason IdleTimeout).",
            DefaultValueFactory = _ => new LivePipelineOptions().IdleTimeout.TotalSeconds,
        };
        var allowBelow = CommonOptions.AllowBelowBaseline();
        var fps = new Option<int>("--fps") { Description = "ingest: frames per second of the venue video.", DefaultValueFactory = _ => new ClipWindowOptions().FramesPerSecond };
        var cmd = new Command("serve", "Run pipeline boxes on a bus (Kafka by default): ingest, scorer and/or web. Prints 'ready' when consuming; "
            + "stops cleanly on Ctrl+C / SIGTERM (commits what it finished).")
        {
            roles, port, host, checkpoint, lanes, idle, fps, group, metricsPort, allowBelow,
        };
        kafka.AddTo(cmd);
        var engine = new EngineOptions().AddTo(cmd, live: true);
        cmd.SetAction((r, ct) => Task.FromResult(AqaApp.Guarded(() =>
        {
            var batch = engine.Window(r);
            var chosen = (r.GetValue(roles) ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var unknown = chosen.Except(AllRoles, StringComparer.Ordinal).ToArray();
            if (chosen.Length == 0 || unknown.Length > 0) { throw new ArgumentException($"--roles takes ingest, scorer, web (got '{r.GetValue(roles)}')."); }
            if (r.GetValue(lanes) < 1) { throw new ArgumentException("--lanes must be at least 1."); }
            if (r.GetValue(idle) is var idleSeconds && !(idleSeconds > 0 && idleSeconds <= 86_400))
            {
                throw new ArgumentException($"--idle-timeout-s must be more than 0 and at most 86400 (got {idleSeconds.ToString(CultureInfo.InvariantCulture)}).");
            }
            if (r.GetValue(metricsPort) is { } mp && (chosen.Contains("web") || mp is < 0 or > 65535))
            {
                throw new ArgumentException(chosen.Contains("web") ? "--metrics-port applies to roles without web; the web role serves /metrics and /health on --port."
                    : $"--metrics-port {mp} is not a port (0–65535).");
            }
            var settings = new ServeSettings(CommonOptions.ExistingFile(r.GetValue(checkpoint)!, "checkpoint"), r.GetValue(host)!, r.GetValue(port),
                r.GetValue(lanes), r.GetValue(fps), r.GetValue(group), m => engine.Apply(r, m), batch, r.GetValue(metricsPort),
                TimeSpan.FromSeconds(r.GetValue(idle)), r.GetValue(allowBelow));
            return RunAsync(r, kafka, chosen.ToHashSet(StringComparer.Ordinal), settings, ct).GetAwaiter().GetResult();
        })));
        return cmd;
    }

    private sealed record ServeSettings(string Checkpoint, string Host, int Port, int Lanes, int Fps, string? Group,
        Func<ScoringModel, ScoringModel> Prepare, BatchWindow? Batch, int? MetricsPort, TimeSpan IdleTimeout, bool AllowBelowBaseline);

    private static async Task<int> RunAsync(ParseResult r, KafkaCli kafka, HashSet<string> roles, ServeSettings s, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        EngineOptions.SetThreads(1);
        var boxes = (roles.Contains("ingest") ? AqaBoxes.Ingest : AqaBoxes.None) | (roles.Contains("scorer") ? AqaBoxes.Scorer : AqaBoxes.None)
            | (roles.Contains("web") ? AqaBoxes.Web : AqaBoxes.None);
        var model = (boxes & (AqaBoxes.Scorer | AqaBoxes.Web)) != 0 ? s.Prepare(CommonOptions.FitForAir(ScoringModel.Load(s.Checkpoint), s.Checkpoint, s.AllowBelowBaseline)) : null;
        if (boxes.HasFlag(AqaBoxes.Ingest)) { Ffmpeg.EnsureAvailable(); }
        var configuration = kafka.Configuration(r);
        var settings = configuration.AsEnumerable().Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value);
        settings["Delivery:ConsumerGroup"] = configuration["Delivery:ConsumerGroup"]
            ?? string.Create(inv, $"aqa-delivery-{Environment.MachineName}-{Environment.ProcessId}");
        var madeKey = boxes.HasFlag(AqaBoxes.Web) && configuration["Auth:SigningKey"] is not { Length: > 0 };
        if (madeKey) { settings["Auth:SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48)); }
        await using var bus = await kafka.ConnectAsync(r, cancellationToken).ConfigureAwait(false);
        await using var system = AqaHost.Build(new AqaHostOptions
        {
            Boxes = boxes,
            Model = model,
            Checkpoint = s.Checkpoint,
            Prepare = s.Prepare,
            AllowBelowBaseline = s.AllowBelowBaseline,
            Pipeline = new LivePipelineOptions { Lanes = s.Lanes, Batch = s.Batch, IdleTimeout = s.IdleTimeout },
            FramesPerSecond = s.Fps,
            Group = s.Group,
            Url = string.Create(inv, $"http://{s.Host}:{s.Port}"),
            MetricsUrl = boxes.HasFlag(AqaBoxes.Web) || s.MetricsPort is not { } mp ? null : string.Create(inv, $"http://{s.Host}:{mp}"),
            Settings = settings,
        }, bus);
        await system.StartAsync(cancellationToken).ConfigureAwait(false);
        if (system.Web is { } web)
        {
            var origin = web.BoundUrl().GetLeftPart(UriPartial.Authority);
            Console.WriteLine($"web: {origin}/overlay  {origin}/tablet  {origin}/api/performances  (hub {origin}{AqaEndpoints.HubPath})");
            if (madeKey)
            {
                var (overlay, judge, op) = system.RunTokens("serve");
                Console.WriteLine("web: no Auth:SigningKey configured; tokens for this run only:");
                Console.WriteLine($"  overlay token:  {overlay}");
                Console.WriteLine($"  judge token:    {judge}");
                Console.WriteLine($"  operator token: {op}");
            }
        }
        if (system.Web is null && system.ObservabilityUrl is { } metrics)
        {
            var origin = metrics.GetLeftPart(UriPartial.Authority);
            Console.WriteLine($"metrics: {origin}/metrics  {origin}/health/ready");
        }
        Console.WriteLine($"ready: {string.Join(", ", roles.Order(StringComparer.Ordinal))} on {(kafka.IsKafka(r) ? "kafka" : "the in-memory bus")}");
        Console.Out.Flush();
        await system.RunUntilStoppedAsync().ConfigureAwait(false);   // SIGINT/SIGTERM through the host: boxes commit what they finished
        Console.Error.WriteLine("stopped.");
        if (system.Ingest is { } ingest) { Console.Error.WriteLine($"ingest: {ingest.Counters}; {ingest.Resume}"); }
        if (system.Scorer is { } scorer) { Console.Error.WriteLine($"scorer: {scorer.Counters}; {scorer.Resume}"); }
        return 0;
    }
}
