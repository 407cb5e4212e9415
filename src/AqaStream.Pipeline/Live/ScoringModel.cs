using System.Security.Cryptography;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Model;

namespace AqaStream.Pipeline.Live;

/// <summary>A loaded scorer as the live pipeline uses it: the scorer (any method), its card (target, score scale), a
/// version (the checkpoint's content hash) and the incremental mode its architecture allows.</summary>
public sealed record ScoringModel
{
    /// <summary>Wraps a model; streaming needs a causal one.</summary>
    public ScoringModel(IClipScorer scorer, ModelCard card, string version, IncrementalMode mode)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        ArgumentNullException.ThrowIfNull(card);
        if (mode == IncrementalMode.Streaming && !scorer.Causal)
        {
            throw new ArgumentException($"Model '{card.ModelId}' ({scorer.Method}) is not causal: streaming mode needs a causal model (train with --causal); use exact mode.");
        }
        Scorer = scorer;
        Card = card;
        Version = version;
        Mode = mode;
    }

    /// <summary>The scorer (shared read-only by every performance).</summary>
    public IClipScorer Scorer { get; }

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
        return new ScoringModel(loaded.Scorer, loaded.Card, VersionOf(path), mode ?? DefaultMode(loaded.Scorer));
    }

    /// <summary>A checkpoint's content hash (first 12 hex digits of its SHA-256): changes whenever the weights do.</summary>
    public static string VersionOf(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream))[..12];
    }

    /// <summary>The mode a model's architecture suggests: streaming for causal models, exact otherwise.</summary>
    public static IncrementalMode DefaultMode(IClipScorer scorer)
    {
        ArgumentNullException.ThrowIfNull(scorer);
        return scorer.Causal ? IncrementalMode.Streaming : IncrementalMode.Exact;
    }
}
