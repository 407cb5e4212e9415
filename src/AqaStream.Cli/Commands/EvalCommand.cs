using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AqaStream.Media.Synthetic;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Model;

namespace AqaStream.Cli.Commands;

/// <summary><c>aqa eval</c>: Spearman ρ, MSE, R-ℓ2 of a checkpoint against a labels file.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var checkpoint = CommonOptions.Checkpoint();
        var features = CommonOptions.Features();
        features.Required = false;
        features.Description += " Default with --dataset: DATASET/features.";
        var labels = new Option<FileInfo>("--labels") { Description = "Labels file, one 'id TES PCS deductions' line per performance. Default with --dataset: DATASET/test.txt." };
        var dataset = new Option<DirectoryInfo?>("--dataset")
        {
            Description = "A dataset directory (Fis-V layout, or one made by `aqa synth`): features/ and test.txt by default; "
                + "with truth/ (synthetic) also reports weight_difficulty_spearman and score_execution_spearman.",
        };
        var target = CommonOptions.Target("Which label column to compare with: TES or PCS (default: the model's target).");
        var ids = new Option<FileInfo?>("--ids") { Description = "Only evaluate the performances listed in this file (one id per line)." };
        var validation = new Option<bool>("--validation-split") { Description = "Only evaluate the validation ids recorded in the checkpoint's card." };
        var json = new Option<FileInfo?>("--json") { Description = "Also write {\"spearman\",\"mse\",\"rl2\",\"n\"} (and pearson) to this file." };
        var threads = CommonOptions.Threads();
        var cmd = new Command("eval", "Evaluate a checkpoint against judged scores.") { checkpoint, dataset, features, labels, target, ids, validation, json, threads };
        var engine = new EngineOptions().AddTo(cmd, live: false);
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            var ckpt = CommonOptions.ExistingFile(r.Required(checkpoint), "checkpoint");
            EngineOptions.SetThreads(r.GetValue(threads));
            var loaded = engine.Apply(r, CheckpointStore.Load(ckpt));
            var tgt = r.GetValue(target) ?? loaded.Card.Target;
            var root = r.GetValue(dataset) is { } d ? CommonOptions.ExistingDirectory(d, "dataset directory") : null;
            var labelsFile = r.GetValue(labels) ?? (root is null ? throw new ArgumentException("--labels (or --dataset) is required.") : new FileInfo(Path.Combine(root, "test.txt")));
            var featuresDir = r.GetValue(features) ?? (root is null ? throw new ArgumentException("--features (or --dataset) is required.") : new DirectoryInfo(Path.Combine(root, "features")));
            var all = ScoreLabels.ReadFile(CommonOptions.ExistingFile(labelsFile, "labels file"));
            IEnumerable<PerformanceLabel> chosen = all;
            if (r.GetValue(ids) is { } idFile)
            {
                var keep = ScoreLabels.ReadIds(CommonOptions.ExistingFile(idFile, "ids file")).ToHashSet(StringComparer.Ordinal);
                chosen = chosen.Where(l => keep.Contains(l.Id));
            }
            if (r.GetValue(validation))
            {
                var keep = loaded.Card.Training?.ValidationIds.ToHashSet(StringComparer.Ordinal)
                    ?? throw new ArgumentException($"{ckpt}: the card records no validation split.");
                if (keep.Count == 0) { throw new ArgumentException($"{ckpt}: the model was refit on every training performance, so no held-out split remains (aqa benchmark fisv measures out of fold)."); }
                chosen = chosen.Where(l => keep.Contains(l.Id));
            }
            var list = chosen.ToList();
            if (list.Count < 2) { throw new ArgumentException("Fewer than two labelled performances selected: nothing to correlate."); }
            var featureDir = CommonOptions.ExistingDirectory(featuresDir, "features directory");
            var samples = FeatureStore.LoadLabelled(featureDir, list, tgt, loaded.Scorer.FeatureDim);
            var predictions = PerformanceScorer.Score(loaded, samples);
            var report = RegressionMetrics.Evaluate(predictions.Select(p => (double)p.Score).ToList(), samples.Select(s => (double)s.Score!.Value).ToList());
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{loaded.Card.ModelId} on {tgt}: spearman {report.Spearman:F4}  pearson {report.Pearson:F4}  mse {report.Mse:F3}  rl2 {report.RelativeL2:F5}  n {report.Count}"));
            InterpretabilityFidelity? fidelity = null;
            if (root is not null && Directory.Exists(Path.Combine(root, "truth")))
            {
                fidelity = InterpretabilityFidelity.Evaluate(predictions, Path.Combine(root, "truth"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"interpretability over {fidelity.Clips} clips: weight~difficulty spearman {fidelity.WeightDifficultySpearman:F4}  score~execution spearman {fidelity.ScoreExecutionSpearman:F4}"));
            }
            if (r.GetValue(json) is { } jsonFile)
            {
                var payload = new
                {
                    spearman = report.Spearman, mse = report.Mse, rl2 = report.RelativeL2, n = report.Count, pearson = report.Pearson, target = tgt.ToString(), model = loaded.Card.ModelId,
                    weight_difficulty_spearman = fidelity?.WeightDifficultySpearman, score_execution_spearman = fidelity?.ScoreExecutionSpearman, clips = fidelity?.Clips,
                };
                File.WriteAllText(jsonFile.FullName, JsonSerializer.Serialize(payload, new JsonSerializerOptions { WriteIndented = true, DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull }) + "\n");
            }
            return 0;
        }));
        return cmd;
    }
}
