using System.CommandLine;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Torch;

namespace AqaStream.Cli.Commands;

/// <summary>
/// The options of every command that runs a model: <c>--engine</c> (the weight-score decoder on libtorch, or on the
/// hand-written core), <c>--device</c>, and for live scoring the batch window (<c>--batch-max</c>, <c>--batch-wait-ms</c>).
/// Methods other than the decoder (ridge-mean) have one implementation and ignore the engine.
/// </summary>
internal sealed class EngineOptions
{
    public Option<string> Engine { get; } = CommonOptions.Engine();

    public Option<string> Device { get; } = CommonOptions.Device();

    public Option<int> BatchMax { get; } = new("--batch-max")
    {
        Description = "Live scoring, --engine torch: most performances advanced in one batched step (1: every clip alone, as it arrives).",
        DefaultValueFactory = _ => 1,
    };

    public Option<double> BatchWaitMs { get; } = new("--batch-wait-ms")
    {
        Description = "Live scoring with --batch-max > 1: longest a clip waits for others to join its step (0: step as soon as the batch thread is free, taking what has gathered).",
        DefaultValueFactory = _ => 0,
    };

    /// <summary>Adds the engine and device options (and the batch window with <paramref name="live"/>) to <paramref name="command"/>.</summary>
    public EngineOptions AddTo(Command command, bool live)
    {
        command.Add(Engine);
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
        if (CommonOptions.ParseEngine(r.GetValue(Engine)) != CommonOptions.TorchEngine) { throw new ArgumentException("--batch-max applies to --engine torch only."); }
        return new BatchWindow(max, TimeSpan.FromMilliseconds(wait));
    }

    /// <summary>The scorer on the chosen engine: a decoder moves to libtorch with --engine torch.</summary>
    public IClipScorer Scorer(ParseResult r, IClipScorer scorer)
    {
        var engine = CommonOptions.ParseEngine(r.GetValue(Engine));
        if (engine == CommonOptions.OwnEngine)
        {
            if (r.GetResult(Device) is { Implicit: false }) { throw new ArgumentException("--device applies to --engine torch only."); }
            return scorer;
        }
        var device = TorchDevice.Parse(r.GetValue(Device));
        return scorer is WeightScoreDecoder decoder ? new TorchClipScorer(TorchWeightScoreDecoder.From(decoder, device)) : scorer;
    }

    /// <summary>A loaded checkpoint on the chosen engine.</summary>
    public LoadedModel Apply(ParseResult r, LoadedModel loaded) => loaded with { Scorer = Scorer(r, loaded.Scorer) };

    /// <summary>A live model on the chosen engine.</summary>
    public ScoringModel Apply(ParseResult r, ScoringModel model) => new(Scorer(r, model.Scorer), model.Card, model.Version, model.Mode);

    /// <summary>Where libtorch computes with <paramref name="threads"/> threads (the own core's setting is separate).</summary>
    public static void SetThreads(int threads)
    {
        if (threads > 0) { TorchSharp.torch.set_num_threads(threads); }
    }
}
