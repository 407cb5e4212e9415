using System.Globalization;
using System.Text.Json;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Model;
using Xunit;
using AqaStream.Tests.Shared;

namespace AqaStream.Cli.Tests;

public sealed class CliTests : IDisposable
{
    private static readonly DecoderOptions Small = new()
    {
        FeatureDim = 1024, ModelDim = 16, Layers = 1, Heads = 2, HeadHidden1 = 8, HeadHidden2 = 4, MaxQueries = 40, QueryInitStd = 1f,
        Dropout = 0.1f, AttentionDropout = 0.1f,
    };

    private readonly TempDirectory _dir = new();
    private readonly string _features;
    private readonly string _labels;
    private readonly string _checkpoint;
    private readonly List<PerformanceSample> _samples = [];

    public CliTests()
    {
        _features = Path.Combine(_dir.Path, "features");
        Directory.CreateDirectory(_features);
        var rng = new Random(2);
        var lines = new List<string>();
        for (var i = 1; i <= 12; i++)
        {
            var clips = 10 + rng.Next(20);
            var f = new float[clips * 1024];
            Gaussian.Fill(f, rng);
            var level = (float)rng.NextDouble();
            for (var c = 0; c < clips; c++) { f[c * 1024] += 4 * level; }
            NpyWriter.Write(Path.Combine(_features, $"{i}.npy"), f, clips, 1024);
            var tes = 10 + 30 * level;
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{i} {tes:F2} {25 + i * 0.5:F2} 0"));
            _samples.Add(new PerformanceSample(i.ToString(CultureInfo.InvariantCulture), f, clips, 1024, MathF.Round(tes, 2)));
        }
        _labels = _dir.File("train.txt");
        File.WriteAllLines(_labels, lines);
        _checkpoint = _dir.File("m.safetensors");
        using var decoder = new Scoring.Torch.TorchClipScorer(new Scoring.Torch.TorchWeightScoreDecoder(Small, seed: 4));
        CheckpointStore.Save(_checkpoint, decoder, new ModelCard { ModelId = "cli-test", Architecture = Small, Target = ScoreTarget.TES });
    }

    public void Dispose() => _dir.Dispose();

    private static readonly string[] AllCommands = ["train", "eval", "baselines", "predict", "replay", "synth", "encode", "demo", "serve", "kafka-mock", "benchmark"];

    private static readonly string[] AllBenchmarks = ["scorer", "incremental", "live", "ingest", "fanout", "demo", "crash", "kafka"];

    [Fact]
    public void Help_ListsEveryCommand()
    {
        var r = CliRunner.Run("--help");
        Assert.Equal(0, r.ExitCode);
        // Each command by its exact name at the start of a line of the command list ("eval" must not pass on "evaluate").
        var listed = r.Stdout.Split('\n').Select(l => l.Trim().Split(' ', 2)[0]).ToHashSet(StringComparer.Ordinal);
        foreach (var c in AllCommands) { Assert.True(listed.Contains(c), $"'{c}' is not listed by --help:\n{r.Stdout}"); }
    }

