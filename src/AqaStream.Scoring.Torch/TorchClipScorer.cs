using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;

namespace AqaStream.Scoring.Torch;

/// <summary>The weight-score decoder on libtorch as an <see cref="IClipScorer"/>, so the live pipeline, replay and
/// evaluation run it like any method: live states are <see cref="TorchLivePerformance"/>, offline scoring
/// <see cref="TorchPerformanceScorer"/>.</summary>
public sealed class TorchClipScorer(TorchWeightScoreDecoder model) : IBatchedClipScorer, ISavedModel, IDisposable
{
    /// <summary>Registers the decoder's checkpoint format (<see cref="ModelCard.CurrentFormat"/>) with
    /// <see cref="CheckpointStore"/>: such checkpoints load on the CPU (move them with <see cref="To"/>). Idempotent.</summary>
    public static void Register() => CheckpointStore.RegisterFormat(ModelCard.CurrentFormat, Load);

    /// <summary>Loads a decoder checkpoint's tensors (names and shapes checked against the card's architecture).</summary>
    public static TorchClipScorer Load(SafeTensorsFile file, ModelCard card, string source)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(card);
        return new TorchClipScorer(TorchWeightScoreDecoder.Load(card.Architecture, file.Tensors, source));
    }

    /// <summary>The same model on <paramref name="device"/>: this scorer when it is there already, else a new one
    /// (this one is disposed, so no native memory is held twice).</summary>
    public TorchClipScorer To(TorchSharp.torch.Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (Model.Device.type == device.type && Model.Device.index == device.index) { return this; }
        var moved = new TorchClipScorer(Model.To(device));
        Dispose();
        return moved;
    }

    /// <inheritdoc/>
    public string Format => ModelCard.CurrentFormat;

    /// <inheritdoc/>
    public IReadOnlyList<NamedTensor> Tensors() => Model.Tensors();

    /// <inheritdoc/>
    public bool KeepsScoreScale => true;

    private readonly TorchLiveDecoder _live = new(model);

    /// <summary>The model.</summary>
    public TorchWeightScoreDecoder Model { get; } = model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>The batched live state of every performance this scorer started.</summary>
    public TorchLiveDecoder Live => _live;

    /// <inheritdoc/>
    public string Method => DecoderOptions.MethodName;

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
    public void Dispose()
    {
        _live.Dispose();
        Model.Dispose();
    }
}
