using System.Security.Cryptography;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Model;

namespace AqaStream.Pipeline.Live;

/// <summary>A loaded scorer as the live pipeline uses it: the decoder, its card (target, score scale), a version
/// (the checkpoint's content hash) and the incremental mode its architecture allows.</summary>
public sealed record ScoringModel
{
    /// <summary>Wraps a model; streaming needs a causal one.</summary>
    public ScoringModel(WeightScoreDecoder decoder, ModelCard card, string version, IncrementalMode mode)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(card);
        if (mode == IncrementalMode.Streaming && !decoder.Options.Causal)
        {
            throw new ArgumentException($"Model '{card.ModelId}' is bidirectional: streaming mode needs a causal model (train with --causal); use exact mode.");
        }
        Decoder = decoder;
        Card = card;
        Version = version;
        Mode = mode;
    }

    /// <summary>The decoder (shared read-only by every performance).</summary>
    public WeightScoreDecoder Decoder { get; }

    /// <summary>The model card.</summary>
    public ModelCard Card { get; }

    /// <summary>Content hash of the checkpoint.</summary>
    public string Version { get; }

    /// <summary>Exact (bidirectional) or streaming (causal).</summary>
    public IncrementalMode Mode { get; }

    /// <summary>Loads a checkpoint; the mode defaults to streaming for causal models, exact otherwise.</summary>
    public static ScoringModel Load(string path, IncrementalMode? mode = null)
    {
        var loaded = CheckpointStore.Load(path);
        return new ScoringModel(loaded.Model, loaded.Card, VersionOf(path), mode ?? DefaultMode(loaded.Model));
    }

    /// <summary>A checkpoint's content hash (first 12 hex digits of its SHA-256): changes whenever the weights do.</summary>
    public static string VersionOf(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream))[..12];
    }

    /// <summary>The mode a model's architecture suggests: streaming for causal models, exact otherwise.</summary>
    public static IncrementalMode DefaultMode(WeightScoreDecoder decoder)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        return decoder.Options.Causal ? IncrementalMode.Streaming : IncrementalMode.Exact;
    }
}
