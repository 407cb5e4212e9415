using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Evaluation;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Torch;
using AqaStream.Scoring.Torch.Methods;
using AqaStream.Scoring.Training;

namespace AqaStream.Cli.Commands;

/// <summary>
/// <c>aqa benchmark fisv</c>: every method on the same seeded folds of train.txt under the honest protocol
/// (<see cref="CrossValidation"/>), written to <c>benchmark.json</c> and <c>benchmark.html</c>. The test scores are never
/// read (only train.txt is).
/// </summary>
internal static class BenchmarkCommand
{
    /// <summary>Methods, in report order; <c>ilt-aqa</c> is slow (minutes per fold) and so not in the default list.</summary>
    public static readonly IReadOnlyList<string> Methods = ["constant", "ridge-mean", "ridge-mean+len", "ridge-pos", "ridge-blend", "mlp-mean", "gdlt", "cofinal", "tpt", "qgvl", "gdlt-ws", "gdlt-ws-local", "ilt-aqa"];

    private static readonly string[] s_defaultMethods = ["constant", "ridge-mean", "ridge-mean+len", "ridge-pos", "ridge-blend"];

    /// <summary>Figures the authors report on the Fis-V test set, each selected on that test set (best test epoch).</summary>
    private static readonly (string Method, string Paper, double Tes, double Pcs)[] s_published =
    [
        ("gdlt", "GDLT (CVPR 2022)", 0.685, 0.820),
        ("cofinal", "CoFInAl (IJCAI 2024)", 0.716, 0.843),
    ];

