using System.CommandLine;
using System.Globalization;
using AqaStream.Pipeline.Live;
using AqaStream.Pipeline.Replay;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;

namespace AqaStream.Cli.Commands;

/// <summary><c>aqa replay</c>: archived clip features through the live pipeline, as if live, into a report.</summary>
internal static class ReplayCommand
{
    public static Command Create()
    {
        var checkpoint = CommonOptions.Checkpoint();
        var features = CommonOptions.Features();
        features.Required = false;
        features.Description += " (With --bus kafka: read from --topic instead.)";
        var kafka = new KafkaCli();
        var topic = new Option<string>("--topic")
        {
            Description = "With --bus kafka: the archived topic, aqa.clip-features (features as scored live) or aqa.video-chunks (video, decoded and featurised here).",
            DefaultValueFactory = _ => Pipeline.Bus.Topics.ClipFeatures.Name,
        };
        topic.AcceptOnlyFromAmong(Pipeline.Bus.Topics.ClipFeatures.Name, Pipeline.Bus.Topics.VideoChunks.Name);
        var fromBeginning = new Option<bool>("--from-beginning") { Description = "With --bus kafka: everything the topic retains." };
        var since = new Option<DateTimeOffset?>("--since") { Description = "With --bus kafka: records produced at or after this time (ISO 8601), instead of --from-beginning." };
        var labels = new Option<FileInfo?>("--labels")
        {
            Description = "Judged scores ('id TES PCS deductions' per line) to evaluate against; without it the report has timelines but no metrics.",
        };
        var competitions = new Option<FileInfo?>("--competitions")
        {
            Description = "Which competition each performance belongs to ('id competition name' per line): the report adds ρ within each "
                + "competition (what its standings show). From Kafka the competition comes from each performance's start; this file overrides it.",
        };
        var ids = new Option<FileInfo?>("--ids") { Description = "Replay the performances listed in this file (one id per line; default: every labelled one, or every feature file)." };
        var validation = new Option<bool>("--validation-split") { Description = "Replay the validation ids recorded in the checkpoint's card." };
        var speed = new Option<string>("--speed")
        {
            Description = "realtime (one clip every 1.28 s, performances back to back), max (as fast as the pipeline goes) or a factor such as 10.",
            DefaultValueFactory = _ => "max",
        };
        var mode = new Option<IncrementalMode?>("--mode") { Description = "Exact (bidirectional model) or Streaming (causal model); default: what the model allows." };
        var target = CommonOptions.Target("Which label column to compare with (default: the model's target).");
        var report = new Option<DirectoryInfo>("--report") { Description = "Directory to write report.json and report.html into (created).", Required = true };
        var lanes = new Option<int>("--lanes") { Description = "Scoring threads (performances are spread over them by id).", DefaultValueFactory = _ => Environment.ProcessorCount };
        var cmd = new Command("replay", "Stream archived performances through the live pipeline as if live; write report.json and report.html (metrics, early-prediction curve, per-performance timelines).")
        {
            checkpoint, features, labels, competitions, ids, validation, speed, mode, target, report, lanes, topic, fromBeginning, since,
        };
        kafka.AddTo(cmd);
        var engine = new EngineOptions().AddTo(cmd, live: true);
        cmd.Description += " With --bus kafka --topic T --from-beginning it replays the archived streams a Kafka topic retains.";
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            var replaySpeed = ReplaySpeed.Parse(r.GetValue(speed) ?? "max");
            var batchWindow = engine.Window(r);
            if (r.GetValue(lanes) < 1) { throw new ArgumentException("--lanes must be at least 1."); }
            var ckpt = CommonOptions.ExistingFile(r.Required(checkpoint), "checkpoint");
            EngineOptions.SetThreads(1);
            var model = engine.Apply(r, ScoringModel.Load(ckpt, r.GetValue(mode)));
            var labelTarget = r.GetValue(target) ?? model.Card.Target;
            var labelRows = r.GetValue(labels) is { } labelFile ? ScoreLabels.ReadFile(CommonOptions.ExistingFile(labelFile, "labels file")) : null;
            var labelled = labelRows?.ToDictionary(l => l.Id, l => (double)l.Score(labelTarget), StringComparer.Ordinal);
            var judgedDeductions = labelRows?.Where(l => l.Deductions is not null).ToDictionary(l => l.Id, l => (double)l.Deductions!.Value, StringComparer.Ordinal);
            var competitionById = r.GetValue(competitions) is { } competitionFile
                ? ScoreLabels.ReadCompetitions(CommonOptions.ExistingFile(competitionFile, "competitions file")) : null;
            List<ReplayPerformance> performances;
            string? baselineDir = null;
            if (kafka.IsKafka(r))
            {
                if (!r.GetValue(fromBeginning) && r.GetValue(since) is null) { throw new ArgumentException("replay --bus kafka reads archived streams: give --from-beginning or --since TIME."); }
                var archived = KafkaArchive.LoadAsync(r, kafka, r.GetValue(topic)!, r.GetValue(since) ?? DateTimeOffset.UnixEpoch, model.Scorer.FeatureDim)
                    .GetAwaiter().GetResult();
                var wanted = r.GetValue(ids) is { } idFile ? ScoreLabels.ReadIds(CommonOptions.ExistingFile(idFile, "ids file")).ToHashSet(StringComparer.Ordinal) : null;
                performances = archived.Where(a => wanted is null || wanted.Contains(a.Id))
                    .Select(a => a with { Label = labelled is not null && labelled.TryGetValue(a.Id, out var v) ? v : null }).ToList();
                if (performances.Count == 0) { throw new ArgumentException($"No complete performances on {r.GetValue(topic)} to replay."); }
            }
            else
            {
                var featureDir = CommonOptions.ExistingDirectory(r.GetValue(features) ?? throw new ArgumentException("--features DIR is required (or --bus kafka)."), "features directory");
                baselineDir = featureDir;
                var chosen = ChooseIds(r.GetValue(ids), r.GetValue(validation), model, labelled, featureDir);
                Console.Error.WriteLine($"loading {chosen.Count} performances from {featureDir} ...");
                performances = chosen.Select(id =>
                {
                    var s = FeatureStore.Load(featureDir, id, model.Scorer.FeatureDim);
                    return new ReplayPerformance(id, s.Features, s.Clips, labelled is not null && labelled.TryGetValue(id, out var v) ? v : null);
                }).ToList();
            }
            if (competitionById is not null)
            {
                performances = performances.ConvertAll(p => competitionById.TryGetValue(p.Id, out var c) ? p with { Competition = c } : p);
            }
            var tooLong = performances.FirstOrDefault(p => p.Clips > model.Scorer.MaxClips);
            if (tooLong is not null)
            {
                throw new ArgumentException($"Performance '{tooLong.Id}' has {tooLong.Clips} clips; the model scores at most {model.Scorer.MaxClips}.");
            }
            Console.Error.WriteLine($"replaying {performances.Count} performances ({performances.Sum(p => p.Clips)} clips) through {model.Card.ModelId} " +
                $"({model.Mode} mode) at speed {replaySpeed}, {r.GetValue(lanes)} lanes");
            var options = new LivePipelineOptions { Lanes = r.GetValue(lanes), Batch = batchWindow };
            var progress = new ProgressLine(performances.Count);
            var result = new ReplayRunner(model, options).RunAsync(performances, replaySpeed, progress).GetAwaiter().GetResult();
            progress.Done();
            ReplayReport built = ReplayReport.Build(result, new ReportModel(model.Card.ModelId, model.Version, model.Card.Target.ToString(), model.Mode.ToString(),
                model.Card.ScoreScale, Path.GetFileName(ckpt)), replaySpeed);
            built = built with { Analysis = Analyse(built, performances, labelled, baselineDir, model.Scorer.FeatureDim) is { } analysis
                ? analysis with { Falls = FallCheck.From(built, judgedDeductions) } : null };
            var dir = r.Required(report);
            Directory.CreateDirectory(dir.FullName);
            File.WriteAllText(Path.Combine(dir.FullName, "report.json"), built.ToJson());
            File.WriteAllText(Path.Combine(dir.FullName, "report.html"), ReplayReportHtml.Render(built));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"replayed {built.Performances} performances, {built.ClipsScored} clips in {built.ReplaySeconds:F1} s ({built.ClipsScored / Math.Max(1e-9, built.ReplaySeconds):F0} clips/s); " +
                $"missing {built.ClipsMissing}, dead letters {built.DeadLetters}"));
            if (built.Spearman is { } rho)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"final: spearman {rho:F4}  mse {built.Mse:F3}  rl2 {built.Rl2:F5}  n {built.Labelled}"));
                Console.WriteLine("early prediction (clips seen: spearman / mse): " + string.Join("  ", built.EarlyPrediction.Select(p =>
                    string.Create(CultureInfo.InvariantCulture, $"{p.Fraction * 100:0}% {p.Spearman:F3}/{p.Mse:F1}"))));
                if (built.Analysis is { } a)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"bias {a.Bias:+0.00;-0.00}  ρ 95% [{a.SpearmanInterval95[0]:F3}, {a.SpearmanInterval95[1]:F3}]  impossible values {a.Impossible.Count}"));
                    foreach (var b in a.Baselines)
                    {
                        Console.WriteLine($"baseline {b.Summary()}  (fitted on {b.TrainedOn} other labelled performances)");
                    }
                    if (a.BaselineNote is { } note) { Console.WriteLine(note); }
                    if (a.Falls is { } falls) { Console.WriteLine(falls.Summary()); }
                    if (a.CompetitionSummary() is { } within) { Console.WriteLine(within); }
                }
            }
            Console.WriteLine($"report: {Path.Combine(dir.FullName, "report.html")}");
            return 0;
        }));
        return cmd;
    }

    private static List<string> ChooseIds(FileInfo? idFile, bool validation, ScoringModel model, Dictionary<string, double>? labelled, string featureDir)
    {
        if (idFile is not null && validation) { throw new ArgumentException("Give --ids or --validation-split, not both."); }
        List<string> chosen;
        if (idFile is not null)
        {
            chosen = [.. ScoreLabels.ReadIds(CommonOptions.ExistingFile(idFile, "ids file"))];
        }
        else if (validation)
        {
            chosen = model.Card.Training?.ValidationIds.ToList()
                ?? throw new ArgumentException($"The card of {model.Card.ModelId} records no validation split.");
            if (chosen.Count == 0) { throw new ArgumentException($"{model.Card.ModelId} was refit on every training performance, so no held-out split remains (aqa benchmark fisv measures out of fold)."); }
        }
        else if (labelled is not null)
        {
            chosen = [.. labelled.Keys];
        }
        else
        {
            chosen = [.. Directory.GetFiles(featureDir, "*.npy").Select(f => Path.GetFileNameWithoutExtension(f)!).Order(StringComparer.Ordinal)];
        }
        if (chosen.Count == 0) { throw new ArgumentException("No performances to replay."); }
        return chosen;
    }

    // Baselines are fitted on the labelled performances that were not replayed (never on the replayed ones).
    private static ReplayAnalysis? Analyse(ReplayReport built, List<ReplayPerformance> performances, Dictionary<string, double>? labelled, string? featureDir, int featureDim)
    {
        if (labelled is null) { return null; }
        if (featureDir is null) { return ReplayAnalysis.Build(built, null, null, "no baselines: a Kafka replay has no training features to fit them on"); }
        var replayedIds = performances.Select(p => p.Id).ToHashSet(StringComparer.Ordinal);
        var trainIds = labelled.Keys.Where(id => !replayedIds.Contains(id) && File.Exists(Path.Combine(featureDir, id + ".npy"))).Order(StringComparer.Ordinal).ToList();
        if (trainIds.Count < ReplayAnalysis.MinimumBaselineTraining) { return ReplayAnalysis.Build(built, null, null); }
        Console.Error.WriteLine($"fitting the baselines on {trainIds.Count} labelled performances that were not replayed ...");
        var train = trainIds.Select(id => FeatureStore.Load(featureDir, id, featureDim, (float)labelled[id])).ToList();
        var replayed = performances.Where(p => p.Label is not null).Select(p => new PerformanceSample(p.Id, p.Features, p.Clips, featureDim, (float)p.Label!.Value)).ToList();
        return ReplayAnalysis.Build(built, train, replayed);
    }

    /// <summary>Replay progress on a <see cref="ProgressBar"/>.</summary>
    private sealed class ProgressLine(int total) : IProgress<ReplayProgress>
    {
        private readonly ProgressBar _bar = new(total, "performances");

        public void Report(ReplayProgress value) =>
            _bar.Report(value.Finished, string.Create(CultureInfo.InvariantCulture, $"{value.ClipsScored} clips"));

        public void Done() => _bar.Done();
    }
}
