using System.Diagnostics;
using AqaStream.Numerics;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Model;

namespace AqaStream.Scoring.Training;

/// <summary>One epoch's figures, reported as training goes.</summary>
public sealed record EpochReport(int Epoch, int Epochs, double RegressionLoss, double AttentionLoss, RegressionReport Validation,
    double Seconds, bool Improved, float LearningRate);

/// <summary>The outcome: the model holds the best-on-validation weights.</summary>
public sealed record TrainingResult(ValidationSummary Best, IReadOnlyList<EpochReport> History, double Seconds);

/// <summary>
/// Trains the weight-score decoder: Adam, MSE on normalised scores (with the reference's prediction noise) plus the
/// attention loss, random crop/pad to the training length, best epoch chosen on a validation split of the training data.
/// </summary>
public sealed class Trainer
{
    private readonly TrainingOptions _options;

    /// <summary>Creates a trainer.</summary>
    public Trainer(TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

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

    /// <summary>Trains in place and leaves the best-on-validation weights in <paramref name="model"/>.</summary>
    public TrainingResult Train(WeightScoreDecoder model, IReadOnlyList<PerformanceSample> train, IReadOnlyList<PerformanceSample> validation,
        IProgress<EpochReport>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        if (train.Count == 0 || validation.Count < 2) { throw new ArgumentException("Training needs samples and at least two validation samples."); }
        var o = _options;
        var clock = Stopwatch.StartNew();
        var rng = new Random(o.Seed);
        var adam = new Adam(model.Parameters, o.LearningRate, o.WeightDecay);
        model.InitialiseScoreBias((float)train.Average(s => s.Score!.Value) / o.ScoreScale);
        var stepsPerEpoch = (train.Count + o.BatchSize - 1) / o.BatchSize;
        var totalSteps = stepsPerEpoch * o.Epochs;
        var step = 0;
        var history = new List<EpochReport>();
        ValidationSummary? best = null;
        float[][]? bestWeights = null;
        var sinceBest = 0;
        var scorer = new PerformanceScorer(model, o.ScoreScale);
        for (var epoch = 1; epoch <= o.Epochs; epoch++)
        {
            cancellation.ThrowIfCancellationRequested();
            var epochClock = Stopwatch.StartNew();
            var order = Enumerable.Range(0, train.Count).ToArray();
            rng.Shuffle(order);
            double regSum = 0, attSum = 0;
            for (var start = 0; start < order.Length; start += o.BatchSize)
            {
                adam.LearningRate = o.LearningRateAt(step++, stepsPerEpoch, totalSteps);
                var idx = order.AsSpan(start, Math.Min(o.BatchSize, order.Length - start)).ToArray();
                var (reg, att) = TrainStep(model, adam, idx.Select(i => train[i]).ToList(), rng);
                regSum += reg * idx.Length;
                attSum += att * idx.Length;
            }
            var predictions = scorer.Score(validation);
            var report = RegressionMetrics.Evaluate(predictions.Select(p => (double)p.Score).ToList(), validation.Select(s => (double)s.Score!.Value).ToList());
            var improved = TrainingOptions.Improves(report.Spearman, best);
            if (improved)
            {
                best = new ValidationSummary(report.Spearman, report.Pearson, report.Mse, report.RelativeL2, report.Count, epoch);
                bestWeights = model.Parameters.All.Select(p => (float[])p.Value.Data.Clone()).ToArray();
                sinceBest = 0;
            }
            else
            {
                sinceBest++;
            }
            var er = new EpochReport(epoch, o.Epochs, regSum / train.Count, attSum / train.Count, report, epochClock.Elapsed.TotalSeconds, improved, adam.LearningRate);
            history.Add(er);
            progress?.Report(er);
            if (o.Patience > 0 && sinceBest >= o.Patience) { break; }
        }
        var all = model.Parameters.All;
        for (var i = 0; i < all.Count; i++) { bestWeights![i].CopyTo(all[i].Value.Data, 0); }
        model.Parameters.MarkChanged();
        return new TrainingResult(best!, history, clock.Elapsed.TotalSeconds);
    }


    /// <summary>One optimiser step on a batch; returns the regression and attention losses.</summary>
    public (double Regression, double Attention) TrainStep(WeightScoreDecoder model, Adam adam, IReadOnlyList<PerformanceSample> samples, Random rng)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(adam);
        ArgumentNullException.ThrowIfNull(samples);
        using var memory = TensorMemory.Scope();
        var batch = CropBatch(samples, _options.TrainLength, model.Options.FeatureDim, rng);
        var output = model.Forward(batch, training: true, rng, withAttentionLoss: true);
        var target = new float[samples.Count];
        var noise = new float[samples.Count];
        for (var b = 0; b < samples.Count; b++)
        {
            target[b] = samples[b].Score!.Value / _options.ScoreScale;
            noise[b] = _options.PredictionNoiseStd > 0 ? Gaussian.Next(rng, 0f, _options.PredictionNoiseStd) : 0f;
        }
        var noisy = Ops.Add(output.Score, Tensor.FromData(noise, samples.Count));
        var regression = Ops.MseLoss(noisy, Tensor.FromData(target, samples.Count));
        var loss = output.AttentionLoss is null ? regression : Ops.Add(regression, output.AttentionLoss);
        model.Parameters.ZeroGrad();
        loss.Backward();
        adam.Step();
        return (regression.Item, output.AttentionLoss?.Item ?? 0);
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
