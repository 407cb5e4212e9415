namespace AqaStream.Scoring.Model;

/// <summary>How a live performance's decoder state is updated per clip.</summary>
public enum IncrementalMode
{
    /// <summary>Bidirectional model: each new clip's memory projections are cached, the query side is recomputed, so the
    /// provisional score equals the offline score of the clips so far.</summary>
    Exact,

    /// <summary>Causal model: key/value caches; each new clip costs one query's work and earlier outputs are final;
    /// the provisional is Σ exp(a_q) s_q / Σ exp(a_q) kept as running sums.</summary>
    Streaming,
}

/// <summary>
/// One live performance's decoder state (ARCHITECTURE.md, "Streaming form"): append clips as they arrive, read the
/// provisional score and per-clip weight logits and scores. Not thread-safe: one performance, one consumer.
/// Scores are on the normalised scale (multiply by the model card's scale for points).
/// </summary>
public abstract class IncrementalDecoder
{
    /// <summary>Clips appended so far.</summary>
    public abstract int Clips { get; }

    /// <summary>The provisional score: softmax-weighted clip scores over the clips so far, plus the clips' expected
    /// deductions (<see cref="AqaStream.Scoring.Model.ClipDeductions"/>) where the model has them (0 before the first clip).</summary>
    public abstract float Score { get; protected set; }

    /// <summary>Weight logits a_q of clips 0..Clips-1 (w = softmax over them).</summary>
    public abstract ReadOnlySpan<float> Logits { get; }

    /// <summary>Clip scores s_q of clips 0..Clips-1.</summary>
    public abstract ReadOnlySpan<float> ClipScores { get; }

    /// <summary>Each clip's expected deduction d_q (≤ 0, normalised scale) for clips 0..Clips-1, added beside w_q·s_q
    /// (Score = Σ w_q·s_q + Σ d_q), or empty for a model without a deduction term: a fall is a penalty of its own,
    /// as the judges' deductions are, not an execution score of hundreds of negative points.</summary>
    public virtual ReadOnlySpan<float> ClipDeductions => [];

    /// <summary>The newest clip's query attention over clips 0..Clips-1 in the last layer's cross-attention, averaged
    /// over heads: which moments the model looked at to score it (the "top attended clips" of a clip score).</summary>
    public abstract ReadOnlySpan<float> LatestCrossAttention { get; }

    /// <summary>The mode.</summary>
    public abstract IncrementalMode Mode { get; }

    /// <summary>Adds the next clip's feature vector.</summary>
    public abstract void Append(ReadOnlySpan<float> clipFeatures);

    /// <summary>Refuses a clip before any state changes: the wrong width, a non-finite value, or one clip past the
    /// model's <paramref name="maxClips"/>.</summary>
    protected static void CheckClip(ReadOnlySpan<float> clipFeatures, int featureDim, int clips, int maxClips)
    {
        if (clipFeatures.Length != featureDim) { throw new ArgumentException($"A clip has {clipFeatures.Length} feature values; the model reads {featureDim}."); }
        foreach (var v in clipFeatures)
        {
            if (!float.IsFinite(v)) { throw new ArgumentException("A clip's features hold a non-finite value."); }
        }
        if (clips >= maxClips) { throw new InvalidOperationException($"The performance is over the model's {maxClips} clips."); }
    }

    /// <summary>Weights w_q = softmax(a) over the clips so far.</summary>
    public float[] Weights()
    {
        var a = Logits;
        var w = new float[a.Length];
        if (w.Length == 0) { return w; }
        // Shifted by the largest logit so exp cannot overflow.
        System.Numerics.Tensors.TensorPrimitives.Subtract(a, System.Numerics.Tensors.TensorPrimitives.Max(a), w);
        System.Numerics.Tensors.TensorPrimitives.Exp(w, w);
        System.Numerics.Tensors.TensorPrimitives.Divide(w, System.Numerics.Tensors.TensorPrimitives.Sum(w), w);
        return w;
    }
}
