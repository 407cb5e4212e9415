using System.CommandLine;
using System.Globalization;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Evaluation;

namespace AqaStream.Cli.Commands;

/// <summary>
/// <c>aqa baselines</c>: measures the constant and ridge-mean baselines on a checkpoint's validation split (fitted on
/// the labelled performances outside it) and records them on its card, so that <c>serve</c> and <c>demo</c> can refuse
/// a model that loses to them. <c>aqa train</c> records them itself; this is for cards written before it did.
/// </summary>
internal static class BaselinesCommand
{
    public static Command Create()
    {
        var checkpoint = CommonOptions.Checkpoint();
        var dataset = new Option<DirectoryInfo>("--dataset")
        {
            Description = "The dataset the model was trained on (train.txt and features/): the baselines are fitted on its labelled performances outside the card's validation split.",
            Required = true,
        };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print the figures and the verdict; leave the checkpoint and its card as they are." };
        var cmd = new Command("baselines", "Measure the constant and ridge-mean baselines on a checkpoint's validation split and record them on its card "
            + "(serve and demo refuse a model that loses to them).")
        {
            checkpoint, dataset, dryRun,
        };
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            var path = CommonOptions.ExistingFile(r.Required(checkpoint), "checkpoint");
            var root = CommonOptions.ExistingDirectory(r.Required(dataset), "dataset directory");
            var card = CheckpointStore.Load(path).Card;
            return Run(path, card, root, r.GetValue(dryRun));
        }));
        return cmd;
    }

    private static int Run(string path, ModelCard card, string root, bool dryRun)
    {
        var inv = CultureInfo.InvariantCulture;
        if (card.Validation is not { } validationFigures || card.Training is not { ValidationIds.Count: > 0 } training)
        {
            throw new ArgumentException($"{path}: its card records no validation split (a model refit on every performance, or never validated), "
                + "so there are no unseen performances to hold it against the baselines on.");
        }
        var labelsPath = Path.Combine(root, "train.txt");
        var labels = ScoreLabels.ReadFile(CommonOptions.ExistingFile(new FileInfo(labelsPath), "labels file"));
        var validationIds = training.ValidationIds.ToHashSet(StringComparer.Ordinal);
        var missing = training.ValidationIds.Where(id => !labels.Any(l => l.Id == id)).ToList();
        if (missing.Count > 0)
        {
            throw new ArgumentException($"{labelsPath} lacks {missing.Count} of the card's validation ids (first: {missing[0]}): is this the dataset '{card.ModelId}' was trained on?");
        }
        var featureDir = Path.Combine(root, "features");
        Console.Error.WriteLine($"loading {labels.Count} performances from {featureDir} ...");
        var samples = FeatureStore.LoadLabelled(featureDir, labels, card.Target, card.Architecture.FeatureDim);
        var validation = samples.Where(s => validationIds.Contains(s.Id)).ToList();
        var train = samples.Where(s => !validationIds.Contains(s.Id)).ToList();
        if (train.Count != training.TrainCount)
        {
            Console.Error.WriteLine($"note: {train.Count} labelled performances outside the validation split; the card says the model trained on {training.TrainCount}.");
        }
        var baselines = ValidationBaselines.Measure(train, validation);
        if (baselines.Count == 0)
        {
            throw new ArgumentException($"the baselines need at least {ValidationBaselines.MinimumTraining} training and 2 validation performances (got {train.Count} and {validation.Count}).");
        }
        Console.WriteLine(string.Create(inv, $"{card.ModelId} ({card.Target}, {validation.Count} validation performances): spearman {validationFigures.Spearman:F4}  mse {validationFigures.Mse:F3}"));
        foreach (var b in baselines)
        {
            Console.WriteLine($"baseline {b.Summary()}  ({b.Description}; fitted on {b.TrainedOn})");
        }
        var updated = card with { Validation = validationFigures with { Baselines = baselines } };
        Console.WriteLine(updated.LosesToBaselines() is { } loss ? $"not fit for air: {loss}" : "fit for air: it beats both baselines on ρ and MSE");
        if (dryRun) { return 0; }
        CheckpointStore.ReplaceCard(path, updated);
        Console.WriteLine($"recorded on {path} and {CheckpointStore.CardPath(path)}");
        return 0;
    }
}
