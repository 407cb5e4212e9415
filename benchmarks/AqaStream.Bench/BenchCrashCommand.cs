using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Reactive.Concurrency;
using System.Text.Json;
using AqaStream.Cli;
using AqaStream.Cli.Commands;
using AqaStream.Kafka;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Data;

namespace AqaStream.Bench;

/// <summary>
/// <c>./bench crash</c>: the crash soak. Each run streams clip features of a few performances into Kafka while a
/// scorer process (<c>aqa serve --roles scorer</c>) scores them; once a random number of the run's clip results is out the scorer is killed (SIGKILL) and
/// another started; optionally a broker goes down and comes back. The clip results and final scores read from the
/// result topic must equal an uninterrupted in-memory run of the same input: every clip once, none lost, none doubled.
/// </summary>
internal static class BenchCrashCommand
{
    public static Command Create()
    {
        var runs = new Option<int>("--runs") { Description = "Crash runs (one random kill each).", DefaultValueFactory = _ => 20 };
        var performances = new Option<int>("--performances") { Description = "Performances streamed per run (interleaved).", DefaultValueFactory = _ => 4 };
        var clips = new Option<int>("--clips") { Description = "Clips per performance.", DefaultValueFactory = _ => 40 };
        var interval = new Option<int>("--clip-interval-ms") { Description = "Pause between two rounds of clips (one clip of every performance).", DefaultValueFactory = _ => 40 };
        var checkpoint = new Option<FileInfo>("--checkpoint") { Description = "The model the scorer runs.", DefaultValueFactory = _ => new FileInfo(RepositoryLayout.SynthDemoModel) };
        var bounce = new Option<bool>("--broker-bounce") { Description = "Also take broker 2 down for 2 s in every run (own mock cluster only)." };
        var seed = new Option<int>("--seed") { Description = "Seed of the kill points and features.", DefaultValueFactory = _ => 1 };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the figures here." };
        var kafka = new KafkaCli(defaultBus: "kafka");
        kafka.Bootstrap.Description = "Brokers to use (default: a 3-broker mock cluster in this process, with the pipeline's topics).";
        var cmd = new Command("crash", "Crash soak: kill the scorer process at random points mid-performance and check that no clip result is lost or doubled "
            + "(results compared with an uninterrupted in-memory run).")
        {
            runs, performances, clips, interval, checkpoint, bounce, seed, json,
        };
        cmd.Options.Add(kafka.Bootstrap);
        cmd.Options.Add(kafka.Settings);
        var engine = new EngineOptions().AddTo(cmd, live: false);
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            if (r.GetValue(runs) < 1 || r.GetValue(performances) < 1 || r.GetValue(clips) < 1) { throw new ArgumentException("--runs, --performances and --clips must be at least 1."); }
            var settings = new Settings(r.GetValue(runs), r.GetValue(performances), r.GetValue(clips), r.GetValue(interval),
                CommonOptions.ExistingFile(r.GetValue(checkpoint)!, "checkpoint"), r.GetValue(bounce), r.GetValue(seed));
            var report = RunAsync(settings, kafka, engine, r).GetAwaiter().GetResult();
            if (r.GetValue(json) is { } file)
            {
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }) + "\n");
            }
            return report.Lost == 0 && report.Duplicated == 0 && report.Mismatched == 0 ? 0 : 3;
        }));
        return cmd;
    }

    private sealed record Settings(int Runs, int Performances, int Clips, int IntervalMs, string Checkpoint, bool Bounce, int Seed);

    /// <summary>The figures (also the --json file).</summary>
    public sealed record CrashReport(int Runs, int Kills, int Performances, int ClipResults, int Lost, int Duplicated, int Mismatched, int FinalsEqual,
        IReadOnlyList<RunReport> PerRun);

    /// <summary>One run.</summary>
    public sealed record RunReport(int Run, int KilledAfterRounds, int Rounds, int ClipResultsBeforeKill, int Lost, int Duplicated, int Mismatched, double Seconds);

    private static async Task<CrashReport> RunAsync(Settings s, KafkaCli kafka, EngineOptions engine, ParseResult r)
    {
        var inv = CultureInfo.InvariantCulture;
        EngineOptions.SetThreads(1);
        // The uninterrupted reference runs on the same device as the scorer processes, so results compare exactly.
        var model = engine.Apply(r, ScoringModel.Load(s.Checkpoint));
        if (s.Clips > model.Scorer.MaxClips) { throw new ArgumentException($"--clips {s.Clips} is over the model's {model.Scorer.MaxClips}."); }
        using var cluster = r.GetValue(kafka.Bootstrap) is { Length: > 0 } ? null : NewCluster();
        var configuration = kafka.Configuration(r);
        var options = KafkaCli.Options(configuration, null) with { BootstrapServers = cluster?.BootstrapServers ?? configuration["Kafka:BootstrapServers"]! };
        var childSettings = options.Settings.Select(kv => $"--kafka-setting {kv.Key}={kv.Value}").ToList();
        if (r.GetResult(engine.Device) is { Implicit: false }) { childSettings.Add($"--device {r.GetValue(engine.Device)}"); }
        await using var bus = await KafkaBus.ConnectAsync(options).ConfigureAwait(false);
        await using var results = new Results(bus);
        var tag = DateTime.UtcNow.ToString("HHmmssfff", inv);
        var rng = new Random(s.Seed);
        var perRun = new List<RunReport>();
        var models = new Dictionary<ScoreTarget, ScoringModel> { [model.Card.Target] = model };
        Console.Error.WriteLine($"bench crash: {s.Runs} runs x {s.Performances} performances x {s.Clips} clips on {options.BootstrapServers}{(s.Bounce ? ", broker 2 bounced every run" : "")}");
        Console.WriteLine(string.Create(inv, $"{"run",4}{"published",14}{"scored at kill",16}{"lost",6}{"doubled",9}{"differ",8}{"seconds",9}"));
        Scorer? scorer = null;
        var kills = 0;
        var finalsEqual = 0;
        try
        {
            scorer = Scorer.Start(options.BootstrapServers, s.Checkpoint, childSettings);
            await scorer.Ready.ConfigureAwait(false);
            for (var run = 1; run <= s.Runs; run++)
            {
                var watch = Stopwatch.StartNew();
                var prefix = $"soak-{tag}-{run:D2}";
                var messages = Input(model, prefix, s, rng);
                var expected = await ReferenceAsync(models, messages).ConfigureAwait(false);
                var rounds = s.Clips + 2;
                // Kill once a random number of this run's clip results is out: mid-performance, some published, more to come.
                var killAt = rng.Next(1, expected.Clips.Count);
                var publishing = PublishAsync(bus, messages, s);
                var waited = Stopwatch.StartNew();
                while (results.ClipsOf(prefix) < killAt && waited.Elapsed < TimeSpan.FromSeconds(60)) { await Task.Delay(2).ConfigureAwait(false); }
                scorer.Kill();
                kills++;
                var beforeKill = results.ClipsOf(prefix);
                var killAfter = publishing.Rounds;
                if (s.Bounce && cluster is not null)
                {
                    cluster.SetBrokerDown(2);
                    await Task.Delay(2000).ConfigureAwait(false);
                    cluster.SetBrokerUp(2);
                }
                scorer = Scorer.Start(options.BootstrapServers, s.Checkpoint, childSettings);
                await publishing.Done.ConfigureAwait(false);
                await results.WaitForFinalsAsync(expected.Finals.Keys, TimeSpan.FromSeconds(120)).ConfigureAwait(false);
                var (lost, duplicated, mismatched, equalFinals) = results.Compare(expected);
                finalsEqual += equalFinals;
                var report = new RunReport(run, killAfter, rounds, beforeKill, lost, duplicated, mismatched, watch.Elapsed.TotalSeconds);
                perRun.Add(report);
                Console.WriteLine(string.Create(inv, $"{run,4}{$"{killAfter}/{rounds} rounds",14}{$"{beforeKill}/{expected.Clips.Count}",16}{lost,6}{duplicated,9}{mismatched,8}{report.Seconds,9:F1}"));
            }
        }
        finally
        {
            scorer?.Stop();
        }
        var total = new CrashReport(s.Runs, kills, s.Runs * s.Performances, s.Runs * s.Performances * s.Clips,
            perRun.Sum(p => p.Lost), perRun.Sum(p => p.Duplicated), perRun.Sum(p => p.Mismatched), finalsEqual, perRun);
        Console.WriteLine(string.Create(inv,
            $"{total.Runs} runs, {total.Kills} scorer kills (SIGKILL): {total.ClipResults} clip results expected, {total.Lost} lost, {total.Duplicated} doubled, "
            + $"{total.Mismatched} differing; finals equal to the uninterrupted run: {total.FinalsEqual}/{total.Performances}"));
        return total;
    }

    private static KafkaMockCluster NewCluster()
    {
        var cluster = new KafkaMockCluster(3);
        foreach (var topic in Topics.All) { cluster.CreateTopic(topic, 4); }
        return cluster;
    }

    /// <summary>The run's input in publishing rounds: starts; one clip of every performance per round; ends.</summary>
    private static List<List<PerformanceMessage>> Input(ScoringModel model, string prefix, Settings s, Random rng)
    {
        var dim = model.Scorer.FeatureDim;
        var ids = Enumerable.Range(0, s.Performances).Select(i => $"{prefix}-p{i}").ToArray();
        var now = DateTimeOffset.UtcNow;
        var rounds = new List<List<PerformanceMessage>>
        {
            ids.Select(id => (PerformanceMessage)new PerformanceStarted(id, "Soak " + id, "synthetic", "free-skating", model.Card.Target, now)).ToList(),
        };
        for (var c = 0; c < s.Clips; c++)
        {
            rounds.Add(ids.Select(id => (PerformanceMessage)new ClipFeatures(id, c, c * LivePipelineOptions.ClipSeconds, (c + 1) * LivePipelineOptions.ClipSeconds,
                Enumerable.Range(0, dim).Select(_ => (float)rng.NextDouble()).ToArray())).ToList());
        }
        rounds.Add(ids.Select(id => (PerformanceMessage)new PerformanceEnded(id, now.AddSeconds(s.Clips * LivePipelineOptions.ClipSeconds), s.Clips)).ToList());
        return rounds;
    }

    private sealed record Expected(Dictionary<(string, int), ClipScore> Clips, Dictionary<string, ProvisionalScore> Finals);

    /// <summary>The same input through the scorer on the in-memory bus, uninterrupted.</summary>
    private static async Task<Expected> ReferenceAsync(Dictionary<ScoreTarget, ScoringModel> models, List<List<PerformanceMessage>> rounds)
    {
        await using var memory = new InMemoryBus(capacity: 1 << 16);
        var service = new LiveScoringService(memory, models, new LivePipelineOptions { Lanes = 1 }, Scheduler.Default);
        using var scored = memory.Subscribe(Topics.ClipScored, "ref");
        var running = service.RunAsync();
        var producer = memory.Producer(Topics.ClipFeatures);
        foreach (var m in rounds.SelectMany(x => x)) { await producer.ProduceAsync(m.PerformanceId, m).ConfigureAwait(false); }
        memory.Complete(Topics.ClipFeatures);
        await running.ConfigureAwait(false);
        memory.Complete(Topics.ClipScored);
        var expected = new Expected([], new Dictionary<string, ProvisionalScore>(StringComparer.Ordinal));
        await foreach (var r in scored.ConsumeAsync().ConfigureAwait(false))
        {
            if (r.Value.Clip is { } c) { expected.Clips[(r.Key, c.ClipIndex)] = c; }
            if (r.Value.Final) { expected.Finals[r.Key] = r.Value.Provisional; }
        }
        return expected;
    }

    /// <summary>The run's input being published, round by round, in the background.</summary>
    private sealed class Publishing
    {
        private int _rounds;

        public Task Done { get; set; } = Task.CompletedTask;

        /// <summary>Rounds published so far.</summary>
        public int Rounds => Volatile.Read(ref _rounds);

        public void Reached(int round) => Volatile.Write(ref _rounds, round);
    }

    private static Publishing PublishAsync(KafkaBus bus, List<List<PerformanceMessage>> rounds, Settings s)
    {
        var publishing = new Publishing();
        var producer = bus.Producer(Topics.ClipFeatures);
        publishing.Done = Task.Run(async () =>
        {
            for (var i = 0; i < rounds.Count; i++)
            {
                foreach (var m in rounds[i]) { await producer.ProduceAsync(m.PerformanceId, m).ConfigureAwait(false); }
                bus.Flush();
                publishing.Reached(i + 1);
                await Task.Delay(s.IntervalMs).ConfigureAwait(false);
            }
        });
        return publishing;
    }

    /// <summary>Everything on the result topic, duplicates included, read by a group of its own.</summary>
    private sealed class Results : IAsyncDisposable
    {
        private readonly ConcurrentQueue<ClipScore> _clips = new();
        private readonly ConcurrentQueue<ProvisionalScore> _finals = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Task> _readers = [];

        public Results(KafkaBus bus)
        {
            var group = "aqa-soak-" + Guid.NewGuid().ToString("N");
            _readers.Add(Read(bus.Subscribe(Topics.ClipScored, group), s =>
            {
                if (s.Clip is { } c) { _clips.Enqueue(c); }
                if (s.Final) { _finals.Enqueue(s.Provisional); }
            }));
        }

        /// <summary>Clip results seen so far of performances whose ids start with <paramref name="prefix"/>.</summary>
        public int ClipsOf(string prefix) => _clips.Count(c => c.PerformanceId.StartsWith(prefix, StringComparison.Ordinal));

        private Task Read<T>(IBusConsumer<T> consumer, Action<T> add) where T : class =>
            Task.Run(async () =>
            {
                using var owned = consumer;
                try
                {
                    await foreach (var r in consumer.ConsumeAsync(_stop.Token).ConfigureAwait(false)) { add(r.Value); }
                }
                catch (OperationCanceledException)
                {
                    // done
                }
            });

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(_readers).ConfigureAwait(false);
            _stop.Dispose();
        }

        public async Task WaitForFinalsAsync(IEnumerable<string> ids, TimeSpan timeout)
        {
            var wanted = ids.ToHashSet(StringComparer.Ordinal);
            var deadline = DateTime.UtcNow + timeout;
            while (!wanted.IsSubsetOf(_finals.Select(f => f.PerformanceId)))
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"no final score for {string.Join(", ", wanted.Except(_finals.Select(f => f.PerformanceId)))} within {timeout.TotalSeconds:F0} s.");
                }
                await Task.Delay(200).ConfigureAwait(false);
            }
            // Let any late duplicate arrive before counting.
            await Task.Delay(1500).ConfigureAwait(false);
        }

        public (int Lost, int Duplicated, int Mismatched, int FinalsEqual) Compare(Expected expected)
        {
            var ids = expected.Finals.Keys.ToHashSet(StringComparer.Ordinal);
            var seen = _clips.Where(c => ids.Contains(c.PerformanceId)).GroupBy(c => (c.PerformanceId, c.ClipIndex)).ToDictionary(g => g.Key, g => g.ToList());
            var lost = expected.Clips.Keys.Count(k => !seen.ContainsKey(k));
            var duplicated = seen.Values.Sum(l => l.Count - 1);
            var finals = _finals.Where(f => ids.Contains(f.PerformanceId)).GroupBy(f => f.PerformanceId).ToDictionary(g => g.Key, g => g.ToList());
            duplicated += finals.Values.Sum(l => l.Count - 1);
            var mismatched = seen.Count(kv => !expected.Clips.TryGetValue(kv.Key, out var e) || kv.Value.Any(c => !Same(c.Weight, e.Weight) || !Same(c.Score, e.Score)));
            var equal = expected.Finals.Count(kv => finals.TryGetValue(kv.Key, out var l) && l.All(f => Same(f.Total, kv.Value.Total) && f.ClipsSeen == kv.Value.ClipsSeen));
            mismatched += expected.Finals.Count - equal - expected.Finals.Keys.Count(k => !finals.ContainsKey(k));
            lost += expected.Finals.Keys.Count(k => !finals.ContainsKey(k));
            return (lost, duplicated, mismatched, equal);
        }

        private static bool Same(double a, double b) => Math.Abs(a - b) <= 1e-6 * Math.Max(1, Math.Abs(b));
    }

    /// <summary>A scorer child process.</summary>
    private sealed class Scorer
    {
        private readonly Process _process;
        private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private Scorer(Process process)
        {
            _process = process;
            process.OutputDataReceived += (_, e) => { if (e.Data?.StartsWith("ready", StringComparison.Ordinal) == true) { _ready.TrySetResult(); } };
            process.ErrorDataReceived += (_, e) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public Task Ready => _ready.Task.WaitAsync(TimeSpan.FromSeconds(60));

        public static Scorer Start(string bootstrap, string checkpoint, IEnumerable<string> settings)
        {
            var (self, prefix) = AqaProcess.Cli();
            var args = prefix + string.Join(' ', new[] { "serve", "--roles", "scorer", "--lanes", "1", "--bootstrap", bootstrap, "--checkpoint", $"\"{checkpoint}\"",
                "--kafka-setting", "session.timeout.ms=6000" }.Concat(settings));
            var info = new ProcessStartInfo(self, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            return new Scorer(Process.Start(info) ?? throw new InvalidOperationException("could not start the scorer process."));
        }

        public void Kill()
        {
            _process.Kill();   // SIGKILL: no commit, no goodbye to the group
            _process.WaitForExit();
        }

        public void Stop()
        {
            if (_process.HasExited) { return; }
            Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])?.WaitForExit();
            if (!_process.WaitForExit(15_000)) { _process.Kill(); }
        }
    }
}
