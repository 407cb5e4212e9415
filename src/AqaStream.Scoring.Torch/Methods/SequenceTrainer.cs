using System.Diagnostics;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Evaluation;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace AqaStream.Scoring.Torch.Methods;

/// <summary>
/// Trains a sequence method on libtorch: AdamW (decoupled weight decay), warm-up + cosine, random crops of
/// <see cref="TrainingOptions.TrainLength"/> clips (GDLT's protocol: 68), MSE on the normalised score plus the method's
/// auxiliary loss, the best epoch by validation ρ (<see cref="TrainingOptions.Improves"/>), early stopping.
/// Deterministic on CPU for a seed.
/// </summary>
public sealed class SequenceTrainer
{
    private readonly TrainingOptions _options;

    /// <summary>Epochs of a sequence method unless told otherwise.</summary>
    public const int DefaultEpochs = 40;

    /// <summary>The training settings of a sequence method unless told otherwise (GDLT's protocol: crops of 68 clips,
    /// batch 32; AdamW's decoupled decay 1e-2).</summary>
    public static TrainingOptions Defaults(string method) => new()
    {
        Epochs = DefaultEpochs, BatchSize = 32, TrainLength = 68, LearningRate = method == "mlp-mean" ? 1e-3f : 5e-4f, WeightDecay = 1e-2f, WarmupEpochs = 3,
        Schedule = LearningRateSchedule.Cosine, Patience = 0, PredictionNoiseStd = 0, Recalibrate = true,
    };

    /// <summary>Creates a trainer.</summary>
    public SequenceTrainer(TrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    /// <summary>The score mapping for <paramref name="train"/>: the grade-decoupled methods' Likert output lies in [0, 1],
    /// so z spans the training range with a 5 % margin each side; the others regress the standardised score.</summary>
    public static SequenceMethodOptions WithScoreMapping(SequenceMethodOptions options, IReadOnlyList<PerformanceSample> train, double companionWeight = 0)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(train);
        var scores = train.Select(s => s.TrainingLabel(companionWeight)).ToList();
        if (options.Method is "gdlt" or "cofinal" or "qgvl")
        {
            var (lo, hi) = (scores.Min(), scores.Max());
            var range = Math.Max(hi - lo, 1e-3);
            return options with { ScoreOffset = (float)(lo - (0.05 * range)), ScoreSpan = (float)(1.1 * range) };
        }
        var mean = scores.Average();
        var sd = Math.Sqrt(scores.Sum(v => (v - mean) * (v - mean)) / scores.Count);
        return options with { ScoreOffset = (float)mean, ScoreSpan = (float)Math.Max(sd, 1e-3) };
    }

    /// <summary>Trains a new model of <paramref name="options"/> (its score mapping fitted to <paramref name="train"/>) and
    /// returns it with the best-on-validation weights.</summary>
    public (SequenceScorer Scorer, TrainingResult Result) Train(SequenceMethodOptions options, IReadOnlyList<PerformanceSample> train, IReadOnlyList<PerformanceSample> validation,
        IProgress<EpochReport>? progress = null, CancellationToken cancellation = default, float[,]? promptEmbeddings = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        if (train.Count < 2 || validation.Count < 2) { throw new ArgumentException("Training needs at least two training and two validation performances."); }
        if (train.Concat(validation).Any(s => s.Score is null)) { throw new ArgumentException("Every training and validation performance needs a judged score."); }
        var o = _options;
        var mapped = WithScoreMapping(options with { FeatureDim = train[0].FeatureDim, PromptDim = promptEmbeddings?.GetLength(1) ?? options.PromptDim }, train, o.CompanionWeight);
        var model = SequenceModel.Create(mapped, o.Seed, promptEmbeddings);
        var scorer = new SequenceScorer(model);
        var clock = Stopwatch.StartNew();
        var rng = new Random(o.Seed);
        var parameters = model.parameters().ToList();
        using var adam = optim.AdamW(parameters, o.LearningRate, weight_decay: o.WeightDecay);
        var stepsPerEpoch = (train.Count + o.BatchSize - 1) / o.BatchSize;
        var totalSteps = stepsPerEpoch * o.Epochs;
        var step = 0;
        var history = new List<EpochReport>();
        using var best = new BestEpoch([.. model.state_dict().Values], o.Patience);
        try
        {
            for (var epoch = 1; epoch <= o.Epochs; epoch++)
            {
                cancellation.ThrowIfCancellationRequested();
                var epochClock = Stopwatch.StartNew();
                var order = Enumerable.Range(0, train.Count).ToArray();
                rng.Shuffle(order);
                double regSum = 0, auxSum = 0;
                var lr = o.LearningRate;
                model.train();
                for (var start = 0; start < order.Length; start += o.BatchSize)
                {
                    lr = o.LearningRateAt(step++, stepsPerEpoch, totalSteps);
                    foreach (var g in adam.ParamGroups) { g.LearningRate = lr; }
                    var batch = order.AsSpan(start, Math.Min(o.BatchSize, order.Length - start)).ToArray().Select(i => train[i]).ToList();
                    if (batch.Count < 2) { continue; }   // a batch norm needs two performances
                    var (reg, aux) = Step(model, adam, batch, rng);
                    regSum += reg * batch.Count;
                    auxSum += aux * batch.Count;
                }
                model.eval();
                var predictions = scorer.Score(validation, 1f);
                var report = RegressionMetrics.Evaluate(predictions.Select(p => (double)p.Score).ToList(), validation.Select(s => (double)s.Score!.Value).ToList());
                var improved = best.Observe(epoch, report);
                var er = new EpochReport(epoch, o.Epochs, regSum / train.Count, auxSum / train.Count, report, epochClock.Elapsed.TotalSeconds, improved, lr);
                history.Add(er);
                progress?.Report(er);
                if (best.Stop) { break; }
            }
            best.Restore();
        }
        catch
        {
            scorer.Dispose();
            throw;
        }
        finally
        {
            model.eval();
        }
        if (!o.Recalibrate) { return (scorer, new TrainingResult(best.Best!, history, clock.Elapsed.TotalSeconds)); }
        var predicted = scorer.Score(validation, 1f).Select(p => (double)p.Score).ToList();
        var judged = validation.Select(s => (double)s.Score!.Value).ToList();
        var (slope, intercept) = CalibrationLine.Fit(predicted, judged);
        scorer.Model.Recalibrate((float)slope, (float)intercept);
        var after = RegressionMetrics.Evaluate(scorer.Score(validation, 1f).Select(p => (double)p.Score).ToList(), judged);
        var recalibrated = new ValidationSummary(after.Spearman, after.Pearson, after.Mse, after.RelativeL2, after.Count, best.Best!.Epoch);
        return (scorer, new TrainingResult(recalibrated, history, clock.Elapsed.TotalSeconds) { Recalibration = (slope, intercept) });
    }

