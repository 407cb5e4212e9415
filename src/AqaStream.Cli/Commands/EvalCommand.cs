using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using AqaStream.Numerics;
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
        var labels = new Option<FileInfo>("--labels") { Description = "Labels file, one 'id TES PCS deductions' line per performance.", Required = true };
        var target = CommonOptions.Target("Which label column to compare with: TES or PCS (default: the model's target).");
        var ids = new Option<FileInfo?>("--ids") { Description = "Only evaluate the performances listed in this file (one id per line)." };
        var validation = new Option<bool>("--validation-split") { Description = "Only evaluate the validation ids recorded in the checkpoint's card." };
        var json = new Option<FileInfo?>("--json") { Description = "Also write {\"spearman\",\"mse\",\"rl2\",\"n\"} (and pearson) to this file." };
        var threads = CommonOptions.Threads();
        var cmd = new Command("eval", "Evaluate a checkpoint against judged scores.") { checkpoint, features, labels, target, ids, validation, json, threads };
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            Parallelism.Threads = r.GetValue(threads);
            var ckpt = CommonOptions.ExistingFile(r.Required(checkpoint), "checkpoint");
            var loaded = CheckpointStore.Load(ckpt);
            var tgt = r.GetValue(target) ?? loaded.Card.Target;
            var all = ScoreLabels.ReadFile(CommonOptions.ExistingFile(r.Required(labels), "labels file"));
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
                chosen = chosen.Where(l => keep.Contains(l.Id));
            }
            var list = chosen.ToList();
            if (list.Count < 2) { throw new ArgumentException("Fewer than two labelled performances selected: nothing to correlate."); }
            var featureDir = CommonOptions.ExistingDirectory(r.Required(features), "features directory");
            var samples = FeatureStore.LoadLabelled(featureDir, list, tgt, loaded.Model.Options.FeatureDim);
            var predictions = new PerformanceScorer(loaded).Score(samples);
            var report = RegressionMetrics.Evaluate(predictions.Select(p => (double)p.Score).ToList(), samples.Select(s => (double)s.Score!.Value).ToList());
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{loaded.Card.ModelId} on {tgt}: spearman {report.Spearman:F4}  pearson {report.Pearson:F4}  mse {report.Mse:F3}  rl2 {report.RelativeL2:F5}  n {report.Count}"));
            if (r.GetValue(json) is { } jsonFile)
            {
                var payload = new { spearman = report.Spearman, mse = report.Mse, rl2 = report.RelativeL2, n = report.Count, pearson = report.Pearson, target = tgt.ToString(), model = loaded.Card.ModelId };
                File.WriteAllText(jsonFile.FullName, JsonSerializer.Serialize(payload, new JsonSerializerOptions { WriteIndented = true }) + "\n");
            }
            return 0;
        }));
        return cmd;
    }
}
