using AqaStream.Scoring.Data;

namespace AqaStream.Scoring.Model;

/// <summary>
/// The ridges' squash (<c>--squash</c>): each clip's features are standardised by the training clips' per-feature mean
/// c and spread σ and squashed, φ(x)_j = tanh((x_j − c_j)/σ_j), before anything is pooled, so a few extreme clip values
/// no longer dominate a performance's mean. It is a per-clip map: the ridge then reads the mean (and the position-weighted
/// means, and the motion term) of φ(x_q), every clip still weighs 1/T and scores b + β·φ(x_q) (+ …), the per-clip scores
/// stay exact contributions and a clip's score is fixed when it arrives. c and σ come from the training part's clips
/// only (no label is read), and are saved with the model.
/// </summary>
public sealed class ClipSquash
{
    private readonly float[] _center;
    private readonly float[] _spread;

    /// <summary>A squash with per-feature centre c and spread σ (positive).</summary>
    public ClipSquash(float[] center, float[] spread)
    {
        ArgumentNullException.ThrowIfNull(center);
        ArgumentNullException.ThrowIfNull(spread);
        if (center.Length == 0 || center.Length != spread.Length) { throw new ArgumentException($"The squash needs one centre and one spread per feature; got {center.Length} and {spread.Length}."); }
        if (!center.All(float.IsFinite) || !spread.All(s => float.IsFinite(s) && s > 0)) { throw new ArgumentException("The squash's centres must be finite and its spreads positive."); }
        _center = center;
        _spread = spread;
    }

    /// <summary>c, per feature.</summary>
    public ReadOnlySpan<float> Center => _center;

    /// <summary>σ, per feature.</summary>
    public ReadOnlySpan<float> Spread => _spread;

    /// <summary>Feature width.</summary>
    public int FeatureDim => _center.Length;

    /// <summary>c and σ over every clip of <paramref name="samples"/> (σ floored at 1e-6).</summary>
    public static ClipSquash Fit(IReadOnlyList<PerformanceSample> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (samples.Count == 0) { throw new ArgumentException("The squash needs at least one performance to fit on."); }
        var d = samples[0].FeatureDim;
        var sum = new double[d];
        var squares = new double[d];
        long clips = 0;
        foreach (var s in samples)
        {
            if (s.FeatureDim != d) { throw new ArgumentException($"{s.Id}: {s.FeatureDim} feature values per clip, others have {d}."); }
            for (var i = 0; i < s.Clips * d; i++)
            {
                double v = s.Features[i];
                sum[i % d] += v;
                squares[i % d] += v * v;
            }
            clips += s.Clips;
        }
        var center = new float[d];
        var spread = new float[d];
        for (var j = 0; j < d; j++)
        {
            var mean = sum[j] / clips;
            center[j] = (float)mean;
            spread[j] = (float)Math.Max(1e-6, Math.Sqrt(Math.Max(0, (squares[j] / clips) - (mean * mean))));
        }
        return new ClipSquash(center, spread);
    }

    /// <summary>φ(<paramref name="clip"/>) into <paramref name="into"/>.</summary>
    public void Apply(ReadOnlySpan<float> clip, Span<float> into)
    {
        if (clip.Length != FeatureDim || into.Length != FeatureDim) { throw new ArgumentException($"A clip has {clip.Length} feature values; the squash reads {FeatureDim}."); }
        for (var j = 0; j < clip.Length; j++) { into[j] = MathF.Tanh((clip[j] - _center[j]) / _spread[j]); }
    }

    /// <summary>φ(<paramref name="clip"/>) as a new array.</summary>
    public float[] Apply(ReadOnlySpan<float> clip)
    {
        var into = new float[clip.Length];
        Apply(clip, into);
        return into;
    }

    /// <summary>The performance with every clip squashed (labels kept).</summary>
    public PerformanceSample Apply(PerformanceSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        if (sample.FeatureDim != FeatureDim) { throw new ArgumentException($"{sample.Id}: {sample.FeatureDim} feature values per clip; the squash reads {FeatureDim}."); }
        var features = new float[sample.Features.Length];
        for (var q = 0; q < sample.Clips; q++) { Apply(sample.Features.AsSpan(q * FeatureDim, FeatureDim), features.AsSpan(q * FeatureDim, FeatureDim)); }
        return sample with { Features = features };
    }

    /// <summary>Whether two squashes map every clip alike (the same centres and spreads).</summary>
    public bool SameAs(ClipSquash? other) => other is not null && _center.AsSpan().SequenceEqual(other._center) && _spread.AsSpan().SequenceEqual(other._spread);
}
