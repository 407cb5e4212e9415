using AqaStream.Scoring.Data;

namespace AqaStream.Scoring.Model;

/// <summary>
/// The motion term of the ridges (<c>--motion</c>): how much each clip feature changes from one clip to the next,
/// m_q = |x_q − x_{q−1}| per feature (m_0 = 0: the first clip has nothing before it), pooled over the performance as
/// (1/T) Σ_q m_q, the same 1/T as the mean. A ridge with motion reads it beside the mean with its own coefficients μ, so
/// every clip still weighs 1/T and scores s_q = b + β·x_q + μ·m_q: the per-clip scores stay exact contributions, and a
/// clip's score depends on it and the clip before only (causal, as the mean is).
/// </summary>
public static class ClipMotion
{
    /// <summary>(1/T) Σ_{q≥1} |x_q − x_{q−1}| per feature, added into <paramref name="into"/> from <paramref name="offset"/>.</summary>
    public static void Pool(PerformanceSample sample, double[] into, int offset)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(into);
        var d = sample.FeatureDim;
        var row = into.AsSpan(offset, d);
        for (var q = 1; q < sample.Clips; q++)
        {
            var clip = sample.Features.AsSpan(q * d, d);
            var previous = sample.Features.AsSpan((q - 1) * d, d);
            for (var j = 0; j < d; j++) { row[j] += Math.Abs(clip[j] - previous[j]) / (double)sample.Clips; }
        }
    }

    /// <summary>μ·|x − x_prev| for a clip and the one before it (0 when there is none: <paramref name="previous"/> empty).</summary>
    public static double Dot(ReadOnlySpan<float> coefficients, ReadOnlySpan<float> clip, ReadOnlySpan<float> previous)
    {
        if (previous.IsEmpty || coefficients.IsEmpty) { return 0; }
        if (previous.Length != clip.Length || coefficients.Length != clip.Length)
        {
            throw new ArgumentException($"A clip has {clip.Length} feature values, the clip before {previous.Length}; the motion term reads {coefficients.Length}.");
        }
        var s = 0.0;
        for (var j = 0; j < clip.Length; j++) { s += coefficients[j] * Math.Abs(clip[j] - previous[j]); }
        return s;
    }

    /// <summary>The clip before clip <paramref name="q"/> of a performance (empty for the first).</summary>
    public static ReadOnlySpan<float> Previous(PerformanceSample sample, int q)
    {
        ArgumentNullException.ThrowIfNull(sample);
        return q == 0 ? [] : sample.Features.AsSpan((q - 1) * sample.FeatureDim, sample.FeatureDim);
    }
}
