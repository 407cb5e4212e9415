using System.Diagnostics;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Metrics;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Training;

namespace AqaStream.Scoring.Evaluation;

/// <summary>A method under the benchmark protocol: trained on one outer fold's training part only.</summary>
public interface IBenchmarkMethod
{
    /// <summary>Its id in reports (<c>ridge-mean</c>, <c>ilt-aqa</c>, ...).</summary>
    string Name { get; }

    /// <summary>What it is, one line.</summary>
    string Description { get; }

    /// <summary>Whether its predictions rank performances (a constant does not: its ρ would be fold-mean noise).</summary>
    bool Ranks => true;

    /// <summary>Trains on <paramref name="train"/> (which it may split further for its own selection, never looking
    /// at anything else) and returns the scorer, the scale of its outputs and its parameter count.</summary>
    (IClipScorer Scorer, float Scale, long Parameters) Train(IReadOnlyList<PerformanceSample> train, int seed, Action<string> progress);
}

/// <summary>Predicts the training mean: the floor every model's MSE must beat.</summary>
public sealed class ConstantMethod : IBenchmarkMethod
{
    /// <inheritdoc/>
    public string Name => "constant";

    /// <inheritdoc/>
    public string Description => "the training mean for every performance";

    /// <inheritdoc/>
    public bool Ranks => false;

    /// <inheritdoc/>
    public (IClipScorer Scorer, float Scale, long Parameters) Train(IReadOnlyList<PerformanceSample> train, int seed, Action<string> progress)
    {
        ArgumentNullException.ThrowIfNull(train);
        var dim = train[0].FeatureDim;
        return (new MeanPooledRidge(new float[dim], (float)train.Average(s => s.Score!.Value), 0f), 1f, 1);
    }
}

/// <summary>Companion weights (<see cref="PerformanceSample.TrainingLabel"/>) as the methods take them: one weight, or
/// a grid the ridges choose from by their inner folds (<c>auto</c>).</summary>
public static class Companion
{
    /// <summary>The weights <c>auto</c> chooses from.</summary>
    public static readonly IReadOnlyList<double> AutoGrid = [0, 1, 2, 3];

    /// <summary>No companion: the judged score alone.</summary>
    public static readonly IReadOnlyList<double> None = [0];

    /// <summary>The id suffix: <c>-c2</c> for weight 2, <c>-cauto</c> for a grid, nothing for 0.</summary>
    public static string Suffix(IReadOnlyList<double>? weights) => weights switch
    {
        null or [0] => "",
        [var w] => FormattableString.Invariant($"-c{w}"),
        _ => "-cauto",
    };

    /// <summary>The description's tail.</summary>
    public static string Describe(IReadOnlyList<double>? weights) => weights switch
    {
        null or [0] => "",
        [var w] => FormattableString.Invariant($"; trained on the target + {w} × the other judged score, mapped back by a line fitted on held-out predictions"),
        _ => FormattableString.Invariant($"; trained on the target + W × the other judged score, W in {string.Join(", ", weights)} chosen with the penalty by the inner folds, mapped back by a line fitted on held-out predictions"),
    };
}

/// <summary>A ridge option as the methods take it (<see cref="OnOffAuto"/>): its id suffix, its description and the
/// progress line's account of what the inner folds chose.</summary>
public sealed class RidgeOption(string letter, string label, string what)
{
    /// <summary>The motion term (<see cref="ClipMotion"/>): <c>-m</c> / <c>-mauto</c>.</summary>
    public static readonly RidgeOption Motion = new("m", "motion", "the motion term (the mean change of each feature from clip to clip)");

    /// <summary>The squash (<see cref="ClipSquash"/>): <c>-s</c> / <c>-sauto</c>.</summary>
    public static readonly RidgeOption Squash = new("s", "squash", "the squash (tanh of each clip's standardised features before pooling)");

    /// <summary>The deduction term (<see cref="ClipDeductions"/>): <c>-d</c>.</summary>
    public static readonly RidgeOption Deductions = new("d", "deductions", "the deduction term (a per-clip detector of what the judges deduct for, trained on their deductions, its count priced by the inner folds)");

    /// <summary>The suffix of an on/off option.</summary>
    public string Suffix(bool on) => Suffix(on ? OnOffAuto.On : OnOffAuto.Off);

    /// <summary>The description's tail of an on/off option.</summary>
    public string Describe(bool on) => Describe(on ? OnOffAuto.On : OnOffAuto.Off);

