using System.CommandLine;
using System.Globalization;
using System.Text;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;

namespace AqaStream.Cli.Commands;

/// <summary><c>aqa predict</c>: scores performances and writes the final scores and the per-clip explanation.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var checkpoint = CommonOptions.Checkpoint();
        var features = CommonOptions.Features();
        var ids = new Option<FileInfo>("--ids") { Description = "Performances to score, one id per line (e.g. Fis-V's test_ids.txt).", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "CSV of predictions: id,score.", Required = true };
        var clipsOut = new Option<FileInfo?>("--clips-out") { Description = "CSV of per-clip explanations: id,clip,weight,score,contribution,deduction (contribution = weight·score + deduction; deduction ≤ 0, non-zero only for a model with a deduction term; default: OUT with .clips.csv)." };
        var threads = CommonOptions.Threads();
        var cmd = new Command("predict", "Score performances with a checkpoint; writes final scores and per-clip weights, scores and contributions.")
        {
            checkpoint, features, ids, output, clipsOut, threads,
        };
        var engine = new EngineOptions().AddTo(cmd, live: false);
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            EngineOptions.SetThreads(r.GetValue(threads));
            var loaded = engine.Apply(r, CheckpointStore.Load(CommonOptions.ExistingFile(r.Required(checkpoint), "checkpoint")));
            var idList = ScoreLabels.ReadIds(CommonOptions.ExistingFile(r.Required(ids), "ids file"));
            var featureDir = CommonOptions.ExistingDirectory(r.Required(features), "features directory");
            var samples = idList.Select(id => FeatureStore.Load(featureDir, id, loaded.Scorer.FeatureDim)).ToList();
            var predictions = PerformanceScorer.Score(loaded, samples);
            var outPath = r.Required(output).FullName;
            var clipsPath = r.GetValue(clipsOut)?.FullName ?? Path.ChangeExtension(outPath, null) + ".clips.csv";
            var inv = CultureInfo.InvariantCulture;
            var scores = new StringBuilder("id,score\n");
            var clips = new StringBuilder("id,clip,weight,score,contribution,deduction\n");
            foreach (var p in predictions)
            {
                scores.Append(inv, $"{p.Id},{p.Score:R}\n");
                foreach (var c in p.Clips)
                {
                    clips.Append(inv, $"{p.Id},{c.Clip},{c.Weight:R},{c.Score:R},{c.Contribution:R},{c.Deduction:R}\n");
                }
            }
            File.WriteAllText(outPath, scores.ToString());
            File.WriteAllText(clipsPath, clips.ToString());
            Console.WriteLine($"scored {predictions.Count} performances with {loaded.Card.ModelId} ({loaded.Card.Target}): {outPath}, {clipsPath}");
            return 0;
        }));
        return cmd;
    }
}
