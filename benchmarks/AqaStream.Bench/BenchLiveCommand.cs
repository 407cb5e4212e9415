using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Reactive.Concurrency;
using AqaStream.Cli;
using AqaStream.Cli.Commands;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;

namespace AqaStream.Bench;

/// <summary>
/// <c>./bench live</c>: how many concurrent live performances one process sustains. N performances each send one clip
/// every 1.28 s (random phases) through the whole live path (in-memory bus, Rx pipeline, scoring lanes, output topic);
/// latency is from publishing a clip to reading its provisional score. Before the timed window every performance is
/// advanced to a random point of its program (uniform over the clips), as at a real event where athletes are at
/// different stages, because exact mode's cost grows with the clips seen. N doubles until p99 exceeds the target.
/// </summary>
internal static class BenchLiveCommand
{
    public static Command Create()
    {
        var modes = new Option<IncrementalMode[]>("--mode") { Description = "Modes to measure (default: Exact and Streaming).", AllowMultipleArgumentsPerToken = true };
        var modelDim = new Option<int>("--model-dim") { Description = "Decoder width d (shipped models: 256).", DefaultValueFactory = _ => 256 };
        var clips = new Option<int>("--clips") { Description = "Clips per performance (Fis-V mean 138).", DefaultValueFactory = _ => 136 };
        var seconds = new Option<double>("--seconds") { Description = "Timed live window per step.", DefaultValueFactory = _ => 15 };
        var start = new Option<int>("--start") { Description = "Performances in the first step (then doubled).", DefaultValueFactory = _ => 250 };
        var max = new Option<int>("--max-performances") { Description = "Stop doubling here.", DefaultValueFactory = _ => 4000 };
        var target = new Option<double>("--p99-target-ms") { Description = "A step passes when p99 clip-to-provisional latency is at most this.", DefaultValueFactory = _ => 100 };
        var lanes = new Option<int>("--lanes") { Description = "Scoring threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var timeline = new Option<bool>("--timeline") { Description = "Also print each step's latency second by second (clips published in that second of the window: count, p99, max) to stderr, to tell a steady overload from an episode." };
        var checkpoint = new Option<string?>("--checkpoint") { Description = "Measure this checkpoint (any method, e.g. models/fisv-pcs.safetensors) instead of a weight-score decoder of width --model-dim drawn at random; its modes are what it allows (default: Exact, plus Streaming for a causal model)." };
        var cmd = new Command("live", "Concurrent live performances one process sustains (one clip every 1.28 s each) with p99 clip-to-provisional latency under a target, per mode.")
        {
            modes, modelDim, clips, seconds, start, max, target, lanes, timeline, checkpoint,
        };
        var engine = new EngineOptions().AddTo(cmd, live: true);
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            var window = engine.Window(r);
            // The lanes (and the batch thread) are the parallelism: libtorch's own threads would spin beside them.
            EngineOptions.SetThreads(1);
            var path = r.GetValue(checkpoint);
            var loaded = path is null ? null : ScoringModel.Load(CommonOptions.ExistingFile(new FileInfo(path), "checkpoint"));
            var allowed = loaded is null || loaded.Scorer.Causal ? new[] { IncrementalMode.Exact, IncrementalMode.Streaming } : [IncrementalMode.Exact];
            var chosen = r.GetValue(modes) is { Length: > 0 } m ? m : allowed;
            if (!chosen.All(allowed.Contains))
            {
                throw new ArgumentException($"--mode Streaming: {path} is not causal, so it scores in exact mode only.");
            }
            var settings = new Settings(r.GetValue(clips), r.GetValue(seconds), r.GetValue(target), Math.Max(1, r.GetValue(lanes)), window, r.GetValue(timeline));
            if (settings.Clips < 2 || settings.Seconds <= 0) { throw new ArgumentException("--clips must be at least 2 and --seconds positive."); }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"bench live: {(loaded is null ? $"d = {r.GetValue(modelDim)}" : $"{path} ({loaded.Scorer.Method})")}, {settings.Clips} clips per performance, one clip every {LivePipelineOptions.ClipSeconds} s, {settings.Seconds} s windows, {settings.Lanes} lanes, target p99 <= {settings.TargetMs} ms; libtorch on {r.GetValue(engine.Device)}{(window is null ? "" : $", batches of up to {window.MaxBatch} within {window.MaxWait.TotalMilliseconds} ms")}; MB/perf: process RSS growth"));
            Console.WriteLine($"{"mode",-10}{"live",7}{"clips",8}{"p50 ms",9}{"p99 ms",9}{"max ms",9}{"clips/s",9}{"MB/perf",9}  result");
            foreach (var mode in chosen)
            {
                var options = new DecoderOptions { ModelDim = r.GetValue(modelDim), Causal = mode == IncrementalMode.Streaming, MaxQueries = Math.Max(320, settings.Clips) };
                var model = engine.Apply(r, loaded is null
                    ? new ScoringModel(new Scoring.Torch.TorchClipScorer(new Scoring.Torch.TorchWeightScoreDecoder(options, seed: 1)), new ModelCard { ModelId = $"bench-{mode}", Architecture = options }, "bench", mode)
                    : new ScoringModel(loaded.Scorer, loaded.Card, loaded.Version, mode));
                var sustained = 0;
                for (var n = Math.Max(1, r.GetValue(start)); n <= r.GetValue(max); n *= 2)
                {
                    var step = RunStep(model, n, settings).GetAwaiter().GetResult();
                    var pass = step.Complete && step.P99 <= settings.TargetMs;
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{mode,-10}{n,7}{step.Clips,8}{step.P50,9:F2}{step.P99,9:F2}{step.Max,9:F1}{step.ClipsPerSecond,9:F0}{step.MegabytesPerPerformance,9:F2}  {(pass ? "ok" : step.Complete ? "p99 over target" : "fell behind")}"));
                    if (!pass) { break; }
                    sustained = n;
                }
                Console.WriteLine(sustained > 0
                    ? $"{mode}: sustains at least {sustained} concurrent live performances with p99 <= {settings.TargetMs} ms"
                    : $"{mode}: not even {r.GetValue(start)} performances within the target");
            }
            return 0;
        }));
        return cmd;
    }

    private sealed record Settings(int Clips, double Seconds, double TargetMs, int Lanes, BatchWindow? Batch, bool Timeline);

    private sealed record StepResult(int Clips, double P50, double P99, double Max, double ClipsPerSecond, double MegabytesPerPerformance, bool Complete);

    private static async Task<StepResult> RunStep(ScoringModel model, int performances, Settings settings)
    {
        var featureDim = model.Scorer.FeatureDim;
        var rng = new Random(performances);
        var pool = new float[64 * featureDim];
        Gaussian.Fill(pool, rng);
        float[] Clip(int i) => pool.AsSpan((i % 64) * featureDim, featureDim).ToArray();

        var perWindow = (int)Math.Ceiling(settings.Seconds / LivePipelineOptions.ClipSeconds);
        var ids = Enumerable.Range(0, performances).Select(i => $"bench-{i}").ToArray();
        // Where each performance is when the window opens: uniform over its program, leaving room for the window.
        var prefill = ids.Select(_ => rng.Next(0, Math.Max(1, settings.Clips - perWindow))).ToArray();
        GC.Collect();
        GC.GetTotalMemory(forceFullCollection: true);
        var memoryBefore = Environment.WorkingSet; // native decoder state (libtorch) counts too

        await using var bus = new InMemoryBus(capacity: 1 << 16);
        var service = new LiveScoringService(bus, new Dictionary<ScoreTarget, ScoringModel> { [model.Card.Target] = model },
            new LivePipelineOptions { Lanes = settings.Lanes, IdleTimeout = TimeSpan.FromMinutes(10), MaxClipsAhead = settings.Clips, Batch = settings.Batch }, DefaultScheduler.Instance);
        using var scored = bus.Subscribe(Topics.ClipScored, "bench");
        var running = service.RunAsync();
        var producer = bus.Producer(Topics.ClipFeatures);

        // sent[p][i]: timestamp clip i of performance p was published (window clips only).
        var sent = ids.Select(_ => new long[settings.Clips + perWindow]).ToArray();
        var latencies = new List<double>(performances * perWindow);
        var published = new List<double>(performances * perWindow);   // seconds into the window each measured clip was published
        var expectedPrefill = prefill.Sum();
        var prefillDone = new TaskCompletionSource();
        var windowDone = new TaskCompletionSource();
        var index = ids.Select((id, i) => (id, i)).ToDictionary(x => x.id, x => x.i, StringComparer.Ordinal);
        long seenPrefill = 0;
        long windowStart = 0;
        var reader = Task.Run(async () =>
        {
            long seenWindow = 0;
            await foreach (var rec in scored.ConsumeAsync())
            {
                var now = Stopwatch.GetTimestamp();
                var s = rec.Value.Provisional;
                if (s.Final) { continue; }
                var p = index[rec.Key];
                var clip = s.ClipsSeen - 1;
                if (clip < prefill[p])
                {
                    if (Interlocked.Increment(ref seenPrefill) == expectedPrefill) { prefillDone.TrySetResult(); }
                    continue;
                }
                latencies.Add(Stopwatch.GetElapsedTime(sent[p][clip], now).TotalMilliseconds);
                published.Add(Stopwatch.GetElapsedTime(windowStart, sent[p][clip]).TotalSeconds);
                if (++seenWindow == (long)performances * perWindow) { windowDone.TrySetResult(); }
            }
        });
        if (expectedPrefill == 0) { prefillDone.TrySetResult(); }

        for (var p = 0; p < performances; p++)
        {
            await producer.ProduceAsync(ids[p], new PerformanceStarted(ids[p], ids[p], "bench", "bench", model.Card.Target, DateTimeOffset.UtcNow));
            for (var i = 0; i < prefill[p]; i++) { await producer.ProduceAsync(ids[p], Message(ids[p], i, Clip(i))); }
        }
        // The scorer has to catch up on the history before the window starts; one that cannot is the answer, not a hang.
        var prefillLimit = TimeSpan.FromSeconds(Math.Max(60, expectedPrefill * 0.01));
        if (await Task.WhenAny(prefillDone.Task, Task.Delay(prefillLimit)) != prefillDone.Task)
        {
            throw new TimeoutException(FormattableString.Invariant(
                $"{performances} performances: the prefill did not finish in {prefillLimit.TotalSeconds:F0} s ({Interlocked.Read(ref seenPrefill)} of {expectedPrefill} history clips scored); the scorer cannot keep up at this size."));
        }
        GC.GetTotalMemory(forceFullCollection: true);
        var memoryPerPerformance = Math.Max(0, Environment.WorkingSet - memoryBefore) / (double)performances / (1 << 20);

        // The live window: every performance sends its next clip every 1.28 s, at its own phase.
        var phases = ids.Select(_ => rng.NextDouble() * LivePipelineOptions.ClipSeconds).ToArray();
        var schedule = Enumerable.Range(0, performances)
            .SelectMany(p => Enumerable.Range(0, perWindow).Select(j => (Due: phases[p] + (j * LivePipelineOptions.ClipSeconds), P: p, Clip: prefill[p] + j)))
            .OrderBy(x => x.Due).ToArray();
        var window = Stopwatch.StartNew();
        windowStart = Stopwatch.GetTimestamp();
        foreach (var (due, p, clip) in schedule)
        {
            // No spinning to hit the due time exactly: latency runs from the moment of publishing (stamped below), and
            // a publisher spinning on one of two cores took most of a core from the scorer it measures.
            var wait = due - window.Elapsed.TotalSeconds;
            if (wait > 0.001) { await Task.Delay(TimeSpan.FromSeconds(wait)); }
            sent[p][clip] = Stopwatch.GetTimestamp();
            await producer.ProduceAsync(ids[p], Message(ids[p], clip, Clip(clip)));
        }
        var complete = await Task.WhenAny(windowDone.Task, Task.Delay(TimeSpan.FromSeconds(10))) == windowDone.Task;
        var elapsed = window.Elapsed.TotalSeconds;
        foreach (var id in ids) { await producer.ProduceAsync(id, new PerformanceEnded(id, DateTimeOffset.UtcNow)); }
        bus.Complete(Topics.ClipFeatures);
        await running;
        bus.Complete(Topics.ClipScored);
        await reader;

        if (settings.Timeline)
        {
            foreach (var second in latencies.Zip(published).GroupBy(x => (int)x.Second).OrderBy(g => g.Key))
            {
                var inSecond = second.Select(x => x.First).Order().ToArray();
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {performances} performances, second {second.Key,3}: {inSecond.Length,6} clips, p99 {inSecond[Math.Min(inSecond.Length - 1, (int)(0.99 * inSecond.Length))],9:F1} ms, max {inSecond[^1],9:F1} ms"));
            }
        }
        var sorted = latencies.Order().ToArray();
        double At(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
        return new StepResult(sorted.Length, At(0.5), At(0.99), sorted.Length > 0 ? sorted[^1] : double.NaN, sorted.Length / elapsed, memoryPerPerformance, complete);
    }

    private static ClipFeatures Message(string id, int i, float[] vector) =>
        new(id, i, i * LivePipelineOptions.ClipSeconds, (i + 1) * LivePipelineOptions.ClipSeconds, vector);
}
