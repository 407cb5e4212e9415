using AqaStream.Scoring.Data;
using MathNet.Numerics.LinearAlgebra;

namespace AqaStream.Scoring.Model;

/// <summary>
/// <c>ridge-pos</c>: a position-aware linear model, the linear baseline made to know <em>when</em> in the programme a
/// clip happens. Each clip's relative position r_q = (q + ½)/T is spread over K knots by hat functions φ_k (a partition
/// of unity: φ_k(r) = max(0, 1 − (K−1)|r − k/(K−1)|)), and ridge regression reads the K position-weighted means
/// Φ_k = (1/T) Σ_q φ_k(r_q) x_q beside the plain mean, β_k = β̄ + δ_k: the shared part β̄ is penalised less (by the
/// chosen share c, its standardised block is scaled by √c), so the knots depart from ridge-mean only where the data
/// say so. Since Σ_k Φ_k = mean, the fit folds into one β_k per knot. It is a weight-score model with exact contributions: w_q = 1/T and
/// s_q = b + Σ_k φ_k(r_q) β_k·x_q, so ŷ = Σ_q w_q s_q. K = 1 would be <c>ridge-mean</c>. Because r_q moves as clips
/// arrive, the provisional after t clips is the same formula on the t clips so far (exact mode). With the motion term
/// (<see cref="ClipMotion"/>), the pooled motion is read beside the knots, position-free: s_q gains μ·|x_q − x_{q−1}|.
/// With a squash (<see cref="ClipSquash"/>) every formula reads φ(x_q) for x_q. With the deduction term
/// (<see cref="ClipDeductions"/>), clip q adds its expected deduction d_q = γ·p_q beside w_q·s_q (ŷ = Σ_q w_q s_q + Σ_q d_q):
/// its expected share of the judges' deductions, reported as a deduction of its own, so s_q stays an execution score.
/// </summary>
public sealed class PositionalRidge : IClipScorer
{
    /// <summary>The method name.</summary>
    public const string MethodName = "ridge-pos";

    /// <summary>The deduction detector's weights v (<see cref="ClipDeductions"/>), present only in a model with the deduction term.</summary>
    public const string DeductionWeightsTensor = "ridge.deduction_weights";

    /// <summary>The deduction detector's bias c and the points γ per expected deduction, in that order.</summary>
    public const string DeductionOffsetsTensor = "ridge.deduction_offsets";

    /// <summary>Knot counts tried when none is given (inner cross-validation).</summary>
    public static readonly IReadOnlyList<int> DefaultKnots = [3, 4];

    /// <summary>Shares c of the shared (position-free) part tried when none is given: its block is weighted √c.</summary>
    public static readonly IReadOnlyList<double> DefaultShares = [2, 4, 8, 16];

    private readonly float[] _coefficients;   // [K, D] on raw features
    private readonly float[]? _motion;        // [D] on raw feature changes, or none
    private readonly ClipSquash? _squash;     // the per-clip map the coefficients read, or none
    private readonly ClipDeductions? _deductions;   // the deduction detector and its points, or none

    /// <summary>A fitted model: <paramref name="coefficients"/> [knots × featureDim] on raw features, the intercept, and
    /// the motion coefficients μ [featureDim] (null without the motion term); <paramref name="deductions"/>: the deduction
    /// term, reading the clips as the coefficients do (null without).</summary>
    public PositionalRidge(float[] coefficients, int knots, float intercept, int maxClips = MeanPooledRidge.DefaultMaxClips, float[]? motion = null, ClipSquash? squash = null,
        ClipDeductions? deductions = null)
    {
        ArgumentNullException.ThrowIfNull(coefficients);
        if (knots < 2) { throw new ArgumentException($"A positional ridge needs at least 2 knots; got {knots}."); }
        if (coefficients.Length == 0 || coefficients.Length % knots != 0) { throw new ArgumentException($"{coefficients.Length} coefficients do not split into {knots} knots."); }
        if (!coefficients.All(float.IsFinite) || !float.IsFinite(intercept) || (motion is not null && !motion.All(float.IsFinite))) { throw new ArgumentException("Ridge coefficients must be finite."); }
        if (motion is not null && motion.Length != coefficients.Length / knots)
        {
            throw new ArgumentException($"{motion.Length} motion coefficients for {coefficients.Length / knots} features: the motion term needs one per feature.");
        }
        if (squash is not null && squash.FeatureDim != coefficients.Length / knots)
        {
            throw new ArgumentException($"The squash reads {squash.FeatureDim} features; the model reads {coefficients.Length / knots}.");
        }
        if (deductions is not null && deductions.FeatureDim != coefficients.Length / knots)
        {
            throw new ArgumentException($"The deduction detector reads {deductions.FeatureDim} features; the model reads {coefficients.Length / knots}.");
        }
        _coefficients = coefficients;
        _motion = motion;
        _squash = squash;
        _deductions = deductions;
        Knots = knots;
        Intercept = intercept;
        MaxClips = maxClips;
    }