    /// <summary>The progress line's account of a deduction term: its price and what it did on the inner folds.</summary>
    public static string DeductionsChosen(bool asked, PositionalRidge.DeductionFit? fit) => !asked ? ""
        : fit is null ? "; deduction term not taken (no negative price on the inner folds)"
        : FormattableString.Invariant($"; deduction term {fit.Points:F2} points per expected deduction, inner MSE {fit.MseWithout:F2} → {fit.MseWith:F2}");

    /// <summary>The id suffix: <c>-x</c> on, <c>-xauto</c> chosen by the inner folds, nothing off.</summary>
    public string Suffix(IReadOnlyList<bool>? choices) => choices switch
    {
        null or [false] => "",
        [true] => $"-{letter}",
        _ => $"-{letter}auto",
    };

    /// <summary>The description's tail.</summary>
    public string Describe(IReadOnlyList<bool>? choices) => choices switch
    {
        null or [false] => "",
        [true] => $"; with {what}",
        _ => $"; {what} in or out, chosen with the penalty by the inner folds",
    };

    /// <summary>What the inner folds chose, for the progress line (only when they chose).</summary>
    public string Chosen(IReadOnlyList<bool>? choices, bool chosen) => choices is { Count: > 1 } ? $", {label} {(chosen ? "on" : "off")}" : "";
}

/// <summary><c>ridge-mean</c>: the linear baseline (penalty by inner cross-validation), optionally with ln T, the
/// motion term and the squash.</summary>
public sealed class RidgeMethod(bool lengthTerm, IReadOnlyList<double>? companionWeights = null, IReadOnlyList<bool>? motion = null, IReadOnlyList<bool>? squash = null) : IBenchmarkMethod
{
    /// <inheritdoc/>
    public string Name => (lengthTerm ? "ridge-mean+len" : MeanPooledRidge.MethodName) + RidgeOption.Squash.Suffix(squash) + RidgeOption.Motion.Suffix(motion) + Companion.Suffix(companionWeights);

    /// <inheritdoc/>
    public string Description => (lengthTerm
        ? "ridge on mean-pooled clip features plus an unpenalised ln(clip count) term"
        : "ridge on mean-pooled clip features (the field's linear baseline)") + RidgeOption.Squash.Describe(squash) + RidgeOption.Motion.Describe(motion) + Companion.Describe(companionWeights);

    /// <inheritdoc/>
    public (IClipScorer Scorer, float Scale, long Parameters) Train(IReadOnlyList<PerformanceSample> train, int seed, Action<string> progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var (model, alpha, weight) = MeanPooledRidge.FitChoosingCompanion(train, lengthTerm, companionWeights ?? Companion.None, seed: seed, motion: motion, squash: squash);
        progress(FormattableString.Invariant($"penalty {alpha}{(companionWeights is { Count: > 1 } ? $", companion weight {weight}" : "")}{RidgeOption.Motion.Chosen(motion, model.HasMotion)}{RidgeOption.Squash.Chosen(squash, model.Squash is not null)}"));
        return (model, 1f, model.FeatureDim + model.MotionCoefficients.Length + (model.Squash is null ? 0 : 2 * model.FeatureDim) + (lengthTerm ? 2 : 1));
    }
}

/// <summary><c>ridge-pos</c>: the position-aware linear model (knots and penalty by inner cross-validation).</summary>
public sealed class PositionalRidgeMethod(IReadOnlyList<double>? companionWeights = null, IReadOnlyList<bool>? motion = null, IReadOnlyList<bool>? squash = null, bool deductions = false) : IBenchmarkMethod
{
    /// <inheritdoc/>
    public string Name => PositionalRidge.MethodName + RidgeOption.Squash.Suffix(squash) + RidgeOption.Motion.Suffix(motion) + RidgeOption.Deductions.Suffix(deductions) + Companion.Suffix(companionWeights);

    /// <inheritdoc/>
    public string Description => "ridge on the mean and position-weighted clip means (hat functions over the relative position; knots, share and penalty by inner CV)"
        + RidgeOption.Squash.Describe(squash) + RidgeOption.Motion.Describe(motion) + RidgeOption.Deductions.Describe(deductions) + Companion.Describe(companionWeights);

