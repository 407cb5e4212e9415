using System.Diagnostics;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace AqaStream.Scoring.Torch;

/// <summary>
/// Trains the weight-score decoder on libtorch: torch.optim.Adam (L2 weight
/// decay), MSE on normalised scores with the reference's prediction noise plus the attention loss, random crop/pad to
/// the training length, warm-up + cosine schedule, best epoch on the validation split, early stopping. Deterministic on
/// CPU for a seed (libtorch's generator for initialisation and dropout, <see cref="Random"/> for shuffles and crops).
/// </summary>
public sealed class TorchTrainer
{
    private readonly TrainingOptions _options;

    /// <summary>Creates a trainer.</summary>
    public TorchTrainer(TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <summary>Trains in place and leaves the best-on-validation weights in <paramref name="model"/>.</summary>
    public TrainingResult Train(TorchWeightScoreDecoder model, IReadOnlyList<PerformanceSample> train, IReadOnlyList<PerformanceSample> validation,
        IProgress<EpochReport>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        if (train.Count == 0 || validation.Count < 2) { throw new ArgumentException("Training needs samples and at least two validation samples."); }
        var o = _options;
        var clock = Stopwatch.StartNew();
        random.manual_seed(o.Seed);
        var rng = new Random(o.Seed);
        InitialiseScoreBias(model, (float)train.Average(s => s.Score!.Value) / o.ScoreScale);
        using var adam = optim.Adam(model.Parameters.Select(p => (TorchSharp.Modules.Parameter)p.Value).ToList(), o.LearningRate, weight_decay: o.WeightDecay);
        var stepsPerEpoch = (train.Count + o.BatchSize - 1) / o.BatchSize;
        var totalSteps = stepsPerEpoch * o.Epochs;
        var step = 0;
        var history = new List<EpochReport>();
        using var best = new BestEpoch([.. model.Parameters.Select(p => p.Value)], o.Patience);
        var scorer = new TorchPerformanceScorer(model, o.ScoreScale);
        {
            for (var epoch = 1; epoch <= o.Epochs; epoch++)
            {
                cancellation.ThrowIfCancellationRequested();
                var epochClock = Stopwatch.StartNew();
                var order = Enumerable.Range(0, train.Count).ToArray();
                rng.Shuffle(order);
                double regSum = 0, attSum = 0;
                float lr = o.LearningRate;
                for (var start = 0; start < order.Length; start += o.BatchSize)
                {
                    lr = o.LearningRateAt(step++, stepsPerEpoch, totalSteps);
                    foreach (var g in adam.ParamGroups) { g.LearningRate = lr; }
                    var idx = order.AsSpan(start, Math.Min(o.BatchSize, order.Length - start)).ToArray();
                    var (reg, att) = TrainStep(model, adam, idx.Select(i => train[i]).ToList(), rng);
                    regSum += reg * idx.Length;
                    attSum += att * idx.Length;
                }
                var predictions = scorer.Score(validation);
                var report = RegressionMetrics.Evaluate(predictions.Select(p => (double)p.Score).ToList(), validation.Select(s => (double)s.Score!.Value).ToList());
                var improved = best.Observe(epoch, report);
                var er = new EpochReport(epoch, o.Epochs, regSum / train.Count, attSum / train.Count, report, epochClock.Elapsed.TotalSeconds, improved, lr);
                history.Add(er);
                progress?.Report(er);
                if (best.Stop) { break; }
            }
            best.Restore();
        }
        return new TrainingResult(best.Best!, history, clock.Elapsed.TotalSeconds);
    }

    /// <summary>One optimiser step on a batch (inside its own dispose scope); returns the regression and attention losses.</summary>
    public (double Regression, double Attention) TrainStep(TorchWeightScoreDecoder model, optim.Optimizer optimizer, IReadOnlyList<PerformanceSample> samples, Random rng)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(samples);
        using var scope = NewDisposeScope();
        var batch = TrainingData.CropBatch(samples, _options.TrainLength, model.Options.FeatureDim, rng);
        var x = tensor(batch.Features, [batch.BatchSize, batch.Clips, batch.FeatureDim]);
        var output = model.Forward(x, batch.Lengths.Select(l => (long)l).ToArray(), batch.FirstPositions.Select(f => (long)f).ToArray(), training: true, withAttentionLoss: true);
        var target = tensor(samples.Select(s => s.Score!.Value / _options.ScoreScale).ToArray(), device: model.Device);
        var noisy = _options.PredictionNoiseStd > 0 ? output.Score + randn(samples.Count, device: model.Device) * _options.PredictionNoiseStd : output.Score;
        var regression = nn.functional.mse_loss(noisy, target);
        var loss = output.AttentionLoss is null ? regression : regression + output.AttentionLoss;
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        return (regression.item<float>(), output.AttentionLoss?.item<float>() ?? 0);
    }

    /// <summary>Sets the last bias of the score MLP so an untrained model predicts <paramref name="normalisedScore"/>.</summary>
    public static void InitialiseScoreBias(TorchWeightScoreDecoder model, float normalisedScore)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var _ = no_grad();
        model["head.layer3_mean.bias"].fill_(normalisedScore);
    }

}

/// <summary>Scores whole performances offline on libtorch (no gradients, no dropout), longest first in masked batches.</summary>
public sealed class TorchPerformanceScorer(TorchWeightScoreDecoder model, float scoreScale)
{
    private readonly TorchWeightScoreDecoder _model = model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>Scores <paramref name="samples"/> with their per-clip explanation in points.</summary>
    public IReadOnlyList<PerformancePrediction> Score(IReadOnlyList<PerformanceSample> samples, int batchSize = PerformanceScorer.DefaultBatchSize)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var results = new PerformancePrediction[samples.Count];
        var size = _model.Options.MaskPadding ? Math.Max(1, batchSize) : 1;
        var order = Enumerable.Range(0, samples.Count).OrderByDescending(i => samples[i].Clips).ToArray();
        using var _ = inference_mode();
        for (var start = 0; start < order.Length; start += size)
        {
            using var scope = NewDisposeScope();
            var idx = order.Skip(start).Take(size).ToArray();
            var batch = ScorerBatch.FromSequences(idx.Select(i => samples[i].Features).ToList(), _model.Options.FeatureDim);
            var x = tensor(batch.Features, [batch.BatchSize, batch.Clips, batch.FeatureDim]);
            var output = _model.Forward(x, batch.Lengths.Select(l => (long)l).ToArray(), new long[batch.BatchSize]);
            var q = batch.Clips;
            var w = output.Weights.cpu().data<float>().ToArray();
            var s = output.ClipScores.cpu().data<float>().ToArray();
            var score = output.Score.cpu().data<float>().ToArray();
            for (var k = 0; k < idx.Length; k++)
            {
                var clips = new ClipExplanation[batch.Lengths[k]];
                for (var j = 0; j < clips.Length; j++)
                {
                    var (wj, sj) = (w[k * q + j], s[k * q + j]);
                    clips[j] = new ClipExplanation(j, wj, sj * scoreScale, wj * sj * scoreScale);
                }
                results[idx[k]] = new PerformancePrediction(samples[idx[k]].Id, score[k] * scoreScale, clips);
            }
        }
        return results;
    }
}
