using System.Globalization;
using System.Text.Json;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;
using AqaStream.Tests.Shared;
using Xunit;

namespace AqaStream.Cli.Tests;

/// <summary><c>aqa train --method ridge-mean</c> and <c>aqa benchmark fisv</c> on a small dataset whose scores follow its
/// features (60 performances, 16 features per clip).</summary>
public sealed class RidgeAndBenchmarkTests : IDisposable
{
    private const int Dim = 16;
    private readonly TempDirectory _dir = new();

    public RidgeAndBenchmarkTests() => WriteDataset(60, seed: 5, (rng, f, clips, level) =>
    {
        for (var c = 0; c < clips; c++) { f[c * Dim] += (float)(3 * level); f[(c * Dim) + 1] -= (float)(2 * level); }
        return (10 + (30 * level) + rng.NextDouble(), 20 + (10 * level), 0);
    });

    /// <summary>Writes <paramref name="count"/> performances (8 to 37 clips of standard normal features, a skater's level in
    /// [0, 1)) as <c>features/{id}.npy</c> and their <c>train.txt</c> lines, replacing any there: <paramref name="shape"/>
    /// marks each performance's clips and returns its TES, PCS and deductions.</summary>
    private void WriteDataset(int count, int seed, Func<Random, float[], int, double, (double Tes, double Pcs, int Deductions)> shape)
    {
        var features = Path.Combine(_dir.Path, "features");
        if (Directory.Exists(features)) { Directory.Delete(features, recursive: true); }
        Directory.CreateDirectory(features);
        var rng = new Random(seed);
        var lines = new List<string>();
        for (var i = 1; i <= count; i++)
        {
            var clips = 8 + rng.Next(30);
            var f = new float[clips * Dim];
            Gaussian.Fill(f, rng);
            var level = rng.NextDouble();
            var (tes, pcs, deductions) = shape(rng, f, clips, level);
            NpyWriter.Write(Path.Combine(features, $"{i}.npy"), f, clips, Dim);
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"{i} {tes:F2} {pcs:F2} {deductions}"));
        }
        File.WriteAllLines(Path.Combine(_dir.Path, "train.txt"), lines);
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void TrainRidge_WritesALoadableCheckpoint_ThatEvalAgreesWith()
    {
        var outPath = _dir.File("ridge.safetensors");
        var r = CliRunner.Run("train", "--method", "ridge-mean", "--dataset", _dir.Path, "--target", "TES", "--out", outPath, "--alphas", "1,10,100");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var loaded = CheckpointStore.Load(outPath);
        Assert.Equal(MeanPooledRidge.MethodName, loaded.Scorer.Method);
        Assert.Equal(Dim, loaded.Scorer.FeatureDim);
        Assert.True(loaded.Card.Validation!.Spearman > 0.9, $"validation ρ {loaded.Card.Validation.Spearman}");
        Assert.Contains(loaded.Card.Training!.Settings["alpha"], new[] { "1", "10", "100" });
        var json = _dir.File("eval.json");
        var e = CliRunner.Run("eval", "--checkpoint", outPath, "--features", Path.Combine(_dir.Path, "features"), "--labels", Path.Combine(_dir.Path, "train.txt"),
            "--validation-split", "--json", json);
        Assert.True(e.ExitCode == 0, e.Stderr);
        AssertClose.Equal(loaded.Card.Validation.Spearman, JsonDocument.Parse(File.ReadAllText(json)).RootElement.GetProperty("spearman").GetDouble(), absolute: 1e-9, relative: 1e-9);
    }

    [Fact]
    public void Replay_ValidationSplit_ReportsTheBaselinesFittedOnTheOtherPerformances()
    {
        var outPath = _dir.File("ridge-replay.safetensors");
        Assert.Equal(0, CliRunner.Run("train", "--method", "ridge-mean", "--dataset", _dir.Path, "--target", "TES", "--out", outPath).ExitCode);
        var report = _dir.File("replay");
        var r = CliRunner.Run("replay", "--checkpoint", outPath, "--features", Path.Combine(_dir.Path, "features"), "--labels", Path.Combine(_dir.Path, "train.txt"),
            "--validation-split", "--report", report);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var root = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json"))).RootElement;
        var baselines = root.GetProperty("analysis").GetProperty("baselines").EnumerateArray().ToList();
        Assert.Equal(["constant", "ridge-mean"], baselines.Select(b => b.GetProperty("name").GetString()));
        Assert.All(baselines, b => Assert.Equal(48, b.GetProperty("trained_on").GetInt32()));   // the 60 minus the 12 replayed
        // The model is ridge-mean fitted on the same 48 performances: the ridge baseline is the model itself.
        AssertClose.Equal(root.GetProperty("spearman").GetDouble(), baselines[1].GetProperty("spearman").GetDouble(), absolute: 1e-6, relative: 1e-6);
        AssertClose.Equal(root.GetProperty("mse").GetDouble(), baselines[1].GetProperty("mse").GetDouble(), absolute: 1e-3, relative: 1e-4);
        Assert.True(baselines[0].GetProperty("mse").GetDouble() > root.GetProperty("mse").GetDouble());
        Assert.Contains("baseline ridge-mean", r.Stdout, StringComparison.Ordinal);
        var html = File.ReadAllText(Path.Combine(report, "report.html"));
        Assert.Contains("Against the baselines", html, StringComparison.Ordinal);
        Assert.Contains("Predicted against judged", html, StringComparison.Ordinal);
        Assert.Contains("Largest errors", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Replay_Competitions_RankWithinEachCompetition_FisherZAverage_BadFileIsOneLine()
    {
        var outPath = _dir.File("ridge-comp.safetensors");
        Assert.Equal(0, CliRunner.Run("train", "--method", "ridge-mean", "--dataset", _dir.Path, "--target", "TES", "--out", outPath).ExitCode);
        // The 12 validation performances in three events of similar level (blocks of 4 by judged TES): a pooled ρ also
        // counts telling the events apart; within an event the model must order skaters of one level.
        var tes = File.ReadAllLines(Path.Combine(_dir.Path, "train.txt")).Select(l => l.Split(' '))
            .ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));
        var validationIds = CheckpointStore.Load(outPath).Card.Training!.ValidationIds.OrderBy(id => tes[id]).ToList();
        var competitionOf = validationIds.Select((id, i) => (id, name: $"Grand Prix {"ABC"[i / 4]}")).ToDictionary(x => x.id, x => x.name);
        var file = _dir.File("competitions.txt");
        File.WriteAllLines(file, ["# id competition", .. competitionOf.Select(kv => $"{kv.Key} {kv.Value}"), "999 Not Replayed"]);
        var report = _dir.File("replay-comp");
        var r = CliRunner.Run("replay", "--checkpoint", outPath, "--features", Path.Combine(_dir.Path, "features"), "--labels", Path.Combine(_dir.Path, "train.txt"),
            "--validation-split", "--competitions", file, "--report", report);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var root = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json"))).RootElement;
        var timelines = root.GetProperty("timelines").EnumerateArray().ToList();
        Assert.All(timelines, t => Assert.Equal(competitionOf[t.GetProperty("performance_id").GetString()!], t.GetProperty("competition").GetString()));
        var analysis = root.GetProperty("analysis");
        var competitions = analysis.GetProperty("competitions").EnumerateArray().ToList();
        Assert.Equal(["Grand Prix A", "Grand Prix B", "Grand Prix C"], competitions.Select(c => c.GetProperty("competition").GetString()));
        var expected = new List<double>();
        foreach (var c in competitions)
        {
            Assert.Equal(4, c.GetProperty("performances").GetInt32());
            var members = timelines.Where(t => t.GetProperty("competition").GetString() == c.GetProperty("competition").GetString()).ToList();
            var rho = RankCorrelation([.. members.Select(t => t.GetProperty("final").GetDouble())], [.. members.Select(t => t.GetProperty("label").GetDouble())]);
            AssertClose.Equal(rho, c.GetProperty("spearman").GetDouble(), absolute: 1e-9, relative: 1e-9);
            expected.Add(rho);
        }
        var fisher = Math.Tanh(expected.Select(x => Math.Atanh(Math.Clamp(x, -0.9999999, 0.9999999))).Average());
        AssertClose.Equal(fisher, analysis.GetProperty("within_competition_spearman").GetDouble(), absolute: 1e-9, relative: 1e-9);
        Assert.True(fisher < root.GetProperty("spearman").GetDouble(), $"within {fisher} against pooled {root.GetProperty("spearman").GetDouble()}");
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"within competitions: ρ {fisher:F3} (Fisher-z average over 3 competitions"), r.Stdout, StringComparison.Ordinal);
        Assert.Contains("Within each competition", File.ReadAllText(Path.Combine(report, "report.html")), StringComparison.Ordinal);

        File.WriteAllLines(file, ["1 Grand Prix A", "1 Grand Prix B"]);
        var bad = CliRunner.Run("replay", "--checkpoint", outPath, "--features", Path.Combine(_dir.Path, "features"), "--labels", Path.Combine(_dir.Path, "train.txt"),
            "--validation-split", "--competitions", file, "--report", report);
        Assert.Equal(1, bad.ExitCode);
        Assert.Equal($"error: {file}:2: performance '1' is listed twice.", bad.Stderr.Trim());
    }

    /// <summary>Spearman ρ of two lists without ties: Pearson correlation of their ranks.</summary>
    private static double RankCorrelation(double[] a, double[] b)
    {
        static double[] Ranks(double[] v)
        {
            var r = new double[v.Length];
            var order = Enumerable.Range(0, v.Length).OrderBy(i => v[i]).ToArray();
            for (var k = 0; k < order.Length; k++) { r[order[k]] = k; }
            return r;
        }
        var (ra, rb) = (Ranks(a), Ranks(b));
        var (ma, mb) = (ra.Average(), rb.Average());
        var cov = ra.Zip(rb).Sum(p => (p.First - ma) * (p.Second - mb));
        return cov / Math.Sqrt(ra.Sum(x => (x - ma) * (x - ma)) * rb.Sum(x => (x - mb) * (x - mb)));
    }

    [Fact]
    public void Train_CardRecordsTheBaselines_BaselinesCommandAgrees_ServeRefusesAModelThatLosesToThem()
    {
        var outPath = _dir.File("ridge-air.safetensors");
        var t = CliRunner.Run("train", "--method", "ridge-pos", "--dataset", _dir.Path, "--target", "TES", "--out", outPath);
        Assert.True(t.ExitCode == 0, t.Stderr);
        Assert.Contains("baselines on the same split: constant: spearman –  mse", t.Stderr, StringComparison.Ordinal);
        var card = CheckpointStore.Load(outPath).Card;
        var recorded = card.Validation!.Baselines!;
        Assert.Equal(["constant", "ridge-mean"], recorded.Select(b => b.Name));
        // The constant, from the labels themselves: the mean TES of the 48 training performances, against the 12 validation ones.
        var tes = File.ReadAllLines(Path.Combine(_dir.Path, "train.txt")).Select(l => l.Split(' '))
            .ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));
        var validationIds = card.Training!.ValidationIds;
        var mean = tes.Where(kv => !validationIds.Contains(kv.Key)).Average(kv => kv.Value);
        AssertClose.Equal(validationIds.Average(id => Math.Pow(mean - tes[id], 2)), recorded[0].Mse, absolute: 1e-4, relative: 1e-5);
        Assert.All(recorded, b => Assert.Equal(48, b.TrainedOn));
        Assert.Null(card.LosesToBaselines());   // the features carry the score: the positional ridge beats both

        // `aqa baselines` measures the same figures on the card's split and records them (here: the same).
        var dry = CliRunner.Run("baselines", "--checkpoint", outPath, "--dataset", _dir.Path, "--dry-run");
        Assert.True(dry.ExitCode == 0, dry.Stderr);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"baseline ridge-mean: spearman {recorded[1].Spearman:F4}  mse {recorded[1].Mse:F3}"), dry.Stdout, StringComparison.Ordinal);
        Assert.Contains("fit for air: it beats both baselines", dry.Stdout, StringComparison.Ordinal);

        // A model whose validation figures lose to them: serve and demo refuse it in one line, naming the losses and the way out.
        var weak = _dir.File("weak.safetensors");
        File.Copy(outPath, weak);
        File.Copy(CheckpointStore.CardPath(outPath), CheckpointStore.CardPath(weak));
        CheckpointStore.ReplaceCard(weak, card with { ModelId = "weak", Validation = card.Validation with { Spearman = 0.05, Mse = recorded[0].Mse + 1 } });
        var b = CliRunner.Run("baselines", "--checkpoint", weak, "--dataset", _dir.Path);
        Assert.True(b.ExitCode == 0, b.Stderr);
        Assert.Contains("not fit for air: on its validation split (12 performances) it loses to the baselines: MSE", b.Stdout, StringComparison.Ordinal);
        foreach (var command in new[] { "serve", "demo" })
        {
            var args = command == "serve" ? new[] { "serve", "--roles", "scorer", "--bus", "memory", "--checkpoint", weak } : ["demo", "--checkpoint", weak, "--count", "1"];
            var refused = CliRunner.Run(args);
            Assert.NotEqual(0, refused.ExitCode);
            var line = Assert.Single(refused.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains($"{weak} is not fit for air: on its validation split (12 performances) it loses to the baselines: MSE", line, StringComparison.Ordinal);
            Assert.Contains("ρ 0.050 against ridge-mean's", line, StringComparison.Ordinal);
            Assert.Contains("pass --allow-below-baseline to serve this one anyway", line, StringComparison.Ordinal);
        }
        // Allowed: a warning, and the server goes on to its next check (this model reads 16 values per clip; the features
        // this process's ingest makes are wider).
        var allowed = CliRunner.Run("serve", "--roles", "ingest,scorer", "--bus", "memory", "--checkpoint", weak, "--allow-below-baseline");
        Assert.NotEqual(0, allowed.ExitCode);
        Assert.Contains("warning: " + weak + " is not fit for air", allowed.Stderr, StringComparison.Ordinal);
        Assert.Contains("reads 16 values per clip", allowed.Stderr, StringComparison.Ordinal);

        // A card without a validation split (a refit on every performance) has nothing to measure on.
        var refit = _dir.File("refit.safetensors");
        Assert.Equal(0, CliRunner.Run("train", "--method", "ridge-mean", "--dataset", _dir.Path, "--target", "TES", "--out", refit, "--refit-all").ExitCode);
        var none = CliRunner.Run("baselines", "--checkpoint", refit, "--dataset", _dir.Path);
        Assert.NotEqual(0, none.ExitCode);
        Assert.Contains("its card records no validation split", none.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--method", "lasso" }, "--method 'lasso' is not a method: choose one of ilt-aqa, ridge-mean")]
    [InlineData(new[] { "--method", "ridge-mean", "--epochs", "5" }, "--epochs does not apply to --method ridge-mean")]
    [InlineData(new[] { "--length-term" }, "--length-term does not apply to --method ilt-aqa")]
    [InlineData(new[] { "--method", "ridge-mean", "--alphas", "10,x" }, "--alphas: 'x' is not a positive number")]
    [InlineData(new[] { "--method", "ridge-pos", "--length-term" }, "--length-term does not apply to --method ridge-pos")]
    [InlineData(new[] { "--method", "gdlt", "--alphas", "1" }, "--alphas does not apply to --method gdlt")]
    [InlineData(new[] { "--method", "gdlt-ws", "--model-dim", "64" }, "--model-dim does not apply to --method gdlt-ws")]
    [InlineData(new[] { "--method", "mlp-mean", "--grades", "3" }, "--grades, --aux-weight and --heads do not apply to --method mlp-mean")]
    [InlineData(new[] { "--grades", "3" }, "--grades does not apply to --method ilt-aqa")]
    [InlineData(new[] { "--method", "gdlt", "--local-heads" }, "--local-heads applies to --method gdlt-ws only, not gdlt")]
    [InlineData(new[] { "--local-heads" }, "--local-heads does not apply to --method ilt-aqa")]
    [InlineData(new[] { "--method", "ridge-mean", "--no-recalibrate" }, "--no-recalibrate does not apply to --method ridge-mean")]
    [InlineData(new[] { "--no-recalibrate" }, "--no-recalibrate does not apply to --method ilt-aqa")]
    [InlineData(new[] { "--method", "gdlt", "--prompt-embeddings", "p.npy" }, "--prompt-embeddings does not apply to --method gdlt (qgvl only)")]
    [InlineData(new[] { "--method", "ridge-mean", "--companion-weight", "-1" }, "--companion-weight -1 must be 0 or more")]
    [InlineData(new[] { "--method", "gdlt-ws", "--companion-weight", "2", "--no-recalibrate" }, "--companion-weight needs the recalibration line")]
    [InlineData(new[] { "--companion-weight", "2" }, "--companion-weight does not apply to --method ilt-aqa")]
    [InlineData(new[] { "--method", "gdlt-ws", "--companion-weight", "auto" }, "--companion-weight auto applies to the ridges (ridge-mean, ridge-pos, ridge-blend); give --method gdlt-ws a number")]
    [InlineData(new[] { "--method", "ridge-mean", "--companion-weight", "lots" }, "--companion-weight lots must be 0 or more, or auto")]
    [InlineData(new[] { "--method", "bogus+ridge-mean" }, "--method 'bogus+ridge-mean' is not a method: choose one of ilt-aqa, ridge-mean, ridge-pos, ridge-blend, mlp-mean, gdlt, cofinal, tpt, qgvl, gdlt-ws, NAME-cW")]
    [InlineData(new[] { "--method", "gdlt-ws-cauto" }, "--method 'gdlt-ws-cauto': -cauto applies to the ridges")]
    [InlineData(new[] { "--method", "ridge-blend", "--motion", "sometimes" }, "--motion 'sometimes' is not one of off, on, auto")]
    [InlineData(new[] { "--method", "gdlt", "--motion", "on" }, "--motion does not apply to --method gdlt")]
    [InlineData(new[] { "--motion", "auto" }, "--motion does not apply to --method ilt-aqa")]
    [InlineData(new[] { "--method", "ridge-pos", "--squash", "yes" }, "--squash 'yes' is not one of off, on, auto")]
    [InlineData(new[] { "--method", "mlp-mean", "--squash", "on" }, "--squash does not apply to --method mlp-mean")]
    [InlineData(new[] { "--method", "ridge-blend", "--deductions", "auto" }, "--deductions 'auto' is not one of off, on.")]
    [InlineData(new[] { "--method", "ridge-mean", "--deductions", "on" }, "--deductions does not apply to --method ridge-mean")]
    [InlineData(new[] { "--method", "gdlt-ws", "--deductions", "on" }, "--deductions does not apply to --method gdlt-ws")]
    public void TrainRidge_BadOption_OneLineError(string[] extra, string message)
    {
        var r = CliRunner.Run(["train", "--dataset", _dir.Path, "--target", "TES", "--out", _dir.File("x.safetensors"), .. extra]);
        Assert.Equal(1, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(message, lines[0], StringComparison.Ordinal);
    }

    /// <summary>A labels file without the deductions column: its deductions are unknown, never read as zero, so the
    /// deduction term refuses to train on them, in one line naming the performance and the column.</summary>
    [Fact]
    public void TrainRidge_Deductions_LabelsWithoutTheColumn_OneLineError()
    {
        var labels = Path.Combine(_dir.Path, "train.txt");
        var full = File.ReadAllLines(labels);
        try
        {
            File.WriteAllLines(labels, full.Select(l => string.Join(' ', l.Split(' ').Take(3))));
            var r = CliRunner.Run("train", "--method", "ridge-pos", "--deductions", "on", "--dataset", _dir.Path, "--target", "TES", "--out", _dir.File("x.safetensors"), "--alphas", "1");
            Assert.Equal(1, r.ExitCode);
            var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error: ", StringComparison.Ordinal)).ToList();
            Assert.Single(lines);
            Assert.Contains("the deduction term needs the judges' deductions of every training performance", lines[0], StringComparison.Ordinal);
            Assert.Contains("no fourth column: 'id TES PCS deductions'", lines[0], StringComparison.Ordinal);
            Assert.False(File.Exists(_dir.File("x.safetensors")));
        }
        finally { File.WriteAllLines(labels, full); }
    }

    [Fact]
    public void TrainRidgePos_Replay_LiveExactScoresEqualEval()
    {
        var outPath = _dir.File("pos.safetensors");
        var r = CliRunner.Run("train", "--method", "ridge-pos", "--dataset", _dir.Path, "--target", "TES", "--out", outPath, "--alphas", "1,10");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var loaded = CheckpointStore.Load(outPath);
        Assert.Equal(PositionalRidge.MethodName, loaded.Scorer.Method);
        Assert.True(loaded.Card.Validation!.Spearman > 0.8, $"validation ρ {loaded.Card.Validation.Spearman}");
        Assert.Contains(loaded.Card.Training!.Settings["knots"], new[] { "3", "4" });
        var (replayed, stdout) = AssertReplayEqualsEval(outPath);
        // No deduction term: no likely falls to compare, and every clip's deduction is 0.
        Assert.False(replayed.GetProperty("analysis").TryGetProperty("falls", out var falls) && falls.ValueKind != JsonValueKind.Null, falls.ToString());
        Assert.DoesNotContain("likely falls", stdout, StringComparison.Ordinal);
        Assert.All(replayed.GetProperty("timelines").EnumerateArray().SelectMany(t => t.GetProperty("clips").EnumerateArray()), c => Assert.Equal(0, c.GetProperty("deduction").GetDouble()));
    }

    [Fact]
    public void TrainRidgeBlend_SavesOnePositionalModel_ReplayEqualsEval()
    {
        var outPath = _dir.File("blend.safetensors");
        var r = CliRunner.Run("train", "--method", "ridge-blend", "--dataset", _dir.Path, "--target", "PCS", "--out", outPath, "--alphas", "1,10");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("ridge-blend: ridge-mean (penalty ", r.Stderr, StringComparison.Ordinal);
        var loaded = CheckpointStore.Load(outPath);
        Assert.Equal(PositionalRidge.MethodName, loaded.Scorer.Method);   // an average of two linear models is one
        Assert.Equal("ridge-blend", loaded.Card.Training!.Settings["method"]);
        AssertReplayEqualsEval(outPath);
    }

    [Fact]
    public void TrainRidgeBlend_CompanionWeight_OnTheTargetsScale_CardRecordsIt_ReplayEqualsEval()
    {
        var outPath = _dir.File("blend-c.safetensors");
        var r = CliRunner.Run("train", "--method", "ridge-blend", "--companion-weight", "1.5", "--dataset", _dir.Path, "--target", "TES", "--out", outPath, "--alphas", "1,10");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var loaded = CheckpointStore.Load(outPath);
        Assert.Equal("1.5", loaded.Card.Training!.Settings["companion_weight"]);
        Assert.True(loaded.Card.Validation!.Spearman > 0.8, $"validation ρ {loaded.Card.Validation.Spearman}");
        // Trained on TES + 1.5·PCS (about 40 + 45·level) but scoring TES (about 10 + 30·level): the line maps it back.
        var labels = File.ReadAllLines(Path.Combine(_dir.Path, "train.txt")).Select(l => l.Split(' ')).ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));
        var validation = loaded.Card.Training.ValidationIds.Select(id => FeatureStore.Load(Path.Combine(_dir.Path, "features"), id, Dim, (float)labels[id])).ToList();
        var bias = loaded.Scorer.Score(validation, 1f).Zip(validation, (p, v) => p.Score - v.Score!.Value).Average();
        Assert.InRange(bias, -2.0, 2.0);
        var auto = CliRunner.Run("train", "--method", "ridge-blend", "--companion-weight", "auto", "--dataset", _dir.Path, "--target", "TES", "--out", _dir.File("blend-auto.safetensors"), "--alphas", "1,10");
        Assert.True(auto.ExitCode == 0, auto.Stderr);
        Assert.StartsWith("auto from 0,1,2,3: ridge-mean ", CheckpointStore.Load(_dir.File("blend-auto.safetensors")).Card.Training!.Settings["companion_weight"], StringComparison.Ordinal);
        // Refit on every performance with the chosen weights and penalties: still on the target's scale, no validation ids left.
        var refit = CliRunner.Run("train", "--method", "ridge-blend", "--companion-weight", "auto", "--refit-all", "--dataset", _dir.Path, "--target", "TES", "--out", _dir.File("blend-refit.safetensors"), "--alphas", "1,10");
        Assert.True(refit.ExitCode == 0, refit.Stderr);
        var refitted = CheckpointStore.Load(_dir.File("blend-refit.safetensors"));
        Assert.Empty(refitted.Card.Training!.ValidationIds);
        Assert.Contains("companion weight", refitted.Card.Training.Split, StringComparison.Ordinal);
        var refitBias = refitted.Scorer.Score(validation, 1f).Zip(validation, (p, v) => p.Score - v.Score!.Value).Average();
        Assert.InRange(refitBias, -2.0, 2.0);
        AssertReplayEqualsEval(outPath);
    }

    /// <summary>Runs <c>aqa benchmark fisv</c> on <paramref name="methods"/> for one target; returns its progress (stderr)
    /// and its results, whose methods are those asked for, in order.</summary>
    private (string Progress, List<JsonElement> Results) Benchmark(string outName, string target, params string[] methods)
    {
        var outDir = Path.Combine(_dir.Path, outName);
        var r = CliRunner.Run("benchmark", "fisv", "--dataset", _dir.Path, "--methods", string.Join(",", methods), "--targets", target, "--out", outDir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "benchmark.json"))).RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(methods, results.Select(m => m.GetProperty("method").GetString()));
        return (r.Stderr, results);
    }

    /// <summary><c>--motion</c>: the chosen term is saved with the model and on its card, live replay equals offline
    /// evaluation, and the benchmark names the -m / -mauto variants and describes them.</summary>
    [Fact]
    public void TrainRidgeBlend_Motion_SavedAndOnTheCard_ReplayEqualsEval_BenchmarkNamesTheVariants()
    {
        var outPath = _dir.File("blend-m.safetensors");
        var r = CliRunner.Run("train", "--method", "ridge-blend", "--motion", "on", "--dataset", _dir.Path, "--target", "TES", "--out", outPath, "--alphas", "1,10");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("(motion: ridge-mean on, ridge-pos on)", r.Stderr, StringComparison.Ordinal);
        var loaded = CheckpointStore.Load(outPath);
        Assert.True(loaded.Scorer is PositionalRidge { HasMotion: true }, "the blend keeps the motion term");
        Assert.Equal("on", loaded.Card.Training!.Settings["motion"]);
        Assert.True(loaded.Card.Validation!.Spearman > 0.8, $"validation ρ {loaded.Card.Validation.Spearman}");
        AssertReplayEqualsEval(outPath);
        var auto = CliRunner.Run("train", "--method", "ridge-mean", "--motion", "auto", "--dataset", _dir.Path, "--target", "TES", "--out", _dir.File("mean-mauto.safetensors"), "--alphas", "1,10");
        Assert.True(auto.ExitCode == 0, auto.Stderr);
        Assert.Matches("^auto: (on|off)$", CheckpointStore.Load(_dir.File("mean-mauto.safetensors")).Card.Training!.Settings["motion"]);

        var (progress, results) = Benchmark("bench-motion", "PCS", "ridge-mean-m", "ridge-blend-mauto-c1");
        Assert.Matches("ridge-blend-mauto-c1 PCS fold 1/5: ridge-mean penalty [0-9.]+, motion (on|off); ridge-pos", progress);
        Assert.Contains("with the motion term", results[0].GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Contains("chosen with the penalty by the inner folds", results[1].GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Equal(2 * Dim + 1, results[0].GetProperty("parameters").GetInt64());
        Assert.True(results[0].GetProperty("pooled").GetProperty("spearman").GetDouble() > 0.8);
    }

    /// <summary><c>--squash</c>: the squash's centres and spreads are saved with the model and on its card, live replay
    /// equals offline evaluation (the pipeline squashes each clip as it arrives), a refit squashes with all the clips, and
    /// the benchmark runs the -s / -sauto ids.</summary>
    [Fact]
    public void TrainRidgeBlend_Squash_SavedAndOnTheCard_ReplayEqualsEval_BenchmarkRunsTheVariants()
    {
        var outPath = _dir.File("blend-s.safetensors");
        var r = CliRunner.Run("train", "--method", "ridge-blend", "--squash", "on", "--motion", "on", "--dataset", _dir.Path, "--target", "PCS", "--out", outPath, "--alphas", "1,10");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("on squashed clips", r.Stderr, StringComparison.Ordinal);
        var loaded = CheckpointStore.Load(outPath);
        var scorer = Assert.IsType<PositionalRidge>(loaded.Scorer);
        Assert.NotNull(scorer.Squash);
        Assert.True(scorer.HasMotion);
        Assert.Equal("on", loaded.Card.Training!.Settings["squash"]);
        Assert.True(loaded.Card.Validation!.Spearman > 0.8, $"validation ρ {loaded.Card.Validation.Spearman}");
        AssertReplayEqualsEval(outPath);
        var refit = CliRunner.Run("train", "--method", "ridge-mean", "--squash", "auto", "--refit-all", "--dataset", _dir.Path, "--target", "TES", "--out", _dir.File("mean-s.safetensors"), "--alphas", "1,10");
        Assert.True(refit.ExitCode == 0, refit.Stderr);
        var card = CheckpointStore.Load(_dir.File("mean-s.safetensors")).Card;
        Assert.Matches("^auto: (on|off)$", card.Training!.Settings["squash"]);
        Assert.Empty(card.Training.ValidationIds);

        var (progress, results) = Benchmark("bench-squash", "TES", "ridge-pos-s", "ridge-blend-sauto-mauto");
        Assert.Matches("ridge-blend-sauto-mauto TES fold 1/5: ridge-mean penalty [0-9.]+, motion (on|off); ridge-pos .*, motion (on|off); squash (on|off)", progress);
        Assert.Contains("with the squash", results[0].GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.True(results[0].GetProperty("pooled").GetProperty("spearman").GetDouble() > 0.8);
    }

    /// <summary><c>--deductions on</c> on a dataset where each fall (a clip that stands out along one feature) costs 2
    /// points and the deduction column counts the falls: the term is priced below zero, saved with the model and on its
    /// card, live replay equals offline evaluation, a refit keeps it, and the benchmark runs the -d ids.</summary>
    [Fact]
    public void TrainRidgeBlend_Deductions_PricedSavedAndOnTheCard_ReplayEqualsEval_BenchmarkRunsTheVariants()
    {
        WriteDataset(80, seed: 8, (rng, f, clips, level) =>
        {
            var falls = rng.Next(3);
            for (var c = 0; c < clips; c++) { f[c * Dim] += (float)(3 * level); }
            for (var c = 0; c < falls; c++) { f[(rng.Next(clips) * Dim) + 2] += 5f; }
            return (10 + (30 * level) - (2 * falls) + (0.3 * rng.NextDouble()), 20 + (10 * level), falls);
        });
        var outPath = _dir.File("blend-d.safetensors");
        var r = CliRunner.Run("train", "--method", "ridge-blend", "--motion", "on", "--deductions", "on", "--dataset", _dir.Path, "--target", "TES", "--out", outPath, "--alphas", "0.1,1");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(r.Stderr, "deductions \\(-[0-9.]+ points per expected deduction\\)"), r.Stderr);
        var loaded = CheckpointStore.Load(outPath);
        var scorer = Assert.IsType<PositionalRidge>(loaded.Scorer);
        Assert.NotNull(scorer.Deductions);
        Assert.InRange(scorer.Deductions!.Points, -3.0, -0.3);
        Assert.StartsWith("on: -", loaded.Card.Training!.Settings["deductions"], StringComparison.Ordinal);
        var (replayed, stdout) = AssertReplayEqualsEval(outPath);
        // The replay compares the model's likely falls with the judges' deductions column, and its timelines carry each
        // clip's deduction apart from its score (none below the planted execution scores' range).
        var falls = replayed.GetProperty("analysis").GetProperty("falls");
        var deducted = falls.GetProperty("with_judged_deduction").GetInt32();
        var without = falls.GetProperty("performances").GetInt32() - deducted;
        Assert.True(deducted >= 5 && without >= 3, falls.ToString());
        Assert.True(falls.GetProperty("hits").GetInt32() >= 0.5 * deducted, falls.ToString());   // a 2-point fall, trained on 64 performances
        Assert.True(falls.GetProperty("false_alarms").GetInt32() <= 0.2 * without, falls.ToString());
        Assert.True(falls.GetProperty("spearman").GetDouble() > 0.6, falls.ToString());
        Assert.Contains("likely falls (a clip expecting -0.5 points or less): in ", stdout, StringComparison.Ordinal);
        var clips = replayed.GetProperty("timelines").EnumerateArray().SelectMany(t => t.GetProperty("clips").EnumerateArray()).ToList();
        Assert.Contains(clips, c => c.GetProperty("deduction").GetDouble() <= -0.5);
        Assert.All(clips, c => Assert.InRange(c.GetProperty("deduction").GetDouble(), -10, 0));
        var refit = CliRunner.Run("train", "--method", "ridge-pos", "--deductions", "on", "--refit-all", "--dataset", _dir.Path, "--target", "TES", "--out", _dir.File("pos-d.safetensors"), "--alphas", "0.1,1");
        Assert.True(refit.ExitCode == 0, refit.Stderr);
        Assert.NotNull(Assert.IsType<PositionalRidge>(CheckpointStore.Load(_dir.File("pos-d.safetensors")).Scorer).Deductions);

        var (progress, results) = Benchmark("bench-deductions", "TES", "ridge-blend", "ridge-blend-d");
        Assert.Matches("ridge-blend-d TES fold 1/5: .*; deduction term -[0-9.]+ points per expected deduction, inner MSE [0-9.]+ → [0-9.]+", progress);
        Assert.Contains("with the deduction term", results[1].GetProperty("description").GetString(), StringComparison.Ordinal);
        double Mse(JsonElement m) => m.GetProperty("pooled").GetProperty("mse").GetDouble();
        Assert.True(Mse(results[1]) < 0.9 * Mse(results[0]), $"out-of-fold mse {Mse(results[1])} with the term, {Mse(results[0])} without");
    }

    [Theory]
    [InlineData("gdlt-ws")]
    [InlineData("gdlt")]
    [InlineData("tpt")]
    public void TrainSequenceMethod_Replay_LiveExactScoresEqualEval(string method)
    {
        var outPath = _dir.File(method + ".safetensors");
        var r = CliRunner.Run("train", "--method", method, "--dataset", _dir.Path, "--target", "PCS", "--out", outPath, "--epochs", "4", "--train-length", "8", "--hidden", "16");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("epoch    4/4", r.Stderr, StringComparison.Ordinal);
        Scoring.Torch.TorchFormats.Register();   // this process loads the checkpoint too
        var loaded = CheckpointStore.Load(outPath);
        Assert.Equal(method, loaded.Scorer.Method);
        Assert.Equal(ModelCard.SequenceFormat, loaded.Card.Format);
        Assert.Equal(16, loaded.Card.SequenceMethod!.Hidden);
        Assert.Equal("4", loaded.Card.Training!.Settings["epochs"]);
        AssertReplayEqualsEval(outPath);
    }

    [Fact]
    public void TrainQgvl_PromptEmbeddings_InitialiseThePrototypes_WrongShapeIsOneLine()
    {
        var prompts = _dir.File("prompts.npy");
        var rng = new Random(4);
        var values = new float[4 * 10];
        Gaussian.Fill(values, rng);
        NpyWriter.Write(prompts, values, 4, 10);
        var outPath = _dir.File("qgvl.safetensors");
        var r = CliRunner.Run("train", "--method", "qgvl", "--dataset", _dir.Path, "--target", "TES", "--out", outPath, "--epochs", "2", "--train-length", "8",
            "--hidden", "16", "--prompt-embeddings", prompts);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Scoring.Torch.TorchFormats.Register();
        var loaded = CheckpointStore.Load(outPath);
        Assert.Equal("qgvl", loaded.Scorer.Method);
        Assert.Equal(10, loaded.Card.SequenceMethod!.PromptDim);
        Assert.Equal("prompts.npy", loaded.Card.SequenceMethod.PromptEmbeddings);

        var bad = CliRunner.Run("train", "--method", "qgvl", "--dataset", _dir.Path, "--target", "TES", "--out", outPath, "--prompt-embeddings", prompts, "--grades", "5");
        Assert.Equal(1, bad.ExitCode);
        var lines = bad.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains("4 rows × 10; give one row per grade (5, --grades)", lines[0], StringComparison.Ordinal);
    }

    // The live pipeline (exact mode, one clip at a time) ends each held-out performance on the offline score.
    private (JsonElement Report, string Stdout) AssertReplayEqualsEval(string checkpoint)
    {
        var report = _dir.File(Path.GetFileNameWithoutExtension(checkpoint) + "-replay");
        var features = Path.Combine(_dir.Path, "features");
        var labels = Path.Combine(_dir.Path, "train.txt");
        var replay = CliRunner.Run("replay", "--checkpoint", checkpoint, "--features", features, "--labels", labels, "--validation-split", "--report", report);
        Assert.True(replay.ExitCode == 0, replay.Stderr);
        var json = _dir.File(Path.GetFileNameWithoutExtension(checkpoint) + "-eval.json");
        var eval = CliRunner.Run("eval", "--checkpoint", checkpoint, "--features", features, "--labels", labels, "--validation-split", "--json", json);
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        var replayed = JsonDocument.Parse(File.ReadAllText(Path.Combine(report, "report.json"))).RootElement;
        var evaluated = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        AssertClose.Equal(evaluated.GetProperty("spearman").GetDouble(), replayed.GetProperty("spearman").GetDouble(), absolute: 1e-6, relative: 1e-6);
        AssertClose.Equal(evaluated.GetProperty("mse").GetDouble(), replayed.GetProperty("mse").GetDouble(), absolute: 1e-3, relative: 1e-4);
        return (replayed, replay.Stdout);
    }

    [Fact]
    public void Benchmark_SameFoldsForEveryMethod_PooledOutOfFold_WritesJsonAndHtml()
    {
        var outDir = Path.Combine(_dir.Path, "bench");
        var r = CliRunner.Run("benchmark", "fisv", "--dataset", _dir.Path, "--methods", "constant,ridge-mean,ridge-mean+len", "--targets", "TES,PCS", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("fold 5/5", r.Stderr, StringComparison.Ordinal);   // progress on stderr
        var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "benchmark.json"))).RootElement;
        var results = doc.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(6, results.Count);
        foreach (var m in results)
        {
            Assert.Equal(60, m.GetProperty("pooled").GetProperty("n").GetInt32());   // every performance predicted once, out of fold
            Assert.Equal(60, m.GetProperty("folds").EnumerateArray().Sum(f => f.GetProperty("n").GetInt32()));
            var curve = m.GetProperty("earlyPrediction").EnumerateArray().ToList();
            Assert.Equal(10, curve.Count);
            if (m.GetProperty("method").GetString() == "constant")
            {
                // A constant ranks nothing: no ρ anywhere, rather than fold-mean noise.
                Assert.Equal(JsonValueKind.Null, m.GetProperty("pooled").GetProperty("spearman").ValueKind);
                Assert.Equal(JsonValueKind.Null, curve[^1].GetProperty("spearman").ValueKind);
                Assert.Equal(JsonValueKind.Null, m.GetProperty("spearmanInterval95").ValueKind);
                continue;
            }
            AssertClose.Equal(m.GetProperty("pooled").GetProperty("spearman").GetDouble(), curve[^1].GetProperty("spearman").GetDouble(), absolute: 1e-9, relative: 1e-9);
            AssertClose.Equal(1.0, m.GetProperty("weightEntropy").GetDouble(), absolute: 1e-4, relative: 0);   // ridge weighs every clip 1/T
            Assert.Equal(60, m.GetProperty("outOfFold").EnumerateObject().Count());
            var interval = m.GetProperty("spearmanInterval95").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.True(interval[0] <= interval[1]);
        }
        double Metric(string method, string target, string name) =>
            results.Single(m => m.GetProperty("method").GetString() == method && m.GetProperty("target").GetString() == target).GetProperty("pooled").GetProperty(name).GetDouble();
        foreach (var target in new[] { "TES", "PCS" })
        {
            Assert.True(Metric("ridge-mean", target, "spearman") > 0.8, target);
            Assert.True(Metric("ridge-mean", target, "mse") < Metric("constant", target, "mse"), target);
        }
        var html = File.ReadAllText(Path.Combine(outDir, "benchmark.html"));
        Assert.Contains("selected on the test set by their authors", html, StringComparison.Ordinal);
        Assert.Contains("ridge-mean+len", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--methods", "gdlt-ws", "--cross-fit", "0" }, "--cross-fit 0 must be at least 1")]
    [InlineData(new[] { "--methods", "ridge-pos,ridge-mean", "--cross-fit", "3" }, "--cross-fit applies to the sequence methods (mlp-mean, gdlt, cofinal, tpt, qgvl, gdlt-ws, gdlt-ws-local), alone or in a blend, and none of ridge-pos, ridge-mean has one")]
    public void Benchmark_CrossFitMisused_OneLineError(string[] args, string message)
    {
        var r = CliRunner.Run(["benchmark", "fisv", "--dataset", _dir.Path, "--out", _dir.File("b"), .. args]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(message, r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Benchmark_UnknownMethod_OneLineErrorNamingTheChoices()
    {
        var r = CliRunner.Run("benchmark", "fisv", "--dataset", _dir.Path, "--methods", "ridge-mean,tpt-x", "--out", _dir.File("b"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--methods: 'tpt-x' is not a method: choose from constant, ridge-mean, ridge-mean+len, ridge-pos, ridge-blend, mlp-mean, gdlt, cofinal, tpt, qgvl, gdlt-ws, gdlt-ws-local, ilt-aqa", r.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ridge-mean-cx", "the companion weight after -c must be a positive number or auto (e.g. ridge-mean-c2)")]
    [InlineData("gdlt-ws-cauto", "-cauto applies to the ridges (ridge-mean, ridge-mean+len, ridge-pos, ridge-blend); give gdlt-ws a weight (e.g. gdlt-ws-c2)")]
    [InlineData("ridge-mean-c0", "the companion weight after -c must be a positive number")]
    [InlineData("constant-c1", "'constant-c1' is not a method")]
    [InlineData("ilt-aqa+ridge-mean", "'ilt-aqa+ridge-mean' is not a method")]
    [InlineData("ridge-mean+", "'ridge-mean+' is not a method")]
    [InlineData("gdlt-m", "'gdlt-m' is not a method: choose from constant, ridge-mean, ridge-mean+len, ridge-pos, ridge-blend, mlp-mean, gdlt, cofinal, tpt, qgvl, gdlt-ws, gdlt-ws-local, ilt-aqa, each optionally ending in -cW (companion weight W), the ridges also in -s or -sauto (the squash) then -m or -mauto (the motion term) before it")]
    [InlineData("ridge-mean-mx", "'ridge-mean-mx' is not a method")]
    [InlineData("ridge-blend-m-s", "'ridge-blend-m-s' is not a method")]
    [InlineData("ridge-mean-s-d", "'ridge-mean-s-d': -d (the deduction term) applies to ridge-pos and ridge-blend")]
    [InlineData("ridge-blend-d-s", "'ridge-blend-d-s' is not a method")]
    [InlineData("gdlt-ws+ridge-mean-d", "'ridge-mean-d': -d (the deduction term) applies to ridge-pos and ridge-blend")]
    [InlineData("ridge-blend-m-cx", "the companion weight after -c must be a positive number or auto (e.g. ridge-blend-m-c2)")]
    public void Benchmark_BadCompanionOrBlend_OneLineError(string id, string message)
    {
        var r = CliRunner.Run("benchmark", "fisv", "--dataset", _dir.Path, "--methods", id, "--out", _dir.File("b"));
        Assert.Equal(1, r.ExitCode);
        Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(message, r.Stderr, StringComparison.Ordinal);
    }

    /// <summary>A companion weight and a blend under the benchmark: the blend's out-of-fold prediction is the average of its
    /// parts' (each trained on the same fold), and the companion's line keeps the predictions on the target's scale.</summary>
    [Fact]
    public void Benchmark_CompanionAndBlend_BlendIsThePartsAverage_OutOfFold()
    {
        var outDir = Path.Combine(_dir.Path, "bench-blend");
        var r = CliRunner.Run("benchmark", "fisv", "--dataset", _dir.Path, "--methods", "constant,ridge-mean-c1,ridge-pos,ridge-mean-c1+ridge-pos", "--targets", "TES", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var results = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "benchmark.json"))).RootElement.GetProperty("results").EnumerateArray().ToList();
        JsonElement Result(string method) => results.Single(m => m.GetProperty("method").GetString() == method);
        Dictionary<string, double> OutOfFold(string method) => Result(method).GetProperty("outOfFold").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
        var (a, b, blend) = (OutOfFold("ridge-mean-c1"), OutOfFold("ridge-pos"), OutOfFold("ridge-mean-c1+ridge-pos"));
        Assert.Equal(60, blend.Count);
        foreach (var (id, v) in blend) { AssertClose.Equal((a[id] + b[id]) / 2, v, absolute: 1e-3, relative: 1e-5); }
        Assert.Contains("the other judged score", Result("ridge-mean-c1").GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.True(Result("ridge-mean-c1").GetProperty("pooled").GetProperty("spearman").GetDouble() > 0.8);
        Assert.True(Result("ridge-mean-c1").GetProperty("pooled").GetProperty("mse").GetDouble() < 0.5 * Result("constant").GetProperty("pooled").GetProperty("mse").GetDouble());
    }

    /// <summary><c>aqa train</c> with a blend of a cross-fit sequence ensemble (companion weight) and a ridge: one ensemble
    /// checkpoint whose members and weights are on its card, and whose live replay equals its offline evaluation.</summary>
    [Fact]
    public void TrainBlend_CrossFitEnsembleAndRidge_OneCheckpoint_ReplayEqualsEval()
    {
        var outPath = _dir.File("blend-xf.safetensors");
        var r = CliRunner.Run("train", "--method", "gdlt-ws-c1+ridge-mean", "--cross-fit", "2", "--epochs", "3", "--dataset", _dir.Path, "--target", "TES", "--out", outPath);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("member 2/2", r.Stderr, StringComparison.Ordinal);
        Scoring.Torch.TorchFormats.Register();
        var loaded = CheckpointStore.Load(outPath);
        Assert.Equal(ModelCard.EnsembleFormat, loaded.Card.Format);
        Assert.Equal("gdlt-ws-c1-x2+ridge-mean", loaded.Scorer.Method);
        Assert.Equal([0.25, 0.25, 0.5], loaded.Card.Ensemble!.Members.Select(m => m.Weight));
        Assert.Equal("gdlt-ws", loaded.Card.Ensemble.Members[0].Card.SequenceMethod!.Method);
        Assert.Equal(ModelCard.RidgeFormat, loaded.Card.Ensemble.Members[2].Card.Format);
        Assert.Equal("2", loaded.Card.Training!.Settings["cross_fit"]);
        // The card keeps what the training part chose: each member's epoch and the ridge's penalty.
        Assert.Matches(@"gdlt-ws-c1-x2: member 1/2: best inner epoch [1-3], .* \| gdlt-ws-c1-x2: member 2/2: best inner epoch [1-3], .* \| ridge-mean: penalty (30|100|300|1000)$",
            loaded.Card.Training.Settings["selection"]);
        Assert.Equal(48, loaded.Card.Training.TrainCount);
        Assert.Equal(12, loaded.Card.Validation!.Count);
        (loaded.Scorer as IDisposable)?.Dispose();
        AssertReplayEqualsEval(outPath);
        var bad = CliRunner.Run("train", "--method", "ridge-mean+ridge-pos", "--cross-fit", "2", "--dataset", _dir.Path, "--target", "TES", "--out", _dir.File("y.safetensors"));
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("--cross-fit applies to the sequence methods", bad.Stderr, StringComparison.Ordinal);
        bad = CliRunner.Run("train", "--method", "ridge-mean+ridge-pos", "--hidden", "8", "--dataset", _dir.Path, "--target", "TES", "--out", _dir.File("y.safetensors"));
        Assert.Contains("--hidden does not apply to --method ridge-mean+ridge-pos", bad.Stderr, StringComparison.Ordinal);
    }
}
