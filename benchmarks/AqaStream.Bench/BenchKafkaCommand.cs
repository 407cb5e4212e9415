using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Reactive.Concurrency;
using AqaStream.Cli;
using AqaStream.Cli.Commands;
using AqaStream.Kafka;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Data;

namespace AqaStream.Bench;

/// <summary>
/// <c>./bench kafka</c>: scorer throughput fed from Kafka vs fed from the in-memory bus, same input, same run. The
/// input (performances x clips of features) is on the topic before the scorer starts; the clock runs from the scorer's
/// start until every final score is on the result topic.
/// </summary>
internal static class BenchKafkaCommand
{
    public static Command Create()
    {
        var performances = new Option<int>("--performances") { Description = "Performances (interleaved, as live).", DefaultValueFactory = _ => 64 };
        var clips = new Option<int>("--clips") { Description = "Clips per performance.", DefaultValueFactory = _ => 60 };
        var lanes = new Option<int>("--lanes") { Description = "Scoring threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var repeats = new Option<int>("--repeats") { Description = "Alternating rounds (memory, kafka, memory, ...); the median is reported.", DefaultValueFactory = _ => 3 };
        var checkpoint = new Option<FileInfo>("--checkpoint") { Description = "The model.", DefaultValueFactory = _ => new FileInfo(RepositoryLayout.SynthDemoModel) };
        var bootstrap = new Option<string?>("--bootstrap") { Description = "Brokers (default: a 3-broker mock cluster in this process)." };
        var cmd = new Command("kafka", "Scorer throughput (clip features/s, live performances per process) fed from Kafka vs from the in-memory bus, same run.")
        {
            performances, clips, lanes, repeats, checkpoint, bootstrap,
        };
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            if (r.GetValue(performances) < 1 || r.GetValue(clips) < 1 || r.GetValue(lanes) < 1) { throw new ArgumentException("--performances, --clips and --lanes must be at least 1."); }
            EngineOptions.SetThreads(1);
            var model = ScoringModel.Load(CommonOptions.ExistingFile(r.GetValue(checkpoint)!, "checkpoint"));
            if (r.GetValue(clips) > model.Scorer.MaxClips) { throw new ArgumentException($"--clips is over the model's {model.Scorer.MaxClips}."); }
            return RunAsync(model, r.GetValue(performances), r.GetValue(clips), r.GetValue(lanes), Math.Max(1, r.GetValue(repeats)), r.GetValue(bootstrap)).GetAwaiter().GetResult();
        }));
        return cmd;
    }

    private static async Task<int> RunAsync(ScoringModel model, int performances, int clips, int lanes, int repeats, string? bootstrap)
    {
        var inv = CultureInfo.InvariantCulture;
        // Each Kafka round on a fresh mock cluster (unless --bootstrap): both buses start empty, and no round reads back
        // or skips what an earlier round left on the topics.
        KafkaMockCluster? cluster = null;
        KafkaBusOptions Fresh()
        {
            cluster?.Dispose();
            if (bootstrap is null)
            {
                cluster = new KafkaMockCluster(3);
                foreach (var t in Topics.All) { cluster.CreateTopic(t, 8); }
            }
            return new KafkaBusOptions { BootstrapServers = bootstrap ?? cluster!.BootstrapServers, Settings = new Dictionary<string, string> { ["log_level"] = "2" } };
        }
        var models = new Dictionary<ScoreTarget, ScoringModel> { [model.Card.Target] = model };
        Console.Error.WriteLine($"bench kafka: {performances} performances x {clips} clips, {lanes} lanes, model {model.Card.ModelId}, {repeats} rounds each, on {bootstrap ?? "a fresh 3-broker mock cluster per round"}");
        var memory = new List<double>();
        var kafka = new List<double>();
        var memoryStart = new List<double>();
        var kafkaStart = new List<double>();
        for (var round = 0; round < repeats; round++)
        {
            var input = Input(model, $"bench-{round}-{Guid.NewGuid():N}"[..20], performances, clips);
            memory.Add(await MeasureAsync(new InMemoryBus(capacity: 1 << 20), models, lanes, input, performances, memoryStart).ConfigureAwait(false));
            kafka.Add(await MeasureAsync(await KafkaBus.ConnectAsync(Fresh()).ConfigureAwait(false), models, lanes, input, performances, kafkaStart).ConfigureAwait(false));
            Console.Error.WriteLine(string.Create(inv, $"  round {round + 1}: memory {memory[^1]:F2} s (first result {memoryStart[^1]:F2} s), kafka {kafka[^1]:F2} s (first result {kafkaStart[^1]:F2} s)"));
        }
        cluster?.Dispose();
        var total = performances * clips;
        var (m, k) = (Median(memory), Median(kafka));
        var (ms, ks) = (Median(memoryStart), Median(kafkaStart));
        var perLive = 1 / LivePipelineOptions.ClipSeconds;
        Console.WriteLine(string.Create(inv, $"{"bus",-8}{"seconds",10}{"to 1st result",15}{"clips/s",10}{"live perfs",12}{"clips/s after 1st",19}{"live perfs",12}"));
        foreach (var (name, all, start) in new[] { ("memory", m, ms), ("kafka", k, ks) })
        {
            var steady = total / Math.Max(1e-9, all - start);
            Console.WriteLine(string.Create(inv, $"{name,-8}{all,10:F2}{start,15:F2}{total / all,10:F0}{total / all / perLive,12:F0}{steady,19:F0}{steady / perLive,12:F0}"));
        }
        Console.WriteLine(string.Create(inv, $"kafka / memory throughput: {m / k:F2} overall, {(m - ms) / (k - ks):F2} after the first result "
            + $"(joining the group and taking the partitions over); a live performance = one clip every {LivePipelineOptions.ClipSeconds} s"));
        return 0;
    }

    private static List<PerformanceMessage> Input(ScoringModel model, string prefix, int performances, int clips)
    {
        var rng = new Random(5);
        var dim = model.Scorer.FeatureDim;
        var ids = Enumerable.Range(0, performances).Select(i => $"{prefix}-{i}").ToArray();
        var now = DateTimeOffset.UtcNow;
        var list = ids.Select(id => (PerformanceMessage)new PerformanceStarted(id, id, "synthetic", "free-skating", model.Card.Target, now)).ToList();
        for (var c = 0; c < clips; c++)
        {
            list.AddRange(ids.Select(id => new ClipFeatures(id, c, c * 1.28, (c + 1) * 1.28, Enumerable.Range(0, dim).Select(_ => (float)rng.NextDouble()).ToArray())));
        }
        list.AddRange(ids.Select(id => new PerformanceEnded(id, now, clips)));
        return list;
    }

    /// <summary>Seconds from the scorer's start to the last final; <paramref name="startup"/> gets the seconds to the first
    /// result (joining the group, taking partitions over).</summary>
    private static async Task<double> MeasureAsync(IMessageBus bus, Dictionary<ScoreTarget, ScoringModel> models, int lanes, List<PerformanceMessage> input, int performances,
        List<double> startup)
    {
        await using var owned = bus;
        var group = "bench-" + Guid.NewGuid().ToString("N");
        using var results = bus.Subscribe(Topics.ClipScored, group);
        var producer = bus.Producer(Topics.ClipFeatures);
        foreach (var m in input) { await producer.ProduceAsync(m.PerformanceId, m).ConfigureAwait(false); }
        if (bus is KafkaBus k) { k.Flush(); }
        var prefix = input[0].PerformanceId[..^2];
        using var stop = new CancellationTokenSource();
        var scorer = new LiveScoringService(bus, models, new LivePipelineOptions { Lanes = lanes, IdleTimeout = TimeSpan.FromMinutes(10) }, Scheduler.Default) { Group = group };
        var watch = Stopwatch.StartNew();
        var running = scorer.RunAsync(stop.Token);
        var finals = 0;
        double? first = null;
        await foreach (var r in results.ConsumeAsync(stop.Token).ConfigureAwait(false))
        {
            first ??= watch.Elapsed.TotalSeconds;
            if (r.Value.Final && r.Key.StartsWith(prefix, StringComparison.Ordinal) && ++finals == performances) { break; }
        }
        var seconds = watch.Elapsed.TotalSeconds;
        startup.Add(first ?? seconds);
        await stop.CancelAsync().ConfigureAwait(false);
        try { await running.ConfigureAwait(false); } catch (OperationCanceledException) { }
        return seconds;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