    public static Command Create()
    {
        var dataset = new Option<DirectoryInfo>("--dataset") { Description = "Fis-V directory holding features/{id}.npy and train.txt.", DefaultValueFactory = _ => new DirectoryInfo("../shared/datasets/fis-v") };
        var methods = new Option<string>("--methods")
        {
            Description = $"Comma-separated methods: {string.Join(", ", Methods)}. Any but constant and ilt-aqa may end in -cW (e.g. ridge-blend-c2): trained on "
                + "the target + W × the other judged score, then mapped back to the target by a least-squares line on held-out predictions (inner folds for the ridges, the inner validation fold for the sequence methods). "
                + "The ridges may carry -s (the squash: tanh of each clip's standardised features before pooling) or -sauto, then -m (the motion term: the mean change of each feature "
                + "from clip to clip, beside the mean) or -mauto (auto: in or out, chosen by the inner folds) before it, e.g. ridge-blend-sauto-mauto-cauto.",
            DefaultValueFactory = _ => string.Join(",", s_defaultMethods),
        };
        var targets = new Option<string>("--targets") { Description = "Comma-separated targets: TES, PCS.", DefaultValueFactory = _ => "TES,PCS" };
        var output = new Option<DirectoryInfo>("--out") { Description = "Directory for benchmark.json and benchmark.html.", Required = true };
        var folds = new Option<int>("--folds") { Description = "Folds of train.txt (seeded shuffle; identical for every method).", DefaultValueFactory = _ => 5 };
        var seed = new Option<int>("--seed") { Description = "Seed of the folds and of every method.", DefaultValueFactory = _ => 42 };
        var epochs = new Option<int>("--epochs") { Description = "ilt-aqa: epochs per fold (the best on an inner fold is kept).", DefaultValueFactory = _ => 60 };
        var modelDim = new Option<int>("--model-dim") { Description = "ilt-aqa: decoder width (input projection 1024 → d).", DefaultValueFactory = _ => 256 };
        var crossFit = new Option<int>("--cross-fit")
        {
            Description = "Sequence methods, alone or in a blend (the others ignore it): train K models per fold, one per inner fold (each selected and recalibrated on its own), and score with their average (K times the training time; 1: one model).",
            DefaultValueFactory = _ => 1,
        };
        var threads = CommonOptions.Threads();
        var fisv = new Command("fisv", "Train every method on the same folds of Fis-V's train.txt, select inside the folds only, and report pooled "
            + "out-of-fold ρ and MSE (with bootstrap intervals), fold spread, time, size and the early-prediction curve.")
        {
            dataset, methods, targets, output, folds, seed, epochs, modelDim, crossFit, threads,
        };
        fisv.SetAction(r => AqaApp.Guarded(() =>
        {
            EngineOptions.SetThreads(r.GetValue(threads));
            var chosen = Split(r.GetValue(methods)!, Methods, "--methods", allowCompanion: true);
            foreach (var id in chosen) { _ = Parts(id); }
            var chosenTargets = Split(r.GetValue(targets)!, ["TES", "PCS"], "--targets").Select(Enum.Parse<ScoreTarget>).ToList();
            if (r.GetValue(folds) < 2) { throw new ArgumentException("--folds must be at least 2."); }
            if (r.GetValue(crossFit) < 1) { throw new ArgumentException($"--cross-fit {r.GetValue(crossFit)} must be at least 1 (1: one model per fold)."); }
            if (r.GetValue(crossFit) > 1 && !chosen.Any(m => Parts(m).Any(IsSequence)))
            {
                throw new ArgumentException($"--cross-fit applies to the sequence methods ({string.Join(", ", SequenceMethodOptions.Methods)}, gdlt-ws-local), alone or in a blend, and none of {string.Join(", ", chosen)} has one.");
            }
            var root = CommonOptions.ExistingDirectory(r.GetValue(dataset)!, "dataset directory");
            var labelsPath = Path.Combine(root, "train.txt");
            var featureDir = Path.Combine(root, "features");
            var labels = ScoreLabels.ReadFile(labelsPath);
            if (labels.Count < r.GetValue(folds) * 10) { throw new DataFormatException($"{labelsPath}: {labels.Count} performances are too few for {r.GetValue(folds)} folds."); }
            var featureDim = NpyReader.ReadFile(Path.Combine(featureDir, labels[0].Id + ".npy")).Columns;
            var outDir = Directory.CreateDirectory(r.GetValue(output)!.FullName).FullName;
            var started = DateTimeOffset.UtcNow;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var results = new List<MethodResult>();
            foreach (var target in chosenTargets)
            {
                Console.Error.WriteLine($"loading {labels.Count} performances ({target}) from {featureDir} ...");
                var samples = FeatureStore.LoadLabelled(featureDir, labels, target, featureDim);
                foreach (var name in chosen)
                {
                    var method = MethodFor(name, featureDim, r.GetValue(epochs), r.GetValue(modelDim), target, r.GetValue(crossFit));
                    var result = CrossValidation.Run(method, target, samples, r.GetValue(folds), r.GetValue(seed), line => Console.Error.WriteLine($"[{clock.Elapsed:hh\\:mm\\:ss}] {line}"));
                    results.Add(result);
                    var rho = result.Ranks
                        ? string.Create(CultureInfo.InvariantCulture, $"pooled ρ {result.Pooled.Spearman:F3} [{result.SpearmanInterval.Low:F3}, {result.SpearmanInterval.High:F3}]  ")
                        : "pooled ρ –                     ";
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{target} {result.Method,-15} {rho}mse {result.Pooled.Mse,6:F2}  {(result.Ranks ? $"folds ρ {result.FoldSpearmanMean:F3} ± {result.FoldSpearmanSd:F3}" : "folds ρ –")}  {result.TrainSeconds,6:F0} s"));
                }
            }
            var json = Path.Combine(outDir, "benchmark.json");
            var html = Path.Combine(outDir, "benchmark.html");
            var protocol = $"{r.GetValue(folds)} folds of {Path.GetFileName(labelsPath)} ({labels.Count} performances), seeded shuffle (seed {r.GetValue(seed)}), identical for every method; "
                + "each fold's model is trained and selected on the other folds only; predictions pooled out of fold; the test split is never read";
            File.WriteAllText(json, Json(results, protocol, started, clock.Elapsed.TotalSeconds));
            File.WriteAllText(html, Html(results, protocol, clock.Elapsed.TotalSeconds));
            Console.WriteLine($"wrote {json} and {html} ({clock.Elapsed.TotalMinutes:F1} min)");
            return 0;
        }));
        return new Command("benchmark", "Compare scoring methods under the honest protocol (selection on folds of the training data only).") { fisv };
    }