    /// <inheritdoc/>
    public (IClipScorer Scorer, float Scale, long Parameters) Train(IReadOnlyList<PerformanceSample> train, int seed, Action<string> progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var outOfFold = deductions ? new double[train.Count] : null;
        var (model, knots, share, alpha, weight) = PositionalRidge.FitChoosingCompanion(train, companionWeights ?? Companion.None, seed: seed, motion: motion, squash: squash, outOfFold: outOfFold);
        PositionalRidge.DeductionFit? fit = null;
        if (deductions) { (model, fit) = PositionalRidge.AddDeductions(model, train, outOfFold!, seed); }
        progress(FormattableString.Invariant($"{knots} knots, share {share}, penalty {alpha}{(companionWeights is { Count: > 1 } ? $", companion weight {weight}" : "")}{RidgeOption.Motion.Chosen(motion, model.HasMotion)}{RidgeOption.Squash.Chosen(squash, model.Squash is not null)}")
            + RidgeOption.DeductionsChosen(deductions, fit));
        return (model, 1f, Parameters(model));
    }

    /// <summary>A positional ridge's parameter count: coefficients, motion, squash, deduction detector, intercept.</summary>
    internal static long Parameters(PositionalRidge model) =>
        model.Coefficients.Length + model.MotionCoefficients.Length + (model.Squash is null ? 0 : 2 * model.FeatureDim) + (model.Deductions is null ? 0 : model.FeatureDim + 2) + 1;
}

/// <summary><c>ridge-blend</c>: the equal average of ridge-mean and ridge-pos, each fitted with its own inner CV on the
/// fold's training part (<see cref="PositionalRidge.Blend"/>).</summary>
public sealed class RidgeBlendMethod(IReadOnlyList<double>? companionWeights = null, IReadOnlyList<bool>? motion = null, IReadOnlyList<bool>? squash = null, bool deductions = false) : IBenchmarkMethod
{
    /// <inheritdoc/>
    public string Name => PositionalRidge.BlendMethodName + RidgeOption.Squash.Suffix(squash) + RidgeOption.Motion.Suffix(motion) + RidgeOption.Deductions.Suffix(deductions) + Companion.Suffix(companionWeights);

    /// <inheritdoc/>
    public string Description => "the equal average of ridge-mean and ridge-pos (one positional ridge: exact per-clip contributions)" + RidgeOption.Squash.Describe(squash) + RidgeOption.Motion.Describe(motion)
        + RidgeOption.Deductions.Describe(deductions) + Companion.Describe(companionWeights);

    /// <inheritdoc/>
    public (IClipScorer Scorer, float Scale, long Parameters) Train(IReadOnlyList<PerformanceSample> train, int seed, Action<string> progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var fit = PositionalRidge.FitBlend(train, companionWeights ?? Companion.None, motion, squash, seed, deductions: deductions);
        progress(FormattableString.Invariant($"ridge-mean penalty {fit.MeanAlpha}{RidgeOption.Motion.Chosen(motion, fit.Mean.HasMotion)}; ")
            + FormattableString.Invariant($"ridge-pos {fit.Knots} knots, share {fit.Share}, penalty {fit.PositionalAlpha}{RidgeOption.Motion.Chosen(motion, fit.Positional.HasMotion)}")
            + (companionWeights is { Count: > 1 } ? FormattableString.Invariant($"; companion weights {fit.MeanWeight} and {fit.PositionalWeight}") : "")
            + (squash is { Count: > 1 } ? $"; squash {(fit.Blend.Squash is null ? "off" : "on")}" : "")
            + RidgeOption.DeductionsChosen(deductions, fit.Deductions));
        return (fit.Blend, 1f, PositionalRidgeMethod.Parameters(fit.Blend));
    }
}

/// <summary>An equal blend of methods (<c>A+B</c>): each part is trained on the same training part, and the blend scores
/// with their average (<see cref="EnsembleScorer"/>: the explanation still adds up; live in exact mode).</summary>
public sealed class BlendMethod : IBenchmarkMethod
{
    private readonly IReadOnlyList<IBenchmarkMethod> _parts;