    [Fact]
    public void BenchEntry_ListsEveryBenchmark_AndTheProductHasNone()
    {
        // The benchmarks live in bench/AqaStream.Bench (./bench), not in the product CLI or its assembly.
        var r = CliRunner.Bench("--help");
        Assert.Equal(0, r.ExitCode);
        var listed = r.Stdout.Split('\n').Select(l => l.Trim().Split(' ', 2)[0]).ToHashSet(StringComparer.Ordinal);
        foreach (var c in AllBenchmarks) { Assert.True(listed.Contains(c), $"'{c}' is not listed by bench --help:\n{r.Stdout}"); }
        var product = typeof(AqaApp).Assembly.GetTypes().Select(t => t.Name).Where(n => (n.StartsWith("Bench", StringComparison.Ordinal) && !n.StartsWith("Benchmark", StringComparison.Ordinal)) // aqa benchmark fisv is the analysts' protocol, a product command
                || n.Contains("Probe", StringComparison.Ordinal) || n.Contains("Crash", StringComparison.Ordinal)).ToList();
        Assert.Empty(product);
        Assert.DoesNotContain(typeof(Server.AqaServer).Assembly.GetTypes(), t => t.Name.Contains("Probe", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("web", "9464", "error: --metrics-port applies to roles without web; the web role serves /metrics and /health on --port.")]
    [InlineData("scorer", "70000", "error: --metrics-port 70000 is not a port (0–65535).")]
    public void Serve_MetricsPortThatDoesNotApply_OneLineError(string roles, string port, string expected)
    {
        var r = CliRunner.Run("serve", "--roles", roles, "--metrics-port", port, "--bootstrap", "127.0.0.1:1");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(expected, r.Stderr.Trim());
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("100000")]
    public void Serve_IdleTimeoutOutOfRange_OneLineError(string seconds)
    {
        var r = CliRunner.Run("serve", "--roles", "scorer", "--idle-timeout-s", seconds, "--bootstrap", "127.0.0.1:1");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"error: --idle-timeout-s must be more than 0 and at most 86400 (got {seconds}).", r.Stderr.Trim());
    }

    [Fact]
    public void BenchEntry_BadCommandLine_OneLineNamingIt_Exit2()
    {
        var r = CliRunner.Bench("live", "--clips", "abc");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Stdout);
        Assert.Equal("error: --clips: 'abc' is not valid; it takes an integer (see bench live --help)", r.Stderr.Trim());
    }