    private static List<string> Split(string text, IReadOnlyList<string> valid, string option, bool allowCompanion = false)
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList();
        if (items.Count == 0) { throw new ArgumentException($"{option} is empty: choose from {string.Join(", ", valid)}."); }
        if (!allowCompanion)
        {
            var bad = items.FirstOrDefault(item => !valid.Contains(item, StringComparer.Ordinal));
            if (bad is not null) { throw new ArgumentException($"{option}: '{bad}' is not one of {string.Join(", ", valid)}."); }
        }
        return items.Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>Whether a method id (without blend) names a sequence method.</summary>
    internal static bool IsSequence(string id) => SequenceMethodOptions.Methods.Contains(WithoutCompanion(id).Name) || WithoutCompanion(id).Name == "gdlt-ws-local";

    /// <summary>
    /// The parts of a method id: one id, or an equal blend <c>A+B[+C...]</c> of ids, each a method of <see cref="Methods"/>
    /// optionally ending in <c>-cW</c> (a companion weight; not constant or ilt-aqa, which also cannot be blended).
    /// <c>ridge-mean+len</c> is one method. Anything else is a one-line error naming the valid choices.
    /// </summary>
    internal static IReadOnlyList<string> Parts(string id)
    {
        var parts = SplitParts(id);
        foreach (var part in parts) { _ = DeductionsOf(WithoutCompanion(part).Name); }   // -d on ridge-mean says so before anything loads
        return parts;
    }

    private static IReadOnlyList<string> SplitParts(string id)
    {
        static bool Single(string part)
        {
            try
            {
                var (name, weights) = WithoutCompanion(part);
                return Methods.Contains(BaseName(name), StringComparer.Ordinal) && !(weights is not [0] && name is "constant" or "ilt-aqa");
            }
            catch (ArgumentException) { return false; }
        }
        if (Single(id)) { return [id]; }
        var pieces = id.Split('+');
        for (var cut = 1; cut < pieces.Length; cut++)
        {
            var head = string.Join("+", pieces[..cut]);
            if (!Single(head)) { continue; }
            try
            {
                var rest = SplitParts(string.Join("+", pieces[cut..]));
                var parts = new List<string> { head };
                parts.AddRange(rest);
                if (parts.Any(p => WithoutCompanion(p).Name is "constant" or "ilt-aqa")) { break; }
                return parts;
            }
            catch (ArgumentException) { }
        }
        _ = WithoutCompanion(id);   // a malformed -cW says so
        throw new ArgumentException($"--methods: '{id}' is not a method: choose from {string.Join(", ", Methods)}, each optionally ending in -cW (companion weight W), "
            + "the ridges also in -s or -sauto (the squash) then -m or -mauto (the motion term) before it (on, or chosen by the inner folds: ridge-blend-sauto-mauto-cauto), "
            + "ridge-pos and ridge-blend then -d (the deduction term: ridge-blend-sauto-d-cauto), or blend them as A+B (not constant or ilt-aqa).");
    }

    private static readonly System.Text.RegularExpressions.Regex s_ridgeSuffixes =
        new(@"^(?<name>ridge-mean|ridge-mean\+len|ridge-pos|ridge-blend)(?<s>-s(?<sauto>auto)?)?(?<m>-m(?<mauto>auto)?)?(?<d>-d)?$");

