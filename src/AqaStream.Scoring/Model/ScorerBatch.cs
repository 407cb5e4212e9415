namespace AqaStream.Scoring.Model;

/// <summary>
/// A padded batch of performances: clip features [B, T, F] row-major, each sample's true clip count, and the
/// absolute clip position of its first clip (non-zero when training on a crop of a longer performance).
/// </summary>
public sealed record ScorerBatch(float[] Features, int BatchSize, int Clips, int FeatureDim, int[] Lengths, int[] FirstPositions)
{
    /// <summary>Whether clip j of sample b is real (not padding).</summary>
    public bool IsValid(int b, int j) => j < Lengths[b];

    /// <summary>True when no sample is padded.</summary>
    public bool IsFull => Lengths.All(l => l == Clips);

    /// <summary>Pads variable-length performances (each [T_i, F]) into one batch with positions from 0.</summary>
    public static ScorerBatch FromSequences(IReadOnlyList<float[]> sequences, int featureDim)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var lengths = sequences.Select(s => s.Length / featureDim).ToArray();
        var t = lengths.Max();
        var data = new float[sequences.Count * t * featureDim];
        for (var b = 0; b < sequences.Count; b++)
        {
            sequences[b].CopyTo(data.AsSpan(b * t * featureDim));
        }
        return new ScorerBatch(data, sequences.Count, t, featureDim, lengths, new int[sequences.Count]);
    }
}
