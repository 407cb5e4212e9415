using System.CommandLine;
using AqaStream.Scoring.Data;

namespace AqaStream.Cli.Commands;

/// <summary>Options several commands share.</summary>
internal static class CommonOptions
{
    public static Option<FileInfo> Checkpoint(bool required = true) => new("--checkpoint")
    {
        Description = "Model checkpoint (.safetensors; its model card is embedded, or beside it as .card.json).",
        Required = required,
    };

    public static Option<DirectoryInfo> Features() => new("--features")
    {
        Description = "Directory of per-performance clip features, {id}.npy (float16 or float32, clips × 1024).",
        Required = true,
    };

    public static Option<ScoreTarget?> Target(string description) => new("--target") { Description = description };

    public static Option<int> Threads() => new("--threads")
    {
        Description = "Cores to compute on (default: all).",
        DefaultValueFactory = _ => Environment.ProcessorCount,
    };

    public static Option<string> Device() => new("--device")
    {
        Description = $"Where libtorch runs the model: {Scoring.Torch.TorchDevice.Choices} (cuda needs a CUDA build of libtorch; see README).",
        DefaultValueFactory = _ => "cpu",
    };

    /// <summary>The option of the commands that put a model on air.</summary>
    public static Option<bool> AllowBelowBaseline() => new(AllowBelowBaselineName)
    {
        Description = "Serve a model that loses to the baselines recorded on its card (constant, ridge-mean) on its validation split; "
            + "without it such a model is refused (a rehearsal or a side-by-side comparison may want it).",
    };

    /// <summary>The name of <see cref="AllowBelowBaseline"/>.</summary>
    public const string AllowBelowBaselineName = "--allow-below-baseline";

    /// <summary>A model about to go on air: refused with the reason when it loses to its card's baselines, unless
    /// <paramref name="allow"/>; then a warning on stderr. Returns the model.</summary>
    public static Pipeline.Live.ScoringModel FitForAir(Pipeline.Live.ScoringModel model, string checkpoint, bool allow)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Card.LosesToBaselines() is not { } loss) { return model; }
        if (!allow)
        {
            throw new ArgumentException($"{checkpoint} is not fit for air: {loss}. Serve a model that beats them "
                + $"(models/fisv-tes.safetensors, models/fisv-pcs.safetensors), or pass {AllowBelowBaselineName} to serve this one anyway.");
        }
        Console.Error.WriteLine($"warning: {checkpoint} is not fit for air: {loss}; served because of {AllowBelowBaselineName}.");
        return model;
    }

    /// <summary>The parsed value, or an error naming the option.</summary>
    public static T Required<T>(this System.CommandLine.ParseResult result, Option<T> option) =>
        result.GetValue(option) ?? throw new ArgumentException($"{option.Name} is required.");

    /// <summary>Checks a file exists.</summary>
    public static string ExistingFile(FileInfo file, string what) =>
        file.Exists ? file.FullName : throw new DataFormatException($"{file.FullName}: {what} not found.");

    /// <summary>Checks a directory exists.</summary>
    public static string ExistingDirectory(DirectoryInfo dir, string what) =>
        dir.Exists ? dir.FullName : throw new DataFormatException($"{dir.FullName}: {what} not found.");
}