    [Theory]
    [InlineData(new[] { "train", "--bogus" }, "error: unknown option or argument '--bogus' (see aqa train --help)")]
    [InlineData(new[] { "train", "--dataset", "d", "--out", "o", "--target", "XYZ" }, "error: --target: 'XYZ' is not valid; valid values: TES, PCS (see aqa train --help)")]
    [InlineData(new[] { "bench", "live" }, "error: unknown command 'bench'; commands: train, eval")]
    [InlineData(new[] { "nosuch" }, "error: unknown command 'nosuch'; commands: train, eval")]
    public void BadCommandLine_OneLineNamingIt_Exit2(string[] args, string expected)
    {
        var r = CliRunner.Run(args);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Stdout);   // not the whole help
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith(expected, lines[0], StringComparison.Ordinal);
        var help = CliRunner.Run(args[0], "--help");
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("Options:", help.Stdout, StringComparison.Ordinal);   // --help stays full
    }

    [Fact]
    public void Eval_WritesJsonEqualToLibraryMetrics()
    {
        var json = _dir.File("m.json");
        var r = CliRunner.Run("eval", "--checkpoint", _checkpoint, "--features", _features, "--labels", _labels, "--json", json);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("spearman", r.Stdout, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        var preds = PerformanceScorer.Score(CheckpointStore.Load(_checkpoint), _samples);
        var expected = RegressionMetrics.Evaluate(preds.Select(p => (double)p.Score).ToList(), _samples.Select(s => (double)s.Score!.Value).ToList());
        Assert.Equal(12, root.GetProperty("n").GetInt32());
        AssertClose.Equal(expected.Spearman, root.GetProperty("spearman").GetDouble(), absolute: 1e-6, relative: 1e-6);
        AssertClose.Equal(expected.Mse, root.GetProperty("mse").GetDouble(), absolute: 1e-3, relative: 1e-3);
        AssertClose.Equal(expected.RelativeL2, root.GetProperty("rl2").GetDouble(), absolute: 1e-6, relative: 1e-6);
    }

    [Fact]
    public void Predict_WritesScoresAndClipExplanations()
    {
        var ids = _dir.File("ids.txt");
        File.WriteAllLines(ids, ["3", "7", "11"]);
        var outCsv = _dir.File("preds.csv");
        var r = CliRunner.Run("predict", "--checkpoint", _checkpoint, "--features", _features, "--ids", ids, "--out", outCsv);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var rows = File.ReadAllLines(outCsv);
        Assert.Equal("id,score", rows[0]);
        Assert.Equal(new[] { "3", "7", "11" }, rows.Skip(1).Select(l => l.Split(',')[0]));
        var clipRows = File.ReadAllLines(_dir.File("preds.clips.csv"));
        Assert.Equal("id,clip,weight,score,contribution,deduction", clipRows[0]);
        foreach (var id in new[] { "3", "7", "11" })
        {
            var mine = clipRows.Skip(1).Select(l => l.Split(',')).Where(f => f[0] == id).ToList();
            Assert.Equal(_samples[int.Parse(id, CultureInfo.InvariantCulture) - 1].Clips, mine.Count);
            var total = mine.Sum(f => double.Parse(f[4], CultureInfo.InvariantCulture));
            var score = double.Parse(rows.Single(l => l.StartsWith(id + ",", StringComparison.Ordinal)).Split(',')[1], CultureInfo.InvariantCulture);
            AssertClose.Equal(score, total, absolute: 1e-3, relative: 1e-3);
        }
    }

    [Fact]
    public void Train_SmallDataset_WritesCheckpointCardAndEvaluatesOnItsValidationSplit()
    {
        var outPath = _dir.File("trained.safetensors");
        var r = CliRunner.Run("train", "--dataset", _dir.Path, "--target", "TES", "--out", outPath, "--epochs", "3", "--batch-size", "4",
            "--model-dim", "16", "--layers", "1", "--heads", "2", "--max-queries", "40", "--folds", "4", "--train-length", "16");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("epoch    3/3", r.Stderr, StringComparison.Ordinal);
        var card = CheckpointStore.Load(outPath).Card;
        Assert.StartsWith("torch (cpu, libtorch 2.10", card.Training!.Settings["engine"], StringComparison.Ordinal);
        Assert.Equal(3, card.Training!.ValidationIds.Count);
        Assert.Equal(9, card.Training.TrainCount);
        Assert.NotNull(card.Validation);
        var json = _dir.File("val.json");
        var e = CliRunner.Run("eval", "--checkpoint", outPath, "--features", _features, "--labels", _labels, "--validation-split", "--json", json);
        Assert.True(e.ExitCode == 0, e.Stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        Assert.Equal(3, doc.RootElement.GetProperty("n").GetInt32());
        AssertClose.Equal(card.Validation!.Spearman, doc.RootElement.GetProperty("spearman").GetDouble(), absolute: 1e-5, relative: 1e-5);
    }

    [Fact]
    public void Replay_WritesReport_FinalMetricsEqualOfflineEval_EarlyCurveEndsAtFinal()
    {
        var report = _dir.File("report");
        var r = CliRunner.Run("replay", "--checkpoint", _checkpoint, "--features", _features, "--labels", _labels, "--report", report, "--lanes", "2");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json")));
        var root = doc.RootElement;
        var preds = PerformanceScorer.Score(CheckpointStore.Load(_checkpoint), _samples);
        var expected = RegressionMetrics.Evaluate(preds.Select(p => (double)p.Score).ToList(), _samples.Select(s => (double)s.Score!.Value).ToList());
        AssertClose.Equal(expected.Spearman, root.GetProperty("spearman").GetDouble(), absolute: 1e-6, relative: 1e-6);
        AssertClose.Equal(expected.Mse, root.GetProperty("mse").GetDouble(), absolute: 1e-3, relative: 1e-3);
        AssertClose.Equal(expected.RelativeL2, root.GetProperty("rl2").GetDouble(), absolute: 1e-6, relative: 1e-6);
        var curve = root.GetProperty("early_prediction").EnumerateArray().ToList();
        Assert.Equal(10, curve.Count);
        AssertClose.Equal(0.1, curve[0].GetProperty("fraction").GetDouble(), absolute: 1e-9, relative: 1e-9);
        AssertClose.Equal(root.GetProperty("spearman").GetDouble(), curve[^1].GetProperty("spearman").GetDouble(), absolute: 1e-9, relative: 1e-9);
        AssertClose.Equal(root.GetProperty("mse").GetDouble(), curve[^1].GetProperty("mse").GetDouble(), absolute: 1e-9, relative: 1e-9);
        // The analyst's part: bias, the largest errors first, and why there are no baselines (every labelled one was replayed).
        var analysis = root.GetProperty("analysis");
        AssertClose.Equal(preds.Zip(_samples, (p, s) => p.Score - s.Score!.Value).Average(), analysis.GetProperty("bias").GetDouble(), absolute: 1e-3, relative: 1e-3);
        var errors = analysis.GetProperty("largest_errors").EnumerateArray().Select(e => Math.Abs(e.GetProperty("error").GetDouble())).ToList();
        Assert.Equal(10, errors.Count);
        Assert.Equal(errors.OrderByDescending(e => e), errors);
        Assert.Empty(analysis.GetProperty("baselines").EnumerateArray());
        Assert.Contains("no baselines", analysis.GetProperty("baseline_note").GetString(), StringComparison.Ordinal);
        var interval = analysis.GetProperty("spearman_interval95").EnumerateArray().Select(e => e.GetDouble()).ToList();
        Assert.True(interval[0] <= interval[1]);
        var timelines = root.GetProperty("timelines").EnumerateArray().ToList();
        Assert.Equal(12, timelines.Count);
        foreach (var t in timelines)
        {
            var sample = _samples.Single(s => s.Id == t.GetProperty("performance_id").GetString());
            var clips = t.GetProperty("clips").EnumerateArray().ToList();
            Assert.Equal(sample.Clips, clips.Count);
            AssertClose.Equal(t.GetProperty("final").GetDouble(), clips.Sum(c => c.GetProperty("contribution").GetDouble()), absolute: 1e-3, relative: 1e-3);
            AssertClose.Equal(t.GetProperty("final").GetDouble(), clips[^1].GetProperty("provisional").GetDouble(), absolute: 1e-3, relative: 1e-3);
        }
        var html = File.ReadAllText(Path.Combine(report, "report.html"));
        Assert.Equal(12 + 2, html.Split("<svg").Length - 1); // one chart per performance, the early-prediction chart and the scatter
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("src=\"http", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("href=\"http", html, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Replay_NoLabels_TimelinesWithoutMetrics()
    {
        var ids = _dir.File("ids.txt");
        File.WriteAllLines(ids, ["2", "9"]);
        var report = _dir.File("unlabelled");
        var r = CliRunner.Run("replay", "--checkpoint", _checkpoint, "--features", _features, "--ids", ids, "--speed", "1000", "--report", report);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json")));
        Assert.False(doc.RootElement.TryGetProperty("spearman", out var rho) && rho.ValueKind != JsonValueKind.Null);
        Assert.Empty(doc.RootElement.GetProperty("early_prediction").EnumerateArray());
        Assert.Equal(["2", "9"], doc.RootElement.GetProperty("timelines").EnumerateArray().Select(t => t.GetProperty("performance_id").GetString()));
        Assert.Equal("1000x", doc.RootElement.GetProperty("speed").GetString());
    }

    [Fact]
    public void BenchLive_Checkpoint_MeasuresTheShippedPcsDefault_InExactModeOnly()
    {
        // The live default for PCS (a blend of five gdlt-ws models and a ridge): bidirectional, so exact mode only.
        var pcs = Path.Combine(RepositoryRoot.Path, "models", "fisv-pcs.safetensors");
        var r = CliRunner.Bench("live", "--checkpoint", pcs, "--clips", "12", "--seconds", "2", "--start", "4", "--max-performances", "4");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"bench live: {pcs} (gdlt-ws-x5+ridge-blend-mauto)", r.Stdout, StringComparison.Ordinal);
        var rows = r.Stdout.Split('\n').Where(l => l.StartsWith("Exact ", StringComparison.Ordinal)).ToList();
        var row = Assert.Single(rows).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("4", row[1]);
        Assert.DoesNotContain(r.Stdout.Split('\n'), l => l.StartsWith("Streaming", StringComparison.Ordinal));

        var streaming = CliRunner.Bench("live", "--checkpoint", pcs, "--mode", "Streaming", "--start", "4", "--max-performances", "4");
        Assert.Equal(1, streaming.ExitCode);
        Assert.Equal($"error: --mode Streaming: {pcs} is not causal, so it scores in exact mode only.", streaming.Stderr.Trim());
        var missing = CliRunner.Bench("live", "--checkpoint", Path.Combine(_dir.Path, "nothing.safetensors"));
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("nothing.safetensors", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void BenchLive_SmallRun_PrintsLatencyRowsPerStepAndVerdictPerMode()
    {
        // Correctness only: the figures (and whether a step met its latency target) depend on the machine's load and
        // belong in the benchmark's own output, never in a test verdict.
        var r = CliRunner.Bench("live", "--model-dim", "16", "--clips", "12", "--seconds", "2", "--start", "5", "--max-performances", "10");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("p50 ms", r.Stdout, StringComparison.Ordinal);
        foreach (var mode in new[] { "Exact", "Streaming" })
        {
            var rows = r.Stdout.Split('\n').Where(l => l.StartsWith(mode + " ", StringComparison.Ordinal)).ToList();
            Assert.InRange(rows.Count, 1, 2); // 5, then 10 performances unless the first step missed its target
            var sustained = 0;
            foreach (var row in rows)
            {
                var f = row.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var live = int.Parse(f[1], CultureInfo.InvariantCulture);
                var result = string.Join(' ', f[8..]);
                Assert.Contains(result, new[] { "ok", "p99 over target", "fell behind" });
                if (result != "fell behind") { Assert.Equal(live * 2, int.Parse(f[2], CultureInfo.InvariantCulture)); } // two clips each in a 2 s window
                Assert.True(double.Parse(f[4], CultureInfo.InvariantCulture) >= double.Parse(f[3], CultureInfo.InvariantCulture), row);
                if (result == "ok") { sustained = live; }
            }
            Assert.Contains(sustained > 0 ? $"{mode}: sustains at least {sustained} concurrent live performances" : $"{mode}: not even 5 performances",
                r.Stdout, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--speed", "fast", "--speed must be 'realtime', 'max' or a positive number")]
    [InlineData("--mode", "Streaming", "streaming mode needs a causal model")]
    public void Replay_BadOption_OneLineError(string option, string value, string message)
    {
        AssertUserError(CliRunner.Run("replay", "--checkpoint", _checkpoint, "--features", _features, "--report", _dir.File("r"), option, value), message);
    }

    [Fact]
    public void Eval_MissingFeatureFile_OneLineErrorNoStackTrace()
    {
        File.Delete(Path.Combine(_features, "5.npy"));
        AssertUserError(CliRunner.Run("eval", "--checkpoint", _checkpoint, "--features", _features, "--labels", _labels), "5.npy: missing feature file");
    }

    [Fact]
    public void Eval_TruncatedNpy_OneLineErrorNamingFile()
    {
        var path = Path.Combine(_features, "4.npy");
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..500]);
        AssertUserError(CliRunner.Run("eval", "--checkpoint", _checkpoint, "--features", _features, "--labels", _labels), "4.npy: truncated");
    }

    [Fact]
    public void Eval_BadLabelsLine_OneLineErrorNamingFileAndLine()
    {
        File.AppendAllText(_labels, "13 oops 2 0\n");
        AssertUserError(CliRunner.Run("eval", "--checkpoint", _checkpoint, "--features", _features, "--labels", _labels), "train.txt:13: expected");
    }

    [Fact]
    public void Eval_CheckpointForOtherArchitecture_OneLineErrorNamingTensor()
    {
        // The weights of one architecture under a card that describes another.
        var wrong = _dir.File("wrong.safetensors");
        var file = SafeTensors.Read(_checkpoint);
        SafeTensors.Write(wrong, file.Tensors.Values, new Dictionary<string, string> { [CheckpointStore.CardMetadataKey] = new ModelCard { Architecture = Small with { HeadHidden2 = 5 } }.ToJson() });
        AssertUserError(CliRunner.Run("eval", "--checkpoint", wrong, "--features", _features, "--labels", _labels), "has shape [4, 8], the architecture needs [5, 8]");
    }

    [Fact]
    public void Eval_NotACheckpoint_OneLineError()
    {
        var bogus = _dir.File("bogus.safetensors");
        File.WriteAllText(bogus, "hello");
        AssertUserError(CliRunner.Run("eval", "--checkpoint", bogus, "--features", _features, "--labels", _labels), "not a safetensors file");
    }

    [Fact]
    public void Predict_EqualsOfflineScores_AndAnUnavailableDeviceIsOneLine()
    {
        var ids = _dir.File("ids.txt");
        File.WriteAllLines(ids, _samples.Select(s => s.Id));
        var csv = _dir.File("torch.csv");
        var t = CliRunner.Run("predict", "--checkpoint", _checkpoint, "--features", _features, "--ids", ids, "--out", csv);
        Assert.True(t.ExitCode == 0, t.Stderr);
        var rows = File.ReadAllLines(csv).Skip(1).Select(l => l.Split(',')).ToDictionary(c => c[0], c => double.Parse(c[1], CultureInfo.InvariantCulture));
        var expected = PerformanceScorer.Score(CheckpointStore.Load(_checkpoint), _samples);
        Assert.Equal(_samples.Count, rows.Count);
        foreach (var p in expected) { AssertClose.Equal(p.Score, rows[p.Id], absolute: 1e-4, relative: 1e-5); }
        AssertUserError(CliRunner.Run("predict", "--checkpoint", _checkpoint, "--features", _features, "--ids", ids, "--out", csv, "--device", "cuda"),
            "CUDA is not available");
    }

    [Fact]
    public void Replay_BatchedOnLibtorch_FinalMetricsEqualOfflineEval()
    {
        var report = _dir.File("batched");
        var r = CliRunner.Run("replay", "--checkpoint", _checkpoint, "--features", _features, "--labels", _labels, "--report", report, "--lanes", "2",
            "--batch-max", "8", "--batch-wait-ms", "2");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json")));
        var preds = PerformanceScorer.Score(CheckpointStore.Load(_checkpoint), _samples);
        var expected = RegressionMetrics.Evaluate(preds.Select(p => (double)p.Score).ToList(), _samples.Select(s => (double)s.Score!.Value).ToList());
        AssertClose.Equal(expected.Spearman, doc.RootElement.GetProperty("spearman").GetDouble(), absolute: 1e-6, relative: 1e-6);
        AssertClose.Equal(expected.Mse, doc.RootElement.GetProperty("mse").GetDouble(), absolute: 1e-3, relative: 1e-3);
    }

    [Fact]
    public void BadFlagValue_NonZeroExitWithMessage()
    {
        var r = CliRunner.Run("train", "--dataset", _dir.Path, "--target", "XYZ", "--out", _dir.File("x.safetensors"));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("XYZ", r.Stderr + r.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
    }

    private static void AssertUserError(CliResult r, string expected)
    {
        Assert.Equal(1, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(expected, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Stderr, StringComparison.Ordinal);
    }
}