    /// <summary>Blends <paramref name="parts"/> (at least two, each scoring in points).</summary>
    public BlendMethod(IReadOnlyList<IBenchmarkMethod> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count < 2) { throw new ArgumentException("A blend needs at least two methods."); }
        _parts = parts;
    }

    /// <inheritdoc/>
    public string Name => string.Join("+", _parts.Select(p => p.Name));

    /// <inheritdoc/>
    public string Description => "the equal average of " + string.Join(" and ", _parts.Select(p => $"{p.Name} ({p.Description})"));

    /// <inheritdoc/>
    public (IClipScorer Scorer, float Scale, long Parameters) Train(IReadOnlyList<PerformanceSample> train, int seed, Action<string> progress)
    {
        ArgumentNullException.ThrowIfNull(progress);
        var scorers = new List<IClipScorer>();
        long parameters = 0;
        try
        {
            foreach (var part in _parts)
            {
                var (scorer, scale, count) = part.Train(train, seed, line => progress($"{part.Name}: {line}"));
                scorers.Add(scorer);
                if (scale != 1f) { throw new ArgumentException($"{part.Name} scores in model units (scale {scale}); a blend needs scores in points."); }
                parameters += count;
            }
        }
        catch
        {
            foreach (var s in scorers) { (s as IDisposable)?.Dispose(); }
            throw;
        }
        return (new EnsembleScorer(scorers, method: Name), 1f, parameters);
    }
}

/// <summary>One method on one target: pooled out-of-fold metrics and everything the report shows.</summary>
/// <param name="Method">Method id.</param>
/// <param name="Description">What it is.</param>
/// <param name="Target">TES or PCS.</param>
/// <param name="Pooled">Metrics of all out-of-fold predictions together.</param>
/// <param name="SpearmanInterval">Bootstrap 95 % interval of the pooled ρ.</param>
/// <param name="Folds">Per-fold metrics.</param>
/// <param name="FoldSpearmanMean">Mean of the fold ρ.</param>
/// <param name="FoldSpearmanSd">Their standard deviation.</param>
/// <param name="FoldMseMean">Mean of the fold MSE.</param>
/// <param name="FoldMseSd">Their standard deviation.</param>
/// <param name="TrainSeconds">Training time, all folds.</param>
/// <param name="Parameters">Parameter count (of one fold's model).</param>
/// <param name="EarlyPrediction">ρ and MSE of the score after the first 10 %, 20 %, ... 100 % of each performance's clips.</param>
/// <param name="Predictions">Out-of-fold prediction per performance id.</param>
/// <param name="Ranks">Whether ρ means anything for this method (false for the constant).</param>
/// <param name="WeightEntropy">Mean over held-out performances of the clip weights' entropy / ln T (1 = uniform).</param>
public sealed record MethodResult(string Method, string Description, bool Ranks, ScoreTarget Target, RegressionReport Pooled, (double Low, double High) SpearmanInterval,
    IReadOnlyList<RegressionReport> Folds, double FoldSpearmanMean, double FoldSpearmanSd, double FoldMseMean, double FoldMseSd, double TrainSeconds,
    long Parameters, IReadOnlyList<EarlyPoint> EarlyPrediction, IReadOnlyDictionary<string, double> Predictions, double WeightEntropy = 1);

/// <summary>One point of the early-prediction curve.</summary>
public sealed record EarlyPoint(double Fraction, double Spearman, double Mse);

/// <summary>
/// The honest protocol of <c>aqa benchmark</c>: every method on the same seeded folds of the training list, each fold's
/// model trained on the other folds only (selection inside them), predictions pooled out of fold. The test split is
/// never an input.
/// </summary>
public static class CrossValidation
{
    /// <summary>Fractions of the early-prediction curve.</summary>
    public static readonly IReadOnlyList<double> EarlyFractions = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

    /// <summary>Bootstrap resamples for the ρ interval.</summary>
    public const int BootstrapResamples = 1000;

