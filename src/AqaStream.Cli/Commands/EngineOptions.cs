using System.CommandLine;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Torch;

namespace AqaStream.Cli.Commands;

/// <summary>
/// The options of every command that runs a model on libtorch: <c>--device</c>, and for live scoring the batch window
/// (<c>--batch-max</c>, <c>--batch-wait-ms</c>). The ridge methods run on the CPU in managed code and ignore the device.
/// </summary>
internal sealed class EngineOptions
{
    public Option<string> Device { get; } = CommonOptions.Device();

    public Option<int> BatchMax { get; } = new("--batch-max")
    {
        Description = "Live scoring with the weight-score decoder: most performances advanced in one batched step (1: every clip alone, as it arrives).",
        DefaultValueFactory = _ => 1,
    };

    public Option<double> BatchWaitMs { get; } = new("--batch-wait-ms")
    {
        Description = "Live scoring with --batch-max > 1: longest a clip waits for others to join its step (0: step as soon as the batch thread is free, taking what has gathered).",
        DefaultValueFactory = _ => 0,
    };

    /// <summary>Adds the device option (and the batch window with <paramref name="live"/>) to <paramref name="command"/>.</summary>
    public EngineOptions AddTo(Command command, bool live)
    {
        command.Add(Device);
        if (live)
        {
            command.Add(BatchMax);
            command.Add(BatchWaitMs);
        }
        return this;
    }

    /// <summary>The batch window asked for, or null (no batching).</summary>
    public BatchWindow? Window(ParseResult r)
    {
        var max = r.GetValue(BatchMax);
        var wait = r.GetValue(BatchWaitMs);
        if (max < 1) { throw new ArgumentException($"--batch-max {max}: give 1 (no batching) or more."); }
        if (wait < 0 || !double.IsFinite(wait)) { throw new ArgumentException($"--batch-wait-ms {wait}: give a wait of 0 ms or more."); }
        if (max == 1) { return null; }
        return new BatchWindow(max, TimeSpan.FromMilliseconds(wait));
    }

    /// <summary>The scorer on the chosen device: a decoder moves there (it loads on the CPU); the other methods run
    /// where they loaded.</summary>
    public IClipScorer Scorer(ParseResult r, IClipScorer scorer)
    {
        var device = TorchDevice.Parse(r.GetValue(Device));
        return scorer is TorchClipScorer decoder ? decoder.To(device) : scorer;
    }

    /// <summary>A loaded checkpoint on the chosen device.</summary>
    public LoadedModel Apply(ParseResult r, LoadedModel loaded) => loaded with { Scorer = Scorer(r, loaded.Scorer) };

    /// <summary>A live model on the chosen device.</summary>
    public ScoringModel Apply(ParseResult r, ScoringModel model) => new(Scorer(r, model.Scorer), model.Card, model.Version, model.Mode);

    /// <summary>libtorch computes with <paramref name="threads"/> threads (0: its default).</summary>
    public static void SetThreads(int threads)
    {
        if (threads > 0) { TorchSharp.torch.set_num_threads(threads); }
    }
}