    /// <summary>A method name without its squash and motion suffixes: <c>ridge-blend-s-mauto</c> is ridge-blend; a name
    /// without them is itself.</summary>
    internal static string BaseName(string name)
    {
        var match = s_ridgeSuffixes.Match(name);
        return match.Success ? match.Groups["name"].Value : name;
    }

    /// <summary>A ridge name's motion choices: <c>-m</c> on, <c>-mauto</c> off or on by the inner folds, none off.</summary>
    internal static IReadOnlyList<bool> MotionOf(string name)
    {
        var match = s_ridgeSuffixes.Match(name);
        return !match.Success || !match.Groups["m"].Success ? OnOffAuto.Off : match.Groups["mauto"].Success ? OnOffAuto.Auto : OnOffAuto.On;
    }

    /// <summary>Whether a ridge name asks for the deduction term (<c>-d</c>, after the other suffixes; ridge-pos and
    /// ridge-blend only: a one-line error on ridge-mean).</summary>
    internal static bool DeductionsOf(string name)
    {
        var match = s_ridgeSuffixes.Match(name);
        if (!match.Success || !match.Groups["d"].Success) { return false; }
        if (match.Groups["name"].Value is not ("ridge-pos" or "ridge-blend"))
        {
            throw new ArgumentException($"--methods: '{name}': -d (the deduction term) applies to ridge-pos and ridge-blend; ridge-mean would lose its streaming clip scores.");
        }
        return true;
    }

    /// <summary>A ridge name's squash choices: <c>-s</c> on, <c>-sauto</c> off or on by the inner folds, none off.</summary>
    internal static IReadOnlyList<bool> SquashOf(string name)
    {
        var match = s_ridgeSuffixes.Match(name);
        return !match.Success || !match.Groups["s"].Success ? OnOffAuto.Off : match.Groups["sauto"].Success ? OnOffAuto.Auto : OnOffAuto.On;
    }

    /// <summary>A method id and its companion weights: <c>ridge-blend-c2</c> is (ridge-blend, [2]); without a suffix, [0];
    /// <c>-cauto</c> (the ridges only) is <see cref="Companion.AutoGrid"/>, chosen from by the inner folds. A malformed or
    /// non-positive weight is a one-line error.</summary>
    internal static (string Name, IReadOnlyList<double> Weights) WithoutCompanion(string id)
    {
        var match = System.Text.RegularExpressions.Regex.Match(id, @"^(?<name>.+)-c(?<w>[^-]*)$");
        if (!match.Success || !Methods.Contains(BaseName(match.Groups["name"].Value), StringComparer.Ordinal)) { return (id, Companion.None); }
        var name = match.Groups["name"].Value;
        if (match.Groups["w"].Value == "auto")
        {
            if (BaseName(name) is not ("ridge-mean" or "ridge-mean+len" or "ridge-pos" or "ridge-blend"))
            {
                throw new ArgumentException($"--methods: '{id}': -cauto applies to the ridges (ridge-mean, ridge-mean+len, ridge-pos, ridge-blend); give {name} a weight (e.g. {name}-c2).");
            }
            return (name, Companion.AutoGrid);
        }
        if (!double.TryParse(match.Groups["w"].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var w) || !(w > 0) || !double.IsFinite(w))
        {
            throw new ArgumentException($"--methods: '{id}': the companion weight after -c must be a positive number or auto (e.g. {name}-c2).");
        }
        return (name, [w]);
    }

    /// <summary>The benchmark method of an id (<see cref="Parts"/>): one method, or the equal blend of its parts.</summary>
    internal static IBenchmarkMethod MethodFor(string id, int featureDim, int epochs, int modelDim, ScoreTarget target, int crossFit)
    {
        var parts = Parts(id);
        return parts.Count == 1 ? SingleMethod(parts[0], featureDim, epochs, modelDim, target, crossFit)
            : new BlendMethod([.. parts.Select(p => SingleMethod(p, featureDim, epochs, modelDim, target, crossFit))]);
    }

