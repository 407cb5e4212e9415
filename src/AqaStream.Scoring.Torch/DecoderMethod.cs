using AqaStream.Scoring.Data;
using AqaStream.Scoring.Evaluation;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Training;

namespace AqaStream.Scoring.Torch;

/// <summary><c>ilt-aqa</c> under the benchmark protocol: the main paper's weight-score decoder on libtorch; the epoch
/// is chosen on an inner validation fold carved from the outer training part.</summary>
public sealed class DecoderMethod(DecoderOptions architecture, TrainingOptions training) : IBenchmarkMethod
{
    /// <inheritdoc/>
    public string Name => DecoderOptions.MethodName;

    /// <inheritdoc/>
    public string Description => FormattableString.Invariant(
        $"weight-score decoder (d = {architecture.ModelDim}, {architecture.Layers} layers{(architecture.Causal ? ", causal" : "")}), best epoch of {training.Epochs} on an inner fold");

    /// <inheritdoc/>
    public (IClipScorer Scorer, float Scale, long Parameters) Train(IReadOnlyList<PerformanceSample> train, int seed, Action<string> progress)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(progress);
        var options = training with { Seed = seed };
        var (inner, innerValidation) = TrainingData.Split(train, options.Folds, 0, seed);
        var model = new TorchWeightScoreDecoder(architecture with { FeatureDim = train[0].FeatureDim }, seed: seed);
        var result = new TorchTrainer(options).Train(model, inner, innerValidation,
            new SynchronousProgress<EpochReport>(e => { if (e.Improved || e.Epoch == e.Epochs) { progress(FormattableString.Invariant($"epoch {e.Epoch}/{e.Epochs} inner ρ {e.Validation.Spearman:F3}")); } }));
        progress(FormattableString.Invariant($"best inner epoch {result.Best.Epoch}"));
        return (new TorchClipScorer(model), options.ScoreScale, model.ParameterCount);
    }
}
