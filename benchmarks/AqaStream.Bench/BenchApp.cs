using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AqaStream.Cli;
using AqaStream.Cli.Commands;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Training;

namespace AqaStream.Bench;

/// <summary>
/// The <c>./bench</c> entry: every benchmark of the system (they print figures; compare peers within one run). Its own
/// <c>scorer</c> and <c>incremental</c> commands live here: <c>bench scorer</c> times our forward pass (batch 1) and training step (batch 32) at Fis-V sizes and the same
/// model in PyTorch in the same invocation, and prints both with the ratio ours / PyTorch.
/// </summary>
internal static class BenchApp
{
    /// <summary>Parses and runs; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        Scoring.Torch.TorchFormats.Register();
        return AqaApp.Invoke(Root(), "bench", args);
    }

    private static RootCommand Root()
    {
        var modelDim = new Option<int>("--model-dim") { Description = "Decoder width d (1024: the reference, no input projection).", DefaultValueFactory = _ => DecoderOptions.ReferenceFeatureDim };
        var clips = new Option<int>("--clips") { Description = "Clips per performance (Fis-V training length).", DefaultValueFactory = _ => 136 };
        var batch = new Option<int>("--batch-size") { Description = "Batch of the training step.", DefaultValueFactory = _ => 32 };
        var iterations = new Option<int>("--iterations") { Description = "Timed forward passes (training steps: a quarter, at least 2); the median is reported.", DefaultValueFactory = _ => 20 };
        var threads = CommonOptions.Threads();
        var python = new Option<string>("--python") { Description = "Python with PyTorch for the peer run.", DefaultValueFactory = _ => "/usr/bin/python3" };
        var causal = new Option<bool>("--causal") { Description = "Benchmark the causal variant." };
        var scorer = new Command("scorer", "Forward (batch 1) and training step (batch 32) at T = 136: TorchSharp vs PyTorch, same model, same threads.")
        {
            modelDim, clips, batch, iterations, threads, python, causal,
        };
        scorer.SetAction(r => AqaApp.Guarded(() =>
        {
            var options = new DecoderOptions { ModelDim = r.GetValue(modelDim), Causal = r.GetValue(causal) };
            options.Validate();
            var n = r.GetValue(threads);
            var (t, b, it) = (r.GetValue(clips), r.GetValue(batch), Math.Max(1, r.GetValue(iterations)));
            Console.Error.WriteLine($"bench scorer: d = {options.ModelDim}, T = {t}, train batch {b}, {n} thread(s), {it} iterations");
            var sharp = RunTorchSharp(options, n, t, b, it);
            var torch = RunTorch(r.GetValue(python)!, options, n, t, b, it);
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(inv, $"{"",-28}{"torchsharp (ms)",16}{"pytorch (ms)",14}{"torchsharp/pytorch",20}"));
            Console.WriteLine(string.Create(inv,
                $"{"forward, batch 1",-28}{sharp.Forward,16:F2}{torch.Forward,14:F2}{sharp.Forward / torch.Forward,20:F3}"));
            Console.WriteLine(string.Create(inv,
                $"{$"training step, batch {b}",-28}{sharp.Train,16:F1}{torch.Train,14:F1}{sharp.Train / torch.Train,20:F3}"));
            Console.WriteLine($"torchsharp: libtorch {TorchSharp.torch.__version__}, {TorchSharp.torch.get_num_threads()} thread(s), inference mode for the forward, a dispose scope per step");
            return 0;
        }));
        var incremental = CreateIncremental();
        return new RootCommand("AqaStream benchmarks: each prints its figures beside a peer measured in the same run (this machine is shared and noisy, so compare ratios, not absolute times).") { scorer, incremental, BenchLiveCommand.Create(), BenchIngestCommand.Create(), BenchFanOutCommand.Create(), BenchDemoCommand.Create(), BenchCrashCommand.Create(), BenchKafkaCommand.Create() };
    }

    private static Command CreateIncremental()
    {
        var modelDim = new Option<int>("--model-dim") { Description = "Decoder width d.", DefaultValueFactory = _ => 256 };
        var clips = new Option<int>("--clips") { Description = "Clips per performance (Fis-V: 124–302, mean 138).", DefaultValueFactory = _ => 136 };
        var performances = new Option<int>("--performances") { Description = "Performances replayed per mode.", DefaultValueFactory = _ => 8 };
        var threads = CommonOptions.Threads();
        var cmd = new Command("incremental", "Per-clip update latency (p50/p99) of the live decoder state on libtorch: exact (bidirectional) vs streaming (causal).")
        {
            modelDim, clips, performances, threads,
        };
        var batches = new Option<string>("--batches") { Description = "Batch sizes of the batched libtorch step (performances advanced per step).", DefaultValueFactory = _ => "1,8,64,256" };
        var churn = new Option<int>("--churn") { Description = "Performances opened and closed on libtorch to check that native memory is released (RSS before/after).", DefaultValueFactory = _ => 10_000 };
        var modes = new Option<IncrementalMode[]>("--modes") { Description = "Modes to time.", DefaultValueFactory = _ => [IncrementalMode.Exact, IncrementalMode.Streaming], AllowMultipleArgumentsPerToken = true };
        var attention = new Option<string>("--attention") { Description = "Streaming attention of the batched step, compared in one run: in-place (reads the paged pool where it lies; the CPU default), gather (a contiguous copy first; what other devices use), or both.", DefaultValueFactory = _ => "both" };
        attention.AcceptOnlyFromAmong("both", "in-place", "gather");
        var exactLayer0 = new Option<string>("--exact-layer0") { Description = "Exact mode's layer-0 table (TorchLiveDecoder.ExactLayer0Bytes: layer 0's self-attention over the learned queries, kept per performance length), compared in one run: on (the default budget), off (recomputed every step), or both.", DefaultValueFactory = _ => "both" };
        exactLayer0.AcceptOnlyFromAmong("both", "on", "off");
        var passSize = new Option<int>("--pass-size") { Description = "Streaming performances per pass of a batched step (TorchLiveDecoder.StreamingPassSize; 0: the decoder's default, 64 in place and 16 with the gather).", DefaultValueFactory = _ => 0 };
        cmd.Add(batches);
        cmd.Add(churn);
        cmd.Add(modes);
        cmd.Add(attention);
        cmd.Add(exactLayer0);
        cmd.Add(passSize);
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            var chosenModes = r.GetValue(modes)!;
            var threadCount = r.GetValue(threads);
            TorchSharp.torch.set_num_threads(threadCount);
            var (d, t, n) = (r.GetValue(modelDim), r.GetValue(clips), Math.Max(1, r.GetValue(performances)));
            var batchSizes = r.GetValue(batches)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(x => int.TryParse(x, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : throw new ArgumentException($"--batches: '{x}' is not a positive whole number."))
                .ToArray();
            var features = new float[t * DecoderOptions.ReferenceFeatureDim];
            Gaussian.Fill(features, new Random(1));
            var inv = CultureInfo.InvariantCulture;
            Console.Error.WriteLine($"bench incremental: d = {d}, {t} clips per performance, {n} performances per row, {threadCount} thread(s)");
            Console.WriteLine(string.Create(inv, $"{"engine",-12}{"mode",-24}{"p50 (ms)",10}{"p99 (ms)",10}{"max (ms)",10}{"clips/s",10}"));
            var exactTables = r.GetValue(exactLayer0) switch { "on" => new[] { true }, "off" => [false], _ => [true, false] };
            var rows = chosenModes.SelectMany(m => m == IncrementalMode.Exact ? exactTables.Select(table => (Mode: m, Table: table)) : [(m, true)]).ToList();
            string Label(IncrementalMode m, bool table) => m == IncrementalMode.Exact && exactTables.Length > 1 ? (table ? "exact" : "exact, no layer-0 table") : m.ToString();
            foreach (var (mode, table) in rows)
            {
                using var sharp = new Scoring.Torch.TorchWeightScoreDecoder(new DecoderOptions { ModelDim = d, Causal = mode == IncrementalMode.Streaming });
                using var live = new Scoring.Torch.TorchLiveDecoder(sharp) { ExactLayer0Bytes = table ? Scoring.Torch.TorchLiveDecoder.DefaultExactLayer0Bytes : 0 };
                var times = new List<double>();
                for (var p = 0; p <= n; p++)
                {
                    using var state = live.Start(mode);
                    for (var c = 0; c < t; c++)
                    {
                        var sw = Stopwatch.StartNew();
                        state.Append(features.AsSpan(c * DecoderOptions.ReferenceFeatureDim, DecoderOptions.ReferenceFeatureDim));
                        if (p > 0) { times.Add(sw.Elapsed.TotalMilliseconds); } // performance 0 warms up
                    }
                }
                times.Sort();
                Console.WriteLine(string.Create(inv, $"{"torchsharp",-12}{Label(mode, table),-24}{Quantile(times, 0.5),10:F3}{Quantile(times, 0.99),10:F3}{times[^1],10:F3}{1000 / times.Average(),10:F0}"));
            }
            // Native memory is released deterministically: open and close many performances and watch the RSS.
            using (var sharp = new Scoring.Torch.TorchWeightScoreDecoder(new DecoderOptions { ModelDim = d, Causal = true }))
            {
                using var live = new Scoring.Torch.TorchLiveDecoder(sharp);
                var row = features.AsSpan(0, DecoderOptions.ReferenceFeatureDim).ToArray();
                long Rss() { GC.Collect(); GC.WaitForPendingFinalizers(); return Environment.WorkingSet; }
                void Churn(int count)
                {
                    for (var p = 0; p < count; p++)
                    {
                        using var state = live.Start(IncrementalMode.Streaming);
                        for (var c = 0; c < 8; c++) { state.Append(row); }
                    }
                }
                Churn(1000); // warm-up: allocator and caches settle
                var before = Rss();
                Churn(r.GetValue(churn));
                var after = Rss();
                Console.WriteLine(string.Create(inv,
                    $"torchsharp streaming: {r.GetValue(churn):N0} performances opened, 8 clips each, closed: RSS {before / 1048576.0:F0} MB -> {after / 1048576.0:F0} MB ({(after - before) / 1048576.0:+0;-0} MB)"));
            }
            Console.WriteLine();
            var pass = r.GetValue(passSize);
            if (pass < 0) { throw new ArgumentException($"--pass-size {pass} must be 0 (the decoder's default) or positive."); }
            Console.WriteLine(string.Create(inv, $"batched libtorch step: B performances advanced together, each at a random point of its programme (clips 1..T); streaming passes of {(pass == 0 ? "the decoder's default" : pass)}"));
            Console.WriteLine(string.Create(inv, $"{"mode",-22}{"batch",8}{"step p50 (ms)",15}{"step p99 (ms)",15}{"clips/s",10}{"vs batch 1",12}"));
            var variants = new List<(IncrementalMode Mode, bool InPlace, string Name)>();
            foreach (var m in chosenModes)
            {
                if (m == IncrementalMode.Exact)
                {
                    // InPlace carries "with the layer-0 table" for exact rows.
                    variants.AddRange(exactTables.Select(table => (m, table, table ? "exact" : "exact, no layer-0")));
                    continue;
                }
                if (r.GetValue(attention) is "both" or "in-place") { variants.Add((m, true, "streaming in-place")); }
                if (r.GetValue(attention) is "both" or "gather") { variants.Add((m, false, "streaming gather")); }
            }
            foreach (var (mode, inPlace, name) in variants)
            {
                using var sharp = new Scoring.Torch.TorchWeightScoreDecoder(new DecoderOptions { ModelDim = d, Causal = mode == IncrementalMode.Streaming });
                var exactTable = mode == IncrementalMode.Exact && !inPlace ? 0 : Scoring.Torch.TorchLiveDecoder.DefaultExactLayer0Bytes;
                var streamingInPlace = mode == IncrementalMode.Streaming ? inPlace : true;   // exact steps never read it
                using var live = pass == 0 ? new Scoring.Torch.TorchLiveDecoder(sharp) { InPlaceAttention = streamingInPlace, ExactLayer0Bytes = exactTable }
                    : new Scoring.Torch.TorchLiveDecoder(sharp) { InPlaceAttention = streamingInPlace, StreamingPassSize = pass, ExactLayer0Bytes = exactTable };
                double? single = null;
                foreach (var size in batchSizes)
                {
                    var rng = new Random(size);
                    var row = features.AsSpan(0, DecoderOptions.ReferenceFeatureDim).ToArray();
                    // Bring B performances to random depths, then time steps that advance all of them (restarting one that reaches T).
                    var states = Enumerable.Range(0, size).Select(_ => live.Start(mode)).ToList();
                    var depth = states.Select(_ => rng.Next(1, t)).ToArray();
                    for (var c = 0; c < depth.Max(); c++) { live.Step(states.Where((s, i) => c < depth[i]).Select(s => (s, row)).ToList()); }
                    var steps = Math.Max(3, Math.Min(40, 2000 / size));
                    var times = new List<double>();
                    for (var k = 0; k < steps; k++)
                    {
                        for (var i = 0; i < states.Count; i++)
                        {
                            if (states[i].Clips >= t) { states[i].Dispose(); states[i] = live.Start(mode); }
                        }
                        var items = states.Select(s => (s, row)).ToList();
                        var sw = Stopwatch.StartNew();
                        live.Step(items);
                        times.Add(sw.Elapsed.TotalMilliseconds);
                    }
                    foreach (var s in states) { s.Dispose(); }
                    times.Sort();
                    var perSecond = size * 1000 / times.Average();
                    single ??= perSecond;
                    Console.WriteLine(string.Create(inv,
                        $"{name,-22}{size,8}{Quantile(times, 0.5),15:F2}{Quantile(times, 0.99),15:F2}{perSecond,10:F0}{perSecond / single.Value,11:F2}x"));
                }
            }
            return 0;
        }));
        return cmd;
    }

    /// <summary>A training batch of random performances (features N(0, 1), scores uniform in [0, 40)).</summary>
    private static List<PerformanceSample> RandomBatch(int batch, int clips, int featureDim, Random rng) =>
        [.. Enumerable.Range(0, batch).Select(i =>
        {
            var f = new float[clips * featureDim];
            Gaussian.Fill(f, rng);
            return new PerformanceSample(i.ToString(CultureInfo.InvariantCulture), f, clips, featureDim, (float)rng.NextDouble() * 40);
        })];

    private static (double Forward, double Train) RunTorchSharp(DecoderOptions options, int threads, int clips, int batch, int iterations)
    {
        TorchSharp.torch.set_num_threads(threads);
        using var model = new Scoring.Torch.TorchWeightScoreDecoder(options, seed: 0);
        var rng = new Random(0);
        var x1 = new float[clips * options.FeatureDim];
        Gaussian.Fill(x1, rng);
        using var one = TorchSharp.torch.tensor(x1, [1, clips, options.FeatureDim]);
        double Forward()
        {
            using var mode = TorchSharp.torch.inference_mode();
            using var scope = TorchSharp.torch.NewDisposeScope();
            var sw = Stopwatch.StartNew();
            model.Forward(one, [clips], [0]);
            return sw.Elapsed.TotalMilliseconds;
        }
        var samples = RandomBatch(batch, clips, options.FeatureDim, rng);
        var trainer = new Scoring.Torch.TorchTrainer(new TrainingOptions { TrainLength = clips, BatchSize = batch });
        using var adam = TorchSharp.torch.optim.Adam(model.Parameters.Select(p => (TorchSharp.Modules.Parameter)p.Value).ToList(), 1e-4, weight_decay: 1e-5);
        double Train()
        {
            var sw = Stopwatch.StartNew();
            trainer.TrainStep(model, adam, samples, rng);
            return sw.Elapsed.TotalMilliseconds;
        }
        return (Median(Forward, iterations), Median(Train, Math.Max(2, iterations / 4)));
    }

    /// <summary>The q-quantile of sorted <paramref name="sorted"/> (nearest rank).</summary>
    private static double Quantile(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)(q * sorted.Count))];

    private static double Median(Func<double> run, int iterations)
    {
        // Two untimed runs: JIT tiering and the buffer pool settle before timing.
        run();
        run();
        var times = Enumerable.Range(0, iterations).Select(_ => run()).OrderBy(x => x).ToArray();
        return times[times.Length / 2];
    }

    private static (double Forward, double Train) RunTorch(string python, DecoderOptions options, int threads, int clips, int batch, int iterations)
    {
        var scripts = RepositoryLayout.ReferenceScripts();
        var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = scripts };
        foreach (var a in new[]
        {
            Path.Combine(scripts, "bench.py"), JsonSerializer.Serialize(options, Scoring.Checkpoints.ModelCard.Json),
            threads.ToString(CultureInfo.InvariantCulture), iterations.ToString(CultureInfo.InvariantCulture),
            clips.ToString(CultureInfo.InvariantCulture), batch.ToString(CultureInfo.InvariantCulture),
        })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["OPENBLAS_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        psi.Environment["OMP_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"Cannot start {python}.");
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"PyTorch peer failed (exit {p.ExitCode}); is python3-torch installed? run tools/setup.sh --with-torch. {stderr.Result.Trim().Split('\n').LastOrDefault()}");
        }
        using var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        return (doc.RootElement.GetProperty("forward_ms").GetDouble(), doc.RootElement.GetProperty("train_step_ms").GetDouble());
    }
}
