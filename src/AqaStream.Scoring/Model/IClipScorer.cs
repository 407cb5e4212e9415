using AqaStream.Scoring.Data;

namespace AqaStream.Scoring.Model;

/// <summary>
/// One scoring method, as the live pipeline, evaluation and prediction use it: every method gives a final score, a
/// provisional score after each clip, and per-clip weights and scores in the weight-score form ŷ = Σ_q w_q s_q (the
/// explanation). Methods: <c>ilt-aqa</c> (the weight-score decoder, on libtorch in AqaStream.Scoring.Torch), <c>ridge-mean</c>
/// (<see cref="MeanPooledRidge"/>).
/// </summary>
public interface IClipScorer
{
    /// <summary>The method's name (<c>aqa train --method</c>).</summary>
    string Method { get; }

    /// <summary>Feature values per clip it reads.</summary>
    int FeatureDim { get; }

    /// <summary>Most clips one performance may have.</summary>
    int MaxClips { get; }

    /// <summary>Whether earlier clips' outputs are final when a clip arrives (streaming mode possible).</summary>
    bool Causal { get; }

    /// <summary>Starts one live performance's state. Streaming needs a causal scorer.</summary>
    IncrementalDecoder StartPerformance(IncrementalMode mode);

    /// <summary>Scores whole performances offline; <paramref name="scoreScale"/> turns model units into points.</summary>
    IReadOnlyList<PerformancePrediction> Score(IReadOnlyList<PerformanceSample> samples, float scoreScale);
}