    /// <inheritdoc/>
    public string Method => MethodName;

    /// <inheritdoc/>
    public int FeatureDim => _coefficients.Length / Knots;

    /// <inheritdoc/>
    public int MaxClips { get; }

    /// <summary>Every clip's score moves when a clip arrives (its relative position does): exact mode only.</summary>
    public bool Causal => false;

    /// <summary>K.</summary>
    public int Knots { get; }

    /// <summary>β, [K × D] row-major on raw features.</summary>
    public ReadOnlySpan<float> Coefficients => _coefficients;

    /// <summary>b, points.</summary>
    public float Intercept { get; }

    /// <summary>Whether the model has the motion term (<see cref="ClipMotion"/>).</summary>
    public bool HasMotion => _motion is not null;

    /// <summary>μ, per raw feature; empty without the motion term.</summary>
    public ReadOnlySpan<float> MotionCoefficients => _motion;

    /// <summary>The per-clip squash the coefficients read, or null.</summary>
    public ClipSquash? Squash => _squash;

    /// <summary>The deduction term, or null.</summary>
    public ClipDeductions? Deductions => _deductions;

    /// <summary>The same model reading clips through <paramref name="squash"/> (its coefficients fitted on squashed clips).</summary>
    public PositionalRidge WithSquash(ClipSquash? squash) => new([.. _coefficients], Knots, Intercept, MaxClips, _motion, squash, _deductions);

    /// <summary>The same model with the deduction term <paramref name="deductions"/> (or none).</summary>
    public PositionalRidge WithDeductions(ClipDeductions? deductions) => new([.. _coefficients], Knots, Intercept, MaxClips, _motion, _squash, deductions);

    /// <summary>φ_k(r) for the hat basis of <paramref name="knots"/> knots.</summary>
    public static double Hat(int k, int knots, double r) => Math.Max(0, 1 - (Math.Abs(r - ((double)k / (knots - 1))) * (knots - 1)));

    /// <summary>β_k·x for every knot k: a clip's part of the score before its position is known (x already through the
    /// squash when the model has one).</summary>
    public double[] KnotDots(ReadOnlySpan<float> clip)
    {
        if (clip.Length != FeatureDim) { throw new ArgumentException($"A clip has {clip.Length} feature values; the model reads {FeatureDim}."); }
        var dots = new double[Knots];
        for (var k = 0; k < Knots; k++)
        {
            var row = _coefficients.AsSpan(k * FeatureDim, FeatureDim);
            var s = 0.0;
            for (var j = 0; j < row.Length; j++) { s += row[j] * clip[j]; }
            dots[k] = s;
        }
        return dots;
    }

    // s_q; extra: what the clip adds beside its position (motion).
    private float ClipScore(double[] dots, double extra, int q, int clips)
    {
        var r = (q + 0.5) / clips;
        var s = Intercept + extra;
        for (var k = 0; k < Knots; k++) { s += Hat(k, Knots, r) * dots[k]; }
        return (float)s;
    }