    /// <summary>Runs <paramref name="method"/> on <paramref name="samples"/>.</summary>
    public static MethodResult Run(IBenchmarkMethod method, ScoreTarget target, IReadOnlyList<PerformanceSample> samples, int folds, int seed,
        Action<string> progress)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(progress);
        var predictions = new Dictionary<string, double>(StringComparer.Ordinal);
        var early = EarlyFractions.ToDictionary(f => f, _ => new Dictionary<string, double>(StringComparer.Ordinal));
        var reports = new List<RegressionReport>();
        var entropies = new List<double>();
        var seconds = 0.0;
        long parameters = 0;
        for (var fold = 0; fold < folds; fold++)
        {
            var (train, held) = TrainingData.Split(samples, folds, fold, seed);
            var clock = Stopwatch.StartNew();
            var (scorer, scale, count) = method.Train(train, seed, line => progress($"{method.Name} {target} fold {fold + 1}/{folds}: {line}"));
            seconds += clock.Elapsed.TotalSeconds;
            parameters = count;
            var scored = scorer.Score(held, scale);
            reports.Add(RegressionMetrics.Evaluate(scored.Select(p => (double)p.Score).ToList(), held.Select(h => (double)h.Score!.Value).ToList()));
            foreach (var (p, h) in scored.Zip(held)) { predictions[h.Id] = p.Score; }
            entropies.AddRange(scored.Where(p => p.Clips.Count > 1).Select(p => NormalisedEntropy(p.Clips)));
            foreach (var f in EarlyFractions)
            {
                var prefixes = held.Select(h => Prefix(h, f)).ToList();
                foreach (var (p, h) in scorer.Score(prefixes, scale).Zip(held)) { early[f][h.Id] = p.Score; }
            }
            (scorer as IDisposable)?.Dispose();   // a libtorch model's native memory goes with its fold
            progress(FormattableString.Invariant($"{method.Name} {target} fold {fold + 1}/{folds}: ρ {reports[^1].Spearman:F3} mse {reports[^1].Mse:F2} ({clock.Elapsed.TotalSeconds:F0} s)"));
        }
        var ids = samples.Select(s => s.Id).ToList();
        var actual = samples.Select(s => (double)s.Score!.Value).ToList();
        var pooledPredictions = ids.Select(id => predictions[id]).ToList();
        var pooled = RegressionMetrics.Evaluate(pooledPredictions, actual);
        var curve = EarlyFractions.Select(f =>
        {
            var p = ids.Select(id => early[f][id]).ToList();
            return new EarlyPoint(f, RegressionMetrics.Spearman(p, actual), RegressionMetrics.Mse(p, actual));
        }).ToList();
        return new MethodResult(method.Name, method.Description, method.Ranks, target, pooled, BootstrapSpearman(pooledPredictions, actual, seed), reports,
            reports.Average(r => r.Spearman), Sd(reports.Select(r => r.Spearman)), reports.Average(r => r.Mse), Sd(reports.Select(r => r.Mse)),
            seconds, parameters, curve, predictions, entropies.Count == 0 ? 1 : entropies.Average());
    }

    /// <summary>The entropy of a performance's clip weights over ln T: 1 for uniform weights (every clip counts the
    /// same), towards 0 as the weight gathers on a few clips.</summary>
    public static double NormalisedEntropy(IReadOnlyList<ClipExplanation> clips)
    {
        ArgumentNullException.ThrowIfNull(clips);
        if (clips.Count < 2) { return 1; }
        var total = clips.Sum(c => (double)c.Weight);
        var h = 0.0;
        foreach (var c in clips)
        {
            var w = c.Weight / total;
            if (w > 0) { h -= w * Math.Log(w); }
        }
        return h / Math.Log(clips.Count);
    }

    /// <summary>The first ⌈f·T⌉ clips of a performance (at least one).</summary>
    public static PerformanceSample Prefix(PerformanceSample sample, double fraction)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var clips = Math.Clamp((int)Math.Ceiling(sample.Clips * fraction), 1, sample.Clips);
        return sample with { Clips = clips, Features = sample.Features[..(clips * sample.FeatureDim)] };
    }

    /// <summary>Percentile bootstrap 95 % interval of Spearman's ρ (performances resampled with replacement).</summary>
    public static (double Low, double High) BootstrapSpearman(IReadOnlyList<double> predicted, IReadOnlyList<double> actual, int seed)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(actual);
        var rng = new Random(seed);
        var n = predicted.Count;
        var values = new double[BootstrapResamples];
        var p = new double[n];
        var a = new double[n];
        for (var b = 0; b < BootstrapResamples; b++)
        {
            for (var i = 0; i < n; i++)
            {
                var k = rng.Next(n);
                p[i] = predicted[k];
                a[i] = actual[k];
            }
            values[b] = RegressionMetrics.Spearman(p, a);
        }
        Array.Sort(values);
        return (values[(int)(0.025 * BootstrapResamples)], values[(int)(0.975 * BootstrapResamples) - 1]);
    }

    private static double Sd(IEnumerable<double> values)
    {
        var v = values.ToList();
        var m = v.Average();
        return v.Count < 2 ? 0 : Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Count - 1));
    }
}

/// <summary>Reports on the caller's thread, in order (<see cref="Progress{T}"/> posts to the thread pool).</summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
