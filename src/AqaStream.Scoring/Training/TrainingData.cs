using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Model;

namespace AqaStream.Scoring.Training;

/// <summary>One epoch's figures, reported as training goes.</summary>
public sealed record EpochReport(int Epoch, int Epochs, double RegressionLoss, double AttentionLoss, RegressionReport Validation,
    double Seconds, bool Improved, float LearningRate);

/// <summary>The outcome: the model holds the best-on-validation weights.</summary>
public sealed record TrainingResult(ValidationSummary Best, IReadOnlyList<EpochReport> History, double Seconds)
{
    /// <summary>The line y = a·ŷ + b folded into the model's score mapping after training
    /// (<see cref="TrainingOptions.Recalibrate"/>); none when not asked. <see cref="Best"/> then reports the
    /// recalibrated model on the validation split the line was fitted on.</summary>
    public (double Slope, double Intercept)? Recalibration { get; init; }
}

/// <summary>How every trainer cuts and batches its data: the seeded k-fold split (the same folds for every method) and
/// the random crop/pad of a training batch.</summary>
public static class TrainingData
{
    /// <summary>
    /// Seeded k-fold split: items are shuffled with <paramref name="seed"/>, cut into <paramref name="folds"/> near-equal
    /// folds, and fold <paramref name="fold"/> is the validation part.
    /// </summary>
    public static (List<T> Train, List<T> Validation) Split<T>(IReadOnlyList<T> items, int folds, int fold, int seed)
    {
        ArgumentNullException.ThrowIfNull(items);
        var order = Enumerable.Range(0, items.Count).ToArray();
        new Random(seed).Shuffle(order);
        var train = new List<T>();
        var validation = new List<T>();
        for (var i = 0; i < order.Length; i++)
        {
            (i * folds / order.Length == fold ? validation : train).Add(items[order[i]]);
        }
        return (train, validation);
    }

    /// <summary>Random crop (longer performances) or zero padding (shorter) to <paramref name="length"/> clips;
    /// a crop keeps its clips' absolute positions so every query position gets trained.</summary>
    public static ScorerBatch CropBatch(IReadOnlyList<PerformanceSample> samples, int length, int featureDim, Random rng)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(rng);
        var data = new float[samples.Count * length * featureDim];
        var lengths = new int[samples.Count];
        var first = new int[samples.Count];
        for (var b = 0; b < samples.Count; b++)
        {
            var s = samples[b];
            var start = s.Clips > length ? rng.Next(s.Clips - length + 1) : 0;
            var n = Math.Min(length, s.Clips);
            s.Features.AsSpan(start * featureDim, n * featureDim).CopyTo(data.AsSpan(b * length * featureDim));
            lengths[b] = n;
            first[b] = start;
        }
        return new ScorerBatch(data, samples.Count, length, featureDim, lengths, first);
    }
}