    /// <inheritdoc/>
    public IReadOnlyList<PerformancePrediction> Score(IReadOnlyList<PerformanceSample> samples, float scoreScale)
    {
        ArgumentNullException.ThrowIfNull(samples);
        return [.. samples.Select(raw => raw.FeatureDim == FeatureDim && _squash is not null ? _squash.Apply(raw) : raw).Select(sample => MeanPooledRidge.UniformlyWeighted(sample, FeatureDim,
            q => ClipScore(KnotDots(sample.Features.AsSpan(q * FeatureDim, FeatureDim)), ClipMotion.Dot(_motion, sample.Features.AsSpan(q * FeatureDim, FeatureDim), ClipMotion.Previous(sample, q)), q, sample.Clips) * scoreScale,
            _deductions is null ? null : q => (float)(Deduction(sample.Features.AsSpan(q * FeatureDim, FeatureDim)) * scoreScale)))];
    }

    // d_q = γ·p_q, the clip's expected deduction (0 without the deduction term).
    private double Deduction(ReadOnlySpan<float> clip) => _deductions is null ? 0 : _deductions.Points * _deductions.Probability(clip);

    /// <inheritdoc/>
    public IncrementalDecoder StartPerformance(IncrementalMode mode)
    {
        if (mode == IncrementalMode.Streaming)
        {
            throw new InvalidOperationException("ridge-pos places each clip by its relative position, which moves as clips arrive: use exact mode.");
        }
        return new LiveState(this);
    }

