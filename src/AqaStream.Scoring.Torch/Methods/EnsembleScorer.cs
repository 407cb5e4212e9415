using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;

namespace AqaStream.Scoring.Torch.Methods;

/// <summary>
/// The average of several scorers of one method, e.g. a cross-fit ensemble (one model per inner fold of the training
/// data, each selected and recalibrated on its own inner fold). The score is the members' mean; a clip's weight is the
/// members' mean weight and its contribution their mean contribution, so the explanation still adds up (weights sum
/// to 1, contributions to the score) and a clip's score is its contribution over its weight. Live scoring is exact
/// mode: every member's state takes the clip and the states are averaged the same way. Not saved as a checkpoint
/// (the benchmark's <c>--cross-fit</c> uses it).
/// </summary>
public sealed class EnsembleScorer : IClipScorer, IDisposable
{
    private readonly IReadOnlyList<IClipScorer> _members;

    /// <summary>Averages <paramref name="members"/> (at least one; the same method, feature width and clip limit).</summary>
    public EnsembleScorer(IReadOnlyList<IClipScorer> members)
    {
        ArgumentNullException.ThrowIfNull(members);
        if (members.Count == 0) { throw new ArgumentException("An ensemble needs at least one member."); }
        var first = members[0];
        if (members.Any(m => m.Method != first.Method || m.FeatureDim != first.FeatureDim || m.MaxClips != first.MaxClips))
        {
            throw new ArgumentException("An ensemble's members must share the method, the feature width and the clip limit.");
        }
        _members = members;
    }

    /// <summary>The members.</summary>
    public IReadOnlyList<IClipScorer> Members => _members;

    /// <inheritdoc/>
    public string Method => _members[0].Method;

    /// <inheritdoc/>
    public int FeatureDim => _members[0].FeatureDim;

    /// <inheritdoc/>
    public int MaxClips => _members[0].MaxClips;

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
    internal static PerformancePrediction Combine(string id, IReadOnlyList<PerformancePrediction> parts)
    {
        var clips = new ClipExplanation[parts[0].Clips.Count];
        for (var q = 0; q < clips.Length; q++)
        {
            var w = parts.Average(p => p.Clips[q].Weight);
            var c = parts.Average(p => p.Clips[q].Contribution);
            clips[q] = new ClipExplanation(q, w, w > 0 ? c / w : parts.Average(p => p.Clips[q].Score), c);
        }
        return new PerformancePrediction(id, parts.Average(p => p.Score), clips);
    }

    /// <inheritdoc/>
    public IncrementalDecoder StartPerformance(IncrementalMode mode)
    {
        if (mode == IncrementalMode.Streaming) { throw new InvalidOperationException($"An ensemble of {Method} recomputes every member on the clips so far: use exact mode."); }
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
        private float[] _attention = [];

        public override int Clips => states[0].Clips;

        public override float Score { get; protected set; }

        public override ReadOnlySpan<float> Logits => _logits;

        public override ReadOnlySpan<float> ClipScores => _scores;

        public override ReadOnlySpan<float> LatestCrossAttention => _attention;

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
                return new PerformancePrediction(string.Empty, s.Score, [.. w.Select((wq, q) => new ClipExplanation(q, wq, scores[q], wq * scores[q]))]);
            }).ToList();
            var combined = Combine(string.Empty, parts);
            Score = combined.Score;
            _scores = [.. combined.Clips.Select(c => c.Score)];
            _logits = [.. combined.Clips.Select(c => c.Weight > 0 ? MathF.Log(c.Weight) : float.MinValue)];
            var n = states[0].LatestCrossAttention.Length;
            _attention = new float[n];
            foreach (var s in states)
            {
                var a = s.LatestCrossAttention;
                for (var j = 0; j < n && j < a.Length; j++) { _attention[j] += a[j] / states.Count; }
            }
        }
    }
}
