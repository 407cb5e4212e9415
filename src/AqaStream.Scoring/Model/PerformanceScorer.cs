using AqaStream.Numerics;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;

namespace AqaStream.Scoring.Model;

/// <summary>One clip's explanation in points: its weight (difficulty), score (execution) and contribution w·s.</summary>
public sealed record ClipExplanation(int Clip, float Weight, float Score, float Contribution);

/// <summary>A scored performance: the final score in points and the per-clip explanation.</summary>
public sealed record PerformancePrediction(string Id, float Score, IReadOnlyList<ClipExplanation> Clips);

/// <summary>Scores whole performances offline with a trained model (no gradients, no dropout).</summary>
public sealed class PerformanceScorer
{
    /// <summary>Performances scored together; padding is masked, so batching does not change results.</summary>
    public const int DefaultBatchSize = 16;

    private readonly WeightScoreDecoder _model;
    private readonly float _scale;

    /// <summary>Wraps a model and the scale that turns its output into points.</summary>
    public PerformanceScorer(WeightScoreDecoder model, float scoreScale)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _scale = scoreScale;
    }

    /// <summary>Scores with a loaded checkpoint of any method.</summary>
    public static IReadOnlyList<PerformancePrediction> Score(LoadedModel loaded, IReadOnlyList<PerformanceSample> samples)
    {
        ArgumentNullException.ThrowIfNull(loaded);
        return loaded.Scorer.Score(samples, loaded.Card.ScoreScale);
    }

    /// <summary>Wraps a loaded decoder checkpoint.</summary>
    public PerformanceScorer(LoadedModel loaded) : this(loaded?.Model!, loaded?.Card.ScoreScale ?? 1f) { }

    /// <summary>Scores performances, longest-first in batches (reference-mode models, which attend to padding, one at a time).</summary>
    public IReadOnlyList<PerformancePrediction> Score(IReadOnlyList<PerformanceSample> samples, int batchSize = DefaultBatchSize)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var results = new PerformancePrediction[samples.Count];
        var size = _model.Options.MaskPadding ? Math.Max(1, batchSize) : 1;
        var order = Enumerable.Range(0, samples.Count).OrderByDescending(i => samples[i].Clips).ToArray();
        using var _ = Autograd.NoGrad();
        for (var start = 0; start < order.Length; start += size)
        {
            var idx = order.Skip(start).Take(size).ToArray();
            using var memory = TensorMemory.Scope();
            var batch = ScorerBatch.FromSequences(idx.Select(i => samples[i].Features).ToList(), _model.Options.FeatureDim);
            var output = _model.Forward(batch);
            for (var k = 0; k < idx.Length; k++)
            {
                results[idx[k]] = Explain(samples[idx[k]].Id, output, k);
            }
        }
        return results;
    }

    private PerformancePrediction Explain(string id, ScorerOutput output, int b)
    {
        var q = output.Weights.Shape[1];
        var clips = new ClipExplanation[output.Lengths[b]];
        for (var j = 0; j < clips.Length; j++)
        {
            var w = output.Weights.Data[b * q + j];
            var s = output.ClipScores.Data[b * q + j];
            clips[j] = new ClipExplanation(j, w, s * _scale, w * s * _scale);
        }
        return new PerformancePrediction(id, output.Score.Data[b] * _scale, clips);
    }
}