    /// <summary>The position-weighted means Φ [K·D] of one performance, after the plain mean [D] when
    /// <paramref name="withMean"/>, and followed by the pooled motion [D] when <paramref name="withMotion"/>.</summary>
    public static double[] PooledFeatures(PerformanceSample sample, int knots, bool withMean = false, bool withMotion = false)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var d = sample.FeatureDim;
        var offset = withMean ? d : 0;
        var pooled = new double[offset + (knots * d) + (withMotion ? d : 0)];
        if (withMotion) { ClipMotion.Pool(sample, pooled, offset + (knots * d)); }
        if (withMean)
        {
            for (var q = 0; q < sample.Clips; q++)
            {
                for (var j = 0; j < d; j++) { pooled[j] += sample.Features[(q * d) + j] / (double)sample.Clips; }
            }
        }
        for (var q = 0; q < sample.Clips; q++)
        {
            var r = (q + 0.5) / sample.Clips;
            for (var k = 0; k < knots; k++)
            {
                var phi = Hat(k, knots, r) / sample.Clips;
                if (phi == 0) { continue; }
                var row = pooled.AsSpan(offset + (k * d), d);
                var clip = sample.Features.AsSpan(q * d, d);
                for (var j = 0; j < d; j++) { row[j] += phi * clip[j]; }
            }
        }
        return pooled;
    }

    /// <summary>
    /// Fits on labelled performances: the knot count from <paramref name="knots"/>, the shared part's share from
    /// <paramref name="shares"/> and the penalty from <paramref name="alphas"/> (scaled by the knot count, since the
    /// features widen with it) by <see cref="MeanPooledRidge.InnerFolds"/>-fold cross-validation on the same data
    /// (lowest MSE). A <paramref name="companionWeight"/> works as in <see cref="MeanPooledRidge.Fit"/>: the mixed label is
    /// learned and the line back to the judged score, fitted on the inner out-of-fold predictions, is folded in.
    /// </summary>
    public static (PositionalRidge Model, int Knots, double Share, double Alpha) Fit(IReadOnlyList<PerformanceSample> samples, IReadOnlyList<int>? knots = null,
        IReadOnlyList<double>? alphas = null, IReadOnlyList<double>? shares = null, int seed = 42, int maxClips = MeanPooledRidge.DefaultMaxClips,
        double companionWeight = 0)
    {
        var (model, k, share, alpha, _) = FitChoosingCompanion(samples, [companionWeight], knots, alphas, shares, seed, maxClips);
        return (model, k, share, alpha);
    }

    /// <summary><see cref="Fit"/> with the companion weight chosen from <paramref name="companionWeights"/> by the same
    /// inner folds, as <see cref="MeanPooledRidge.FitChoosingCompanion"/> does.</summary>
    /// <remarks><paramref name="motion"/>: whether to read the motion term; two choices are compared by the same inner
    /// folds (the model's <see cref="HasMotion"/> says which won). <paramref name="squash"/>: whether to read the clips
    /// through a <see cref="ClipSquash"/> fitted on <paramref name="samples"/>' clips, chosen the same way (the model's
    /// <see cref="Squash"/> says which won). Default: neither. <paramref name="outOfFold"/>, when given: filled with the
    /// chosen candidate's inner out-of-fold predictions on the judged score (through its line), as
    /// <see cref="MeanPooledRidge.FitChoosingCompanion"/> does.</remarks>
    public static (PositionalRidge Model, int Knots, double Share, double Alpha, double CompanionWeight) FitChoosingCompanion(IReadOnlyList<PerformanceSample> samples,
        IReadOnlyList<double> companionWeights, IReadOnlyList<int>? knots = null, IReadOnlyList<double>? alphas = null, IReadOnlyList<double>? shares = null, int seed = 42,
        int maxClips = MeanPooledRidge.DefaultMaxClips, IReadOnlyList<bool>? motion = null, IReadOnlyList<bool>? squash = null, double[]? outOfFold = null)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(companionWeights);
        var folds = MeanPooledRidge.InnerFolds;
        if (samples.Count < folds * 2) { throw new ArgumentException($"Ridge needs at least {folds * 2} labelled performances; got {samples.Count}."); }
        if (samples.Any(s => s.Score is null)) { throw new ArgumentException("Every training performance needs a judged score."); }
        var knotGrid = knots is { Count: > 0 } ? knots : DefaultKnots;
        if (knotGrid.Any(k => k < 2)) { throw new ArgumentException("Knot counts must be at least 2 (1 knot is ridge-mean)."); }
        var alphaGrid = alphas is { Count: > 0 } ? alphas : MeanPooledRidge.DefaultAlphas;
        if (alphaGrid.Any(a => !(a > 0))) { throw new ArgumentException("Ridge penalties must be positive."); }
        var shareGrid = shares is { Count: > 0 } ? shares : DefaultShares;
        if (shareGrid.Any(c => !(c >= 0))) { throw new ArgumentException("Shares must be 0 (no shared part) or more."); }
        PerformanceSample.CheckCompanionWeights(companionWeights);
        var motionGrid = motion is { Count: > 0 } ? motion : OnOffAuto.Off;
        var squashGrid = squash is { Count: > 0 } ? squash : OnOffAuto.Off;
        if (outOfFold is not null && outOfFold.Length != samples.Count) { throw new ArgumentException($"{outOfFold.Length} out-of-fold slots for {samples.Count} performances."); }
        var fittedSquash = squashGrid.Contains(true) ? ClipSquash.Fit(samples) : null;
        var squashed = fittedSquash is null ? null : samples.Select(fittedSquash.Apply).ToList();
        var judged = samples.Select(s => (double)s.Score!.Value).ToArray();
        var best = (Knots: knotGrid[0], Share: shareGrid[0], Alpha: alphaGrid[0] * knotGrid[0], Weight: companionWeights[0], Motion: motionGrid[0], Squash: squashGrid[0], Sse: double.PositiveInfinity);
        var line = (Slope: 1.0, Intercept: 0.0);
        foreach (var (k, withMotion, withSquash) in knotGrid.SelectMany(k => squashGrid.SelectMany(sq => motionGrid.Select(m => (k, m, sq)))))
        {
            var pooled = (withSquash ? squashed! : samples).Select(s => PooledFeatures(s, k, withMean: true, withMotion)).ToArray();
            var scaled = alphaGrid.Select(a => a * k).ToArray();
            foreach (var share in shareGrid)
            {
                var weights = ColumnWeights(samples[0].FeatureDim, k, share, withMotion);
                foreach (var companion in companionWeights)
                {
                    var y = samples.Select(s => s.TrainingLabel(companion)).ToArray();
                    var predictions = new double[scaled.Length][];
                    for (var a = 0; a < scaled.Length; a++) { predictions[a] = new double[samples.Count]; }
                    for (var f = 0; f < folds; f++)
                    {
                        var (train, validation) = Training.TrainingData.Split(Enumerable.Range(0, samples.Count).ToList(), folds, f, seed);
                        var solutions = RidgeSolver.Solve(train.Select(i => pooled[i]).ToArray(), train.Select(i => y[i]).ToArray(), scaled, weights);
                        for (var a = 0; a < scaled.Length; a++)
                        {
                            foreach (var i in validation) { predictions[a][i] = solutions[a].Predict(pooled[i]); }
                        }
                    }
                    for (var a = 0; a < scaled.Length; a++)
                    {
                        var (sse, slope, intercept) = Metrics.CalibrationLine.AsShipped(predictions[a], judged, mapBack: companion != 0);
                        if (sse < best.Sse)
                        {
                            (best, line) = ((k, share, scaled[a], companion, withMotion, withSquash, sse), (slope, intercept));
                            for (var i = 0; i < (outOfFold?.Length ?? 0); i++) { outOfFold![i] = (slope * predictions[a][i]) + intercept; }
                        }
                    }
                }
            }
        }
        var chosen = samples.Select(s => s.TrainingLabel(best.Weight)).ToArray();
        var fitted = Solve(best.Squash ? squashed! : samples, best.Knots, best.Alpha, best.Share, maxClips, chosen, best.Motion).Mapped(line.Slope, line.Intercept);
        return (best.Squash ? fitted.WithSquash(fittedSquash) : fitted, best.Knots, best.Share, best.Alpha, best.Weight);
    }

    // The shared mean's block weighs √share, the knots' and the motion's 1.
    private static double[] ColumnWeights(int featureDim, int knots, double share, bool motion = false)
    {
        var w = new double[featureDim * (knots + 1 + (motion ? 1 : 0))];
        Array.Fill(w, 1.0);
        Array.Fill(w, Math.Sqrt(share), 0, featureDim);
        return w;
    }

    /// <summary>The ridge solution for one knot count, share of the shared part and penalty, folded into one β_k per knot.</summary>
    public static PositionalRidge Solve(IReadOnlyList<PerformanceSample> samples, int knots, double alpha, double share = 0, int maxClips = MeanPooledRidge.DefaultMaxClips,
        IReadOnlyList<double>? labels = null, bool motion = false)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var d = samples[0].FeatureDim;
        if (samples.Any(s => s.FeatureDim != d)) { throw new ArgumentException("Every performance needs the same feature width."); }
        var solution = RidgeSolver.Solve([.. samples.Select(s => PooledFeatures(s, knots, withMean: true, motion))], labels is null ? [.. samples.Select(s => (double)s.Score!.Value)] : [.. labels], [alpha],
            ColumnWeights(d, knots, share, motion))[0];
        // Σ_k Φ_k = mean, so β̄·mean + Σ_k δ_k·Φ_k = Σ_k (β̄ + δ_k)·Φ_k.
        var coefficients = new float[knots * d];
        for (var k = 0; k < knots; k++)
        {
            for (var j = 0; j < d; j++) { coefficients[(k * d) + j] = (float)(solution.Coefficients[j] + solution.Coefficients[d + (k * d) + j]); }
        }
        float[]? motionCoefficients = motion ? [.. solution.Coefficients[((knots + 1) * d)..].Select(c => (float)c)] : null;   // the last block
        return new PositionalRidge(coefficients, knots, (float)solution.Intercept, maxClips, motionCoefficients);
    }

    /// <summary>The model whose every clip score is a·s + b (so is the performance score: the position weights sum to 1).</summary>
    public PositionalRidge Mapped(double slope, double intercept) => slope == 1 && intercept == 0 ? this
        : new PositionalRidge([.. _coefficients.Select(c => (float)(c * slope))], Knots, (float)((Intercept * slope) + intercept), MaxClips,
            _motion is null ? null : [.. _motion.Select(c => (float)(c * slope))], _squash, _deductions?.WithPoints(_deductions.Points * slope));

    /// <summary>The method name of the equal blend of ridge-mean and ridge-pos (saved as a ridge-pos model).</summary>
    public const string BlendMethodName = "ridge-blend";

    /// <summary>
    /// <c>ridge-blend</c>: the equal average of a ridge-mean and a ridge-pos model, each fitted with its own inner CV.
    /// Since Σ_k φ_k = 1, ½(b₁ + β·mean) + ½(b₂ + Σ_k β_k·Φ_k) = ½(b₁ + b₂) + Σ_k ½(β + β_k)·Φ_k: one positional ridge,
    /// so the blend keeps the exact per-clip explanation and the live state. The motion terms average the same way (a part
    /// without one counts as μ = 0).
    /// </summary>
    public static PositionalRidge Blend(MeanPooledRidge mean, PositionalRidge positional)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(positional);
        if (mean.LengthCoefficient != 0) { throw new ArgumentException("A blend needs a ridge-mean without the length term."); }
        if (mean.FeatureDim != positional.FeatureDim) { throw new ArgumentException($"ridge-mean reads {mean.FeatureDim} features, ridge-pos {positional.FeatureDim}."); }
        if (positional.Deductions is not null) { throw new ArgumentException("A blend's deduction term is fitted on the blend: blend a ridge-pos without one."); }
        if ((mean.Squash is null) != (positional.Squash is null) || (mean.Squash is not null && !mean.Squash.SameAs(positional.Squash)))
        {
            throw new ArgumentException("A blend needs ridge-mean and ridge-pos to read the clips alike: both through the same squash, or neither.");
        }
        var d = positional.FeatureDim;
        var coefficients = new float[positional.Knots * d];
        for (var k = 0; k < positional.Knots; k++)
        {
            for (var j = 0; j < d; j++) { coefficients[(k * d) + j] = 0.5f * (mean.Coefficients[j] + positional.Coefficients[(k * d) + j]); }
        }
        float[]? motion = null;
        if (mean.HasMotion || positional.HasMotion)
        {
            motion = new float[d];
            for (var j = 0; j < d; j++) { motion[j] = 0.5f * ((mean.HasMotion ? mean.MotionCoefficients[j] : 0f) + (positional.HasMotion ? positional.MotionCoefficients[j] : 0f)); }
        }
        return new PositionalRidge(coefficients, positional.Knots, 0.5f * (mean.Intercept + positional.Intercept), positional.MaxClips, motion, positional.Squash);
    }

    /// <summary>The blend's out-of-fold predictions: the average of its parts' (the blend averages them).</summary>
    public static double[] BlendOutOfFold(IReadOnlyList<double> mean, IReadOnlyList<double> positional)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(positional);
        if (mean.Count != positional.Count) { throw new ArgumentException($"{mean.Count} and {positional.Count} out-of-fold predictions: the parts need one each per performance."); }
        return [.. mean.Select((m, i) => 0.5 * (m + positional[i]))];
    }

    /// <summary>What <see cref="FitBlend"/> fitted: the blend and its two parts with what each chose, and the deduction
    /// term's fit (null when it was not asked for or not taken).</summary>
    public sealed record BlendFit(PositionalRidge Blend, MeanPooledRidge Mean, double MeanAlpha, double MeanWeight, PositionalRidge Positional, int Knots, double Share,
        double PositionalAlpha, double PositionalWeight, DeductionFit? Deductions = null);

    /// <summary>How the deduction term was read on the inner folds: y ≈ a·ŷ + γ·n̂ + b, and the inner out-of-fold MSE of
    /// the ridge without it and with it.</summary>
    public sealed record DeductionFit(double Slope, double Points, double Intercept, double MseWithout, double MseWith);

    /// <summary>
    /// <paramref name="model"/> with the deduction term (<see cref="ClipDeductions"/>): the detector is trained on
    /// <paramref name="samples"/>' clips as the model reads them (through its squash) and their judged deductions; its
    /// points γ, with a line a, b for the ridge, come from least squares of the judged score on the ridge's inner
    /// out-of-fold predictions <paramref name="outOfFold"/> and the detector's out-of-fold counts on the same inner folds
    /// (<paramref name="seed"/>). Where that fit gives no deduction a negative price (or the ridge no positive slope), the
    /// model is returned as it is, with a null fit.
    /// </summary>
    public static (PositionalRidge Model, DeductionFit? Fit) AddDeductions(PositionalRidge model, IReadOnlyList<PerformanceSample> samples, IReadOnlyList<double> outOfFold, int seed,
        ClipDeductions.Training? training = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(outOfFold);
        if (model.Deductions is not null) { throw new ArgumentException("The model already has a deduction term."); }
        var input = model.Squash is null ? samples : [.. samples.Select(model.Squash.Apply)];
        var counted = ClipDeductions.OutOfFold(input, MeanPooledRidge.InnerFolds, seed, training);
        var judged = samples.Select(s => (double)(s.Score ?? throw new ArgumentException($"{s.Id}: a training performance needs a judged score."))).ToArray();
        if (ClipDeductions.Stack(outOfFold, counted, judged) is not { } stacked) { return (model, null); }
        var (without, with) = ClipDeductions.InnerMse(outOfFold, counted, judged, stacked);
        var detector = ClipDeductions.Fit(input, training).WithPoints(stacked.Points);
        return (model.Mapped(stacked.Slope, stacked.Intercept).WithDeductions(detector), new DeductionFit(stacked.Slope, stacked.Points, stacked.Intercept, without, with));
    }

    /// <summary>
    /// <c>ridge-blend</c> fitted: ridge-pos and ridge-mean each with their own inner CV over <paramref name="companionWeights"/>,
    /// <paramref name="motion"/> and the penalties. The squash is chosen once, by ridge-pos's inner folds, and ridge-mean
    /// then reads the clips the same way (one blended model has one per-clip map). With <paramref name="deductions"/>, the
    /// blend gains the deduction term (<see cref="AddDeductions"/>), stacked on the average of the two parts' inner
    /// out-of-fold predictions.
    /// </summary>
    public static BlendFit FitBlend(IReadOnlyList<PerformanceSample> samples, IReadOnlyList<double> companionWeights, IReadOnlyList<bool>? motion = null,
        IReadOnlyList<bool>? squash = null, int seed = 42, IReadOnlyList<double>? alphas = null, bool deductions = false)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var (positionalOutOfFold, meanOutOfFold) = deductions ? (new double[samples.Count], new double[samples.Count]) : (null, null);
        var (positional, knots, share, positionalAlpha, positionalWeight) = FitChoosingCompanion(samples, companionWeights, alphas: alphas, seed: seed, motion: motion, squash: squash,
            outOfFold: positionalOutOfFold);
        var (mean, meanAlpha, meanWeight) = MeanPooledRidge.FitChoosingCompanion(samples, lengthTerm: false, companionWeights, alphas, seed, motion: motion,
            squash: positional.Squash is null ? OnOffAuto.Off : OnOffAuto.On, outOfFold: meanOutOfFold);
        var blend = Blend(mean, positional);
        DeductionFit? deductionFit = null;
        if (deductions)
        {
            (blend, deductionFit) = AddDeductions(blend, samples, BlendOutOfFold(meanOutOfFold!, positionalOutOfFold!), seed);
        }
        return new BlendFit(blend, mean, meanAlpha, meanWeight, positional, knots, share, positionalAlpha, positionalWeight, deductionFit);
    }

    /// <summary>A live performance: each clip's K knot products are kept; every clip's score is re-placed as t grows.</summary>
    private sealed class LiveState(PositionalRidge model) : IncrementalDecoder
    {
        private readonly List<double[]> _dots = [];
        private readonly List<double> _motion = [];   // μ·m_q per clip
        private readonly List<float> _deductions = [];   // d_q = γ·p_q per clip, fixed on arrival
        private float[] _previous = [];
        private float[] _scores = [];
        private float[] _logits = [];
        private float[] _attention = [];

        public override int Clips => _dots.Count;

        public override float Score { get; protected set; }

        public override ReadOnlySpan<float> Logits => _logits;

        public override ReadOnlySpan<float> ClipScores => _scores;

        public override ReadOnlySpan<float> LatestCrossAttention => _attention;

        public override ReadOnlySpan<float> ClipDeductions => model._deductions is null ? [] : System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_deductions);

        public override IncrementalMode Mode => IncrementalMode.Exact;

        public override void Append(ReadOnlySpan<float> clipFeatures)
        {
            if (_dots.Count >= model.MaxClips) { throw new InvalidOperationException($"The performance is over the model's {model.MaxClips} clips."); }
            if (clipFeatures.Length != model.FeatureDim) { throw new ArgumentException($"A clip has {clipFeatures.Length} feature values; the model reads {model.FeatureDim}."); }
            var squashed = model._squash?.Apply(clipFeatures);   // a fresh array, kept as the previous clip as it is
            ReadOnlySpan<float> clip = squashed ?? clipFeatures;
            _dots.Add(model.KnotDots(clip));
            _motion.Add(ClipMotion.Dot(model._motion, clip, _previous));
            _deductions.Add((float)model.Deduction(clip));
            if (model.HasMotion) { _previous = squashed ?? clipFeatures.ToArray(); }
            var t = _dots.Count;
            _scores = [.. _dots.Select((d, q) => model.ClipScore(d, _motion[q], q, t))];
            _logits = new float[t];
            _attention = new float[t];
            _attention[t - 1] = 1f;
            Score = (float)(_scores.Average(s => (double)s) + _deductions.Sum(d => (double)d));
        }
    }
}