    private static IBenchmarkMethod SingleMethod(string id, int featureDim, int epochs, int modelDim, ScoreTarget target, int crossFit)
    {
        var (suffixed, companion) = WithoutCompanion(id);
        var motion = MotionOf(suffixed);
        var squash = SquashOf(suffixed);
        var deductions = DeductionsOf(suffixed);
        var name = BaseName(suffixed);
        return name switch
        {
        "constant" => new ConstantMethod(),
        "ridge-mean" => new RidgeMethod(lengthTerm: false, companion, motion, squash),
        "ridge-mean+len" => new RidgeMethod(lengthTerm: true, companion, motion, squash),
        "ridge-pos" => new PositionalRidgeMethod(companion, motion, squash, deductions),
        "ridge-blend" => new RidgeBlendMethod(companion, motion, squash, deductions),
        // The shipped decoders' settings (README, Shipped models).
        "mlp-mean" or "gdlt" or "cofinal" or "tpt" or "qgvl" or "gdlt-ws" => new SequenceBenchmarkMethod(new SequenceMethodOptions { Method = name, FeatureDim = featureDim },
            SequenceTrainer.Defaults(name) with { Epochs = epochs, CompanionWeight = (float)companion[0] }, crossFit),
        "gdlt-ws-local" => new SequenceBenchmarkMethod(new SequenceMethodOptions { Method = "gdlt-ws", FeatureDim = featureDim, LocalHeads = true },
            SequenceTrainer.Defaults("gdlt-ws") with { Epochs = epochs, CompanionWeight = (float)companion[0] }, crossFit),
        "ilt-aqa" => new DecoderMethod(new DecoderOptions { FeatureDim = featureDim, ModelDim = modelDim, Dropout = 0.3f, AttentionDropout = 0.1f },
            new TrainingOptions { Epochs = epochs, Patience = 30, ScoreScale = target == ScoreTarget.TES ? 43f : 40f }),
        _ => throw new ArgumentException($"unknown method '{name}'."),
        };
    }

