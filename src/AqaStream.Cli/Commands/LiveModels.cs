using System.Security.Cryptography;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Model;

namespace AqaStream.Cli.Commands;

/// <summary>Loads a checkpoint as the live pipeline's <see cref="ScoringModel"/>.</summary>
internal static class LiveModels
{
    /// <summary>Loads <paramref name="path"/>; the mode defaults to streaming for causal models, exact otherwise.</summary>
    public static ScoringModel Load(string path, IncrementalMode? mode)
    {
        var loaded = CheckpointStore.Load(path);
        return new ScoringModel(loaded.Model, loaded.Card, Version(path), mode ?? ScoringModel.DefaultMode(loaded.Model));
    }

    /// <summary>The checkpoint's content hash (first 12 hex digits of its SHA-256): changes whenever the weights do.</summary>
    public static string Version(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream))[..12];
    }
}
