namespace AqaStream.Scoring.Model;

/// <summary>The streaming form of the provisional score, Σ exp(a_q) s_q / Σ exp(a_q), kept as running sums relative to
/// the largest logit so far (rescaled when a new maximum arrives) so it never overflows. Shared by every engine's
/// streaming state.</summary>
public struct StreamingProvisional
{
    private float _maxLogit;
    private double _sumWeights;
    private double _sumWeightedScores;
    private bool _any;

    /// <summary>Adds clip (logit <paramref name="logit"/>, score <paramref name="score"/>) and returns the provisional.</summary>
    public float Add(float logit, float score)
    {
        if (!_any || logit > _maxLogit)
        {
            var rescale = _any ? Math.Exp(_maxLogit - logit) : 0;
            _sumWeights *= rescale;
            _sumWeightedScores *= rescale;
            _maxLogit = logit;
            _any = true;
        }
        var w = Math.Exp(logit - _maxLogit);
        _sumWeights += w;
        _sumWeightedScores += w * score;
        return (float)(_sumWeightedScores / _sumWeights);
    }
}