    private static string Json(IReadOnlyList<MethodResult> results, string protocol, DateTimeOffset started, double seconds)
    {
        var doc = new
        {
            protocol,
            started,
            wallSeconds = Math.Round(seconds, 1),
            results = results.Select(m => new
            {
                method = m.Method, description = m.Description, target = m.Target.ToString(),
                pooled = new { spearman = Rho(m, m.Pooled.Spearman), pearson = Rho(m, m.Pooled.Pearson), mse = m.Pooled.Mse, rl2 = m.Pooled.RelativeL2, n = m.Pooled.Count },
                spearmanInterval95 = m.Ranks ? new[] { m.SpearmanInterval.Low, m.SpearmanInterval.High } : null,
                folds = m.Folds.Select(f => new { spearman = Rho(m, f.Spearman), mse = f.Mse, n = f.Count }),
                foldSpearman = m.Ranks ? new { mean = m.FoldSpearmanMean, sd = m.FoldSpearmanSd } : null,
                foldMse = new { mean = m.FoldMseMean, sd = m.FoldMseSd },
                trainSeconds = Math.Round(m.TrainSeconds, 1),
                weightEntropy = Math.Round(m.WeightEntropy, 4),
                parameters = m.Parameters,
                earlyPrediction = m.EarlyPrediction.Select(e => new { fraction = e.Fraction, spearman = Rho(m, e.Spearman), mse = e.Mse }),
                // Out-of-fold predictions on train.txt (each from the fold model that did not see it), for analysis and ensembling.
                outOfFold = m.Predictions.OrderBy(p => p.Key, StringComparer.Ordinal).ToDictionary(p => p.Key, p => Math.Round(p.Value, 4)),
            }),
            fisherZAverage = results.Where(m => m.Ranks).GroupBy(m => m.Method).Where(g => g.Count() > 1)
                .ToDictionary(g => g.Key, g => RegressionMetrics.FisherZAverage(g.Select(m => m.Pooled.Spearman).ToList())),
            published = s_published.Select(p => new { method = p.Method, paper = p.Paper, tes = p.Tes, pcs = p.Pcs, note = "selected on the test set by their authors (best test epoch)" }),
        };
        return JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase });
    }

    // A constant's ρ is fold-mean noise, not a ranking: null in the JSON, "–" on the page.
    private static double? Rho(MethodResult m, double value) => m.Ranks ? value : null;

    private static string Html(IReadOnlyList<MethodResult> results, string protocol, double seconds)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>AqaStream benchmark: Fis-V</title><style>")
          .Append("body{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px;color:#1b2330}table{border-collapse:collapse;margin:12px 0}")
          .Append("td,th{padding:4px 10px;border-bottom:1px solid #dde;text-align:right}th{background:#f3f5f9}td:first-child,th:first-child{text-align:left}")
          .Append(".pub td{color:#777;font-style:italic}</style></head><body>");
        sb.Append("<h1>Fis-V benchmark</h1><p>").Append(WebUtility.HtmlEncode(protocol)).Append(string.Create(inv, $". Wall time {seconds / 60:F1} min on this machine.</p>"));
        foreach (var group in results.GroupBy(m => m.Target))
        {
            sb.Append("<h2>").Append(group.Key).Append("</h2><table><tr><th>method</th><th>pooled ρ</th><th>95 % interval</th><th>pooled MSE</th><th>fold ρ mean ± sd</th>")
              .Append("<th>fold MSE mean ± sd</th><th>train time (s)</th><th>parameters</th><th title=\"entropy of the clip weights over ln T, mean over held-out performances: 1 = uniform\">weight entropy / uniform</th></tr>");
            foreach (var m in group)
            {
                var rho = m.Ranks ? string.Create(inv, $"<td>{m.Pooled.Spearman:F3}</td><td>[{m.SpearmanInterval.Low:F3}, {m.SpearmanInterval.High:F3}]</td>") : "<td>–</td><td>–</td>";
                var folds = m.Ranks ? string.Create(inv, $"{m.FoldSpearmanMean:F3} ± {m.FoldSpearmanSd:F3}") : "–";
                sb.Append(string.Create(inv, $"<tr><td title=\"{WebUtility.HtmlEncode(m.Description)}\">{m.Method}</td>{rho}"))
                  .Append(string.Create(inv, $"<td>{m.Pooled.Mse:F2}</td><td>{folds}</td><td>{m.FoldMseMean:F2} ± {m.FoldMseSd:F2}</td><td>{m.TrainSeconds:F0}</td><td>{m.Parameters:N0}</td><td>{m.WeightEntropy:F3}</td></tr>"));
            }
            foreach (var p in s_published)
            {
                sb.Append(string.Create(inv, $"<tr class=\"pub\"><td>{p.Paper}</td><td>{(group.Key == ScoreTarget.TES ? p.Tes : p.Pcs):F3}</td><td colspan=\"7\">selected on the test set by their authors (best test epoch): not comparable</td></tr>"));
            }
            sb.Append("</table><h3>Early prediction (ρ after the first fraction of each performance's clips)</h3><table><tr><th>method</th>");
            foreach (var f in CrossValidation.EarlyFractions) { sb.Append(string.Create(inv, $"<th>{f * 100:F0} %</th>")); }
            sb.Append("</tr>");
            foreach (var m in group)
            {
                sb.Append("<tr><td>").Append(m.Method).Append("</td>");
                foreach (var e in m.EarlyPrediction) { sb.Append(m.Ranks ? string.Create(inv, $"<td>{e.Spearman:F3}</td>") : "<td>–</td>"); }
                sb.Append("</tr>");
            }
            sb.Append("</table>");
        }
        sb.Append("</body></html>\n");
        return sb.ToString();
    }
}