    private (double Regression, double Auxiliary) Step(SequenceModel model, optim.Optimizer optimizer, IReadOnlyList<PerformanceSample> samples, Random rng)
    {
        using var scope = NewDisposeScope();
        var o = model.Options;
        var batch = TrainingData.CropBatch(samples, _options.TrainLength, o.FeatureDim, rng);
        var x = tensor(batch.Features, [batch.BatchSize, batch.Clips, batch.FeatureDim]);
        var mask = arange(batch.Clips).unsqueeze(0) < tensor(batch.Lengths.Select(l => (long)l).ToArray()).unsqueeze(1);
        var output = model.call(x, mask);
        var target = tensor(samples.Select(s => (float)((s.TrainingLabel(_options.CompanionWeight) - o.ScoreOffset) / o.ScoreSpan)).ToArray());
        var regression = nn.functional.mse_loss(output.Score, target);
        var loss = model.TrainingLoss(output, target);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        return (regression.item<float>(), output.Auxiliary?.item<float>() ?? 0);
    }
}

/// <summary>A sequence method under the benchmark protocol: the epoch is chosen on an inner validation fold carved
/// from the outer training part.</summary>
public sealed class SequenceBenchmarkMethod(SequenceMethodOptions architecture, TrainingOptions training, int crossFit = 1) : IBenchmarkMethod
{
    /// <inheritdoc/>
    public string Name => (architecture.LocalHeads ? $"{architecture.Method}-local" : architecture.Method) + Companion.Suffix([training.CompanionWeight])
        + (crossFit > 1 ? FormattableString.Invariant($"-x{crossFit}") : "");

    /// <inheritdoc/>
    public string Description => FormattableString.Invariant(
        $"{Name} on libtorch (hidden {architecture.Hidden}, dropout {architecture.Dropout}, crops of {training.TrainLength}), best epoch of {training.Epochs} on an inner fold")
        + (crossFit > 1 ? FormattableString.Invariant($"; the average of {crossFit} models, one per inner fold (cross-fit)") : "")
        + Companion.Describe([training.CompanionWeight]);

    /// <inheritdoc/>
    public (IClipScorer Scorer, float Scale, long Parameters) Train(IReadOnlyList<PerformanceSample> train, int seed, Action<string> progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var options = training with { Seed = seed };
        if (crossFit > 1)
        {
            // One model per inner fold, each selected and recalibrated on its own fold; their average scores.
            var members = new List<SequenceScorer>();
            try
            {
                for (var f = 0; f < crossFit; f++)
                {
                    var (part, held) = TrainingData.Split(train, crossFit, f, seed);
                    var (member, r) = new SequenceTrainer(options).Train(architecture, part, held);
                    members.Add(member);
                    progress(FormattableString.Invariant($"member {f + 1}/{crossFit}: best inner epoch {r.Best.Epoch}, inner ρ {r.Best.Spearman:F3}"));
                }
            }
            catch
            {
                foreach (var m in members) { m.Dispose(); }
                throw;
            }
            return (new EnsembleScorer(members), 1f, members.Sum(m => m.ParameterCount));
        }
        var (inner, innerValidation) = TrainingData.Split(train, options.Folds, 0, seed);
        var (scorer, result) = new SequenceTrainer(options).Train(architecture, inner, innerValidation,
            new SynchronousProgress<EpochReport>(e => { if (e.Improved || e.Epoch == e.Epochs) { progress(FormattableString.Invariant($"epoch {e.Epoch}/{e.Epochs} inner ρ {e.Validation.Spearman:F3}")); } }));
        progress(FormattableString.Invariant($"best inner epoch {result.Best.Epoch}"));
        if (result.Recalibration is var (a, b)) { progress(FormattableString.Invariant($"recalibrated on the inner fold: {a:F3}·ŷ + {b:F2}")); }
        return (scorer, 1f, scorer.ParameterCount);
    }
}