/// <summary>
/// Ridge regression on pooled features with an unpenalised intercept, for several penalties at once (the standardised
/// Gram matrix is formed once): dual form, an n×n system (n performances ≪ feature width).
/// </summary>
public static class RidgeSolver
{
    /// <summary>One solution on raw features: ŷ = c·x + intercept.</summary>
    public sealed record Solution(double[] Coefficients, double Intercept)
    {
        /// <summary>The prediction for pooled features <paramref name="x"/>.</summary>
        public double Predict(double[] x)
        {
            var s = Intercept;
            for (var j = 0; j < x.Length; j++) { s += Coefficients[j] * x[j]; }
            return s;
        }
    }

    /// <summary>Solutions for every penalty in <paramref name="alphas"/> (features standardised on these rows, then
    /// multiplied by <paramref name="columnWeights"/> when given: a weight w penalises that column as α/w²; a weight of 0
    /// drops it).</summary>
    public static IReadOnlyList<Solution> Solve(double[][] rows, double[] y, IReadOnlyList<double> alphas, double[]? columnWeights = null)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(y);
        ArgumentNullException.ThrowIfNull(alphas);
        var n = rows.Length;
        var d = rows[0].Length;
        var mean = new double[d];
        var sd = new double[d];
        foreach (var r in rows) { for (var j = 0; j < d; j++) { mean[j] += r[j] / n; } }
        foreach (var r in rows) { for (var j = 0; j < d; j++) { sd[j] += (r[j] - mean[j]) * (r[j] - mean[j]) / n; } }
        for (var j = 0; j < d; j++) { sd[j] = (Math.Sqrt(sd[j]) + 1e-8) / (columnWeights?[j] ?? 1.0); }
        var z = Matrix<double>.Build.Dense(n, d, (i, j) => double.IsInfinity(sd[j]) ? 0 : (rows[i][j] - mean[j]) / sd[j]);   // centred: the intercept is ȳ
        var yMean = y.Average();
        var yc = Vector<double>.Build.Dense(n, i => y[i] - yMean);
        var gram = z.TransposeAndMultiply(z);
        return [.. alphas.Select(alpha =>
        {
            var beta = z.TransposeThisAndMultiply((gram + (Matrix<double>.Build.DenseIdentity(n) * alpha)).Cholesky().Solve(yc));
            var coefficients = new double[d];
            var intercept = yMean;
            for (var j = 0; j < d; j++)
            {
                if (double.IsInfinity(sd[j])) { continue; }
                coefficients[j] = beta[j] / sd[j];
                intercept -= beta[j] * mean[j] / sd[j];
            }
            return new Solution(coefficients, intercept);
        })];
    }
}
