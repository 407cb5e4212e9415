using AqaStream.Scoring.Data;

namespace AqaStream.Scoring.Model;

/// <summary>
/// The weighted average of several scorers: a cross-fit ensemble (one model per inner fold of the training data, each
/// selected and recalibrated on its own fold; equal weights) or a blend of methods (e.g. a transformer ensemble and a
/// ridge). The score is Σ_i v_i ŷ_i (weights v_i &gt; 0 summing to 1); a clip's weight is Σ_i v_i w_iq and its
/// contribution Σ_i v_i w_iq s_iq, so the explanation still adds up (weights sum to 1, contributions to the score) and a
/// clip's score is its contribution over its weight. Live scoring is exact mode: every member's state takes the clip
/// and the states are averaged the same way. Saved as one checkpoint (<see cref="Checkpoints.ModelCard.EnsembleFormat"/>).
/// </summary>
public sealed class EnsembleScorer : IClipScorer, IDisposable
{
    private readonly IReadOnlyList<IClipScorer> _members;
    private readonly double[] _weights;

    /// <summary>Averages <paramref name="members"/> (at least one; the same feature width) with <paramref name="weights"/>
    /// (positive, normalised to sum to 1; equal when omitted). <paramref name="method"/> names the ensemble (default: the
    /// members' method when they share one, else their methods joined by '+'). A member that is itself an ensemble is
    /// flattened into its members (weights multiplied), so an ensemble is always one level deep.</summary>
    public EnsembleScorer(IReadOnlyList<IClipScorer> members, IReadOnlyList<double>? weights = null, string? method = null)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count == 0) { throw new ArgumentException("An ensemble needs at least one member."); }
        if (members.Any(m => m is EnsembleScorer))
        {
            var given = weights ?? [.. members.Select(_ => 1.0)];
            if (given.Count != members.Count) { throw new ArgumentException($"{given.Count} weights for {members.Count} members."); }
            var total0 = given.Sum();
            var flat = new List<(IClipScorer Member, double Weight)>();
            for (var i = 0; i < members.Count; i++)
            {
                if (members[i] is EnsembleScorer inner) { flat.AddRange(inner._members.Select((m, j) => (m, given[i] / total0 * inner._weights[j]))); }
                else { flat.Add((members[i], given[i] / total0)); }
            }
            method ??= string.Join("+", members.Select(m => m.Method).Distinct(StringComparer.Ordinal));
            members = [.. flat.Select(f => f.Member)];
            weights = [.. flat.Select(f => f.Weight)];
        }
        var first = members[0];
        if (members.Any(m => m.FeatureDim != first.FeatureDim))
        {
            throw new ArgumentException($"An ensemble's members must read the same feature width; they read {string.Join(", ", members.Select(m => m.FeatureDim).Distinct())}.");
        }
        var w = weights ?? [.. members.Select(_ => 1.0)];
        if (w.Count != members.Count) { throw new ArgumentException($"{w.Count} weights for {members.Count} members."); }
        if (w.Any(v => !(v > 0) || !double.IsFinite(v))) { throw new ArgumentException("Ensemble weights must be positive and finite."); }
        var total = w.Sum();
        _weights = [.. w.Select(v => v / total)];
        _members = members;
        var methods = members.Select(m => m.Method).Distinct(StringComparer.Ordinal).ToList();
        Method = method ?? (methods.Count == 1 ? methods[0] : string.Join("+", methods));
    }

    /// <summary>The members.</summary>
    public IReadOnlyList<IClipScorer> Members => _members;

    /// <summary>Each member's weight (they sum to 1).</summary>
    public IReadOnlyList<double> Weights => _weights;

    /// <inheritdoc/>
    public string Method { get; }

    /// <inheritdoc/>
    public int FeatureDim => _members[0].FeatureDim;

    /// <inheritdoc/>
    public int MaxClips => _members.Min(m => m.MaxClips);

    /// <summary>Exact mode only.</summary>
    public bool Causal => false;

    /// <inheritdoc/>
    public IReadOnlyList<PerformancePrediction> Score(IReadOnlyList<PerformanceSample> samples, float scoreScale)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var all = _members.Select(m => m.Score(samples, scoreScale)).ToList();
        return [.. samples.Select((s, i) => Combine(s.Id, [.. all.Select(a => a[i])]))];
    }

    /// <summary>The members' predictions of one performance, averaged as the class says.</summary>
    internal PerformancePrediction Combine(string id, IReadOnlyList<PerformancePrediction> parts)
    {
        var clips = new ClipExplanation[parts[0].Clips.Count];
        for (var q = 0; q < clips.Length; q++)
        {
            double w = 0, c = 0, s = 0, d = 0;
            for (var i = 0; i < parts.Count; i++)
            {
                w += _weights[i] * parts[i].Clips[q].Weight;
                c += _weights[i] * parts[i].Clips[q].Contribution;
                s += _weights[i] * parts[i].Clips[q].Score;
                d += _weights[i] * parts[i].Clips[q].Deduction;
            }
            // The deductions average on their own; the score is what is left of the contribution per unit of weight.
            clips[q] = new ClipExplanation(q, (float)w, (float)(w > 0 ? (c - d) / w : s), (float)c, (float)d);
        }
        var score = 0.0;
        for (var i = 0; i < parts.Count; i++) { score += _weights[i] * parts[i].Score; }
        return new PerformancePrediction(id, (float)score, clips);
    }

    /// <inheritdoc/>
    public IncrementalDecoder StartPerformance(IncrementalMode mode)
    {
        if (mode == IncrementalMode.Streaming) { throw new InvalidOperationException($"An ensemble ({Method}) recomputes every member on the clips so far: use exact mode."); }
        return new EnsembleState(this, [.. _members.Select(m => m.StartPerformance(IncrementalMode.Exact))]);
    }

    /// <summary>Disposes the members that hold native memory.</summary>
    public void Dispose()
    {
        foreach (var m in _members) { (m as IDisposable)?.Dispose(); }
    }

    private sealed class EnsembleState(EnsembleScorer owner, IReadOnlyList<IncrementalDecoder> states) : IncrementalDecoder
    {
        private float[] _logits = [];
        private float[] _scores = [];
        private float[] _deductions = [];
        private float[] _attention = [];

        public override int Clips => states[0].Clips;

        public override float Score { get; protected set; }

        public override ReadOnlySpan<float> Logits => _logits;

        public override ReadOnlySpan<float> ClipScores => _scores;

        public override ReadOnlySpan<float> LatestCrossAttention => _attention;

        public override ReadOnlySpan<float> ClipDeductions => _deductions;

        public override IncrementalMode Mode => IncrementalMode.Exact;

        public override void Append(ReadOnlySpan<float> clipFeatures)
        {
            // Checked once here, so that a bad clip reaches no member (the states stay in step).
            CheckClip(clipFeatures, owner.FeatureDim, Clips, owner.MaxClips);
            foreach (var s in states) { s.Append(clipFeatures); }
            var parts = states.Select(s =>
            {
                var w = s.Weights();
                var scores = s.ClipScores.ToArray();
                var deductions = s.ClipDeductions.ToArray();
                return new PerformancePrediction(string.Empty, s.Score, [.. w.Select((wq, q) =>
                {
                    var d = deductions.Length > 0 ? deductions[q] : 0f;
                    return new ClipExplanation(q, wq, scores[q], (wq * scores[q]) + d, d);
                })]);
            }).ToList();
            var combined = owner.Combine(string.Empty, parts);
            Score = combined.Score;
            _scores = [.. combined.Clips.Select(c => c.Score)];
            _deductions = combined.Clips.Any(c => c.Deduction != 0) ? [.. combined.Clips.Select(c => c.Deduction)] : [];
            _logits = [.. combined.Clips.Select(c => c.Weight > 0 ? MathF.Log(c.Weight) : float.MinValue)];
            // The members' latest cross-attention rows, weighted the same way (rows of different lengths are zero-padded).
            _attention = new float[states.Max(s => s.LatestCrossAttention.Length)];
            for (var i = 0; i < states.Count; i++)
            {
                var a = states[i].LatestCrossAttention;
                for (var j = 0; j < a.Length; j++) { _attention[j] += (float)(owner._weights[i] * a[j]); }
            }
        }
    }
}
