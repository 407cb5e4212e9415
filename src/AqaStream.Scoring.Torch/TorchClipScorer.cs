using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;

namespace AqaStream.Scoring.Torch;

/// <summary>The weight-score decoder on libtorch as an <see cref="IClipScorer"/>, so the live pipeline, replay and
/// evaluation run it like any method: live states are <see cref="TorchLivePerformance"/>, offline scoring
/// <see cref="TorchPerformanceScorer"/>.</summary>
public sealed class TorchClipScorer(TorchWeightScoreDecoder model) : IBatchedClipScorer, IDisposable
{
    private readonly TorchLiveDecoder _live = new(model);

    /// <summary>The model.</summary>
    public TorchWeightScoreDecoder Model { get; } = model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>The batched live state of every performance this scorer started.</summary>
    public TorchLiveDecoder Live => _live;

    /// <inheritdoc/>
    public string Method => WeightScoreDecoder.MethodName;

    /// <inheritdoc/>
    public int FeatureDim => Model.Options.FeatureDim;

    /// <inheritdoc/>
    public int MaxClips => Model.Options.MaxQueries;

    /// <inheritdoc/>
    public bool Causal => Model.Options.Causal;

    /// <inheritdoc/>
    public IncrementalDecoder StartPerformance(IncrementalMode mode) => _live.Start(mode);

    /// <inheritdoc/>
    public void Step(IReadOnlyList<(IncrementalDecoder State, float[] Features)> clips)
    {
        ArgumentNullException.ThrowIfNull(clips);
        _live.Step(clips.Select(c => (c.State as TorchLivePerformance ?? throw new ArgumentException("A state this scorer did not start."), c.Features)).ToList());
    }

    /// <inheritdoc/>
    public IReadOnlyList<PerformancePrediction> Score(IReadOnlyList<PerformanceSample> samples, float scoreScale) =>
        new TorchPerformanceScorer(Model, scoreScale).Score(samples);

    /// <inheritdoc/>
    public void Dispose() => Model.Dispose();
}
