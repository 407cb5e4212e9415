using AqaStream.Scoring.Data;
using MathNet.Numerics.LinearAlgebra;

namespace AqaStream.Scoring.Model;

/// <summary>
/// The field's linear baseline, <c>ridge-mean</c>: ridge regression on the mean of a performance's clip features,
/// optionally with log(clip count) as an unpenalised term, with the motion term (<see cref="ClipMotion"/>) and on squashed
/// clip features (<see cref="ClipSquash"/>: the formulas below then read φ(x_q) for x_q). It is itself a weight-score model (ARCHITECTURE.md): every
/// clip weighs w_q = 1/T and scores s_q = β·x_q + b + γ·ln T, so ŷ = Σ_q w_q s_q = β·mean(x) + b + γ·ln T; the per-clip
/// scores are exact contributions, and the provisional after t clips is the same formula on the clips so far. Any
/// model shipped as a live default must beat it.
/// </summary>
public sealed class MeanPooledRidge : IClipScorer
{
    /// <summary>The method name.</summary>
    public const string MethodName = "ridge-mean";

    /// <summary>Tensor names in a checkpoint.</summary>
    public const string CoefficientsTensor = "ridge.coefficients";

    /// <summary>Intercept and length coefficient, in that order.</summary>
    public const string OffsetsTensor = "ridge.offsets";

    /// <summary>The motion coefficients μ (<see cref="ClipMotion"/>), present only in a model with the motion term.</summary>
    public const string MotionTensor = "ridge.motion";

    /// <summary>The squash's centres and spreads (<see cref="ClipSquash"/>), present only in a model that squashes.</summary>
    public const string SquashCenterTensor = "ridge.squash_center";

    /// <inheritdoc cref="SquashCenterTensor"/>
    public const string SquashSpreadTensor = "ridge.squash_spread";

    /// <summary>The penalties tried when none is given, chosen by inner cross-validation on the training data.</summary>
    public static readonly IReadOnlyList<double> DefaultAlphas = [30, 100, 300, 1000];

    /// <summary>Inner folds of the penalty search.</summary>
    public const int InnerFolds = 5;

    private readonly float[] _coefficients;
    private readonly float[]? _motion;
    private readonly ClipSquash? _squash;

    /// <summary>A fitted model on raw (unstandardised) features; <paramref name="motion"/>: the motion coefficients μ
    /// (one per feature), or null without the motion term; <paramref name="squash"/>: the per-clip map the coefficients
    /// read, or null for the features as they are.</summary>
    public MeanPooledRidge(float[] coefficients, float intercept, float lengthCoefficient, int maxClips = DefaultMaxClips, float[]? motion = null, ClipSquash? squash = null)
    {
        ArgumentNullException.ThrowIfNull(coefficients);
        if (coefficients.Length == 0) { throw new ArgumentException("A ridge model needs at least one coefficient."); }
        if (!coefficients.All(float.IsFinite) || !float.IsFinite(intercept) || !float.IsFinite(lengthCoefficient) || (motion is not null && !motion.All(float.IsFinite)))
        {
            throw new ArgumentException("Ridge coefficients must be finite.");
        }
        if (motion is not null && motion.Length != coefficients.Length)
        {
            throw new ArgumentException($"{motion.Length} motion coefficients for {coefficients.Length} features: the motion term needs one per feature.");
        }
        if (squash is not null && squash.FeatureDim != coefficients.Length)
        {
            throw new ArgumentException($"The squash reads {squash.FeatureDim} features; the model has {coefficients.Length} coefficients.");
        }
        _coefficients = coefficients;
        _motion = motion;
        _squash = squash;
        Intercept = intercept;
        LengthCoefficient = lengthCoefficient;
        MaxClips = maxClips;
    }

    /// <summary>Longest performance accepted unless told otherwise (a linear model has no length limit of its own).</summary>
    public const int DefaultMaxClips = 4096;

    /// <inheritdoc/>
    public string Method => MethodName;

    /// <inheritdoc/>
    public int FeatureDim => _coefficients.Length;

    /// <inheritdoc/>
    public int MaxClips { get; }

    /// <summary>With a length term, every clip's score moves when a clip arrives (γ·ln t): exact mode only.</summary>
    public bool Causal => LengthCoefficient == 0f;

    /// <summary>β, per raw feature.</summary>
    public ReadOnlySpan<float> Coefficients => _coefficients;

    /// <summary>b, points.</summary>
    public float Intercept { get; }

    /// <summary>γ, points per unit of ln(clip count); 0 without the length term.</summary>
    public float LengthCoefficient { get; }

    /// <summary>Whether the model has the motion term (<see cref="ClipMotion"/>).</summary>
    public bool HasMotion => _motion is not null;

    /// <summary>μ, per raw feature; empty without the motion term.</summary>
    public ReadOnlySpan<float> MotionCoefficients => _motion;

    /// <summary>The per-clip squash the coefficients read, or null.</summary>
    public ClipSquash? Squash => _squash;

    /// <summary>The same model reading clips through <paramref name="squash"/> (its coefficients fitted on squashed clips).</summary>
    public MeanPooledRidge WithSquash(ClipSquash? squash) => new([.. _coefficients], Intercept, LengthCoefficient, MaxClips, _motion, squash);

    /// <summary>s_q for one clip of a performance that has <paramref name="clips"/> clips so far, in points.</summary>
    public float ClipScore(ReadOnlySpan<float> clip, int clips) => ClipScore(clip, [], clips);

    /// <summary>s_q for one clip after <paramref name="previous"/> (empty for the first clip) of a performance that has
    /// <paramref name="clips"/> clips so far, in points: the motion term reads the change between the two.</summary>
    public float ClipScore(ReadOnlySpan<float> clip, ReadOnlySpan<float> previous, int clips)
    {
        if (clip.Length != FeatureDim) { throw new ArgumentException($"A clip has {clip.Length} feature values; the model reads {FeatureDim}."); }
        return _squash is null ? MappedClipScore(clip, previous, clips) : MappedClipScore(_squash.Apply(clip), previous.IsEmpty ? [] : _squash.Apply(previous), clips);
    }

    // s_q on clips already through the squash (when there is one).
    private float MappedClipScore(ReadOnlySpan<float> clip, ReadOnlySpan<float> previous, int clips)
    {
        var s = (double)Intercept + (LengthCoefficient == 0f ? 0 : LengthCoefficient * Math.Log(clips));
        for (var j = 0; j < clip.Length; j++) { s += _coefficients[j] * clip[j]; }
        return (float)(s + ClipMotion.Dot(_motion, clip, previous));
    }

    /// <inheritdoc/>
    public IReadOnlyList<PerformancePrediction> Score(IReadOnlyList<PerformanceSample> samples, float scoreScale)
    {
        ArgumentNullException.ThrowIfNull(samples);
        return [.. samples.Select(raw =>
        {
            var sample = raw.FeatureDim == FeatureDim && _squash is not null ? _squash.Apply(raw) : raw;
            return UniformlyWeighted(sample, FeatureDim,
                q => MappedClipScore(sample.Features.AsSpan(q * FeatureDim, FeatureDim), HasMotion ? ClipMotion.Previous(sample, q) : [], sample.Clips) * scoreScale);
        })];
    }

    /// <summary>A prediction whose clips all weigh 1/T, with the clip scores <paramref name="clipScore"/> gives (points)
    /// and the expected deductions <paramref name="clipDeduction"/> gives (points, none when null): the explanation of
    /// every linear method.</summary>
    internal static PerformancePrediction UniformlyWeighted(PerformanceSample sample, int featureDim, Func<int, float> clipScore, Func<int, float>? clipDeduction = null)
    {
        if (sample.FeatureDim != featureDim) { throw new ArgumentException($"{sample.Id}: {sample.FeatureDim} feature values per clip; the model reads {featureDim}."); }
        var w = 1f / sample.Clips;
        var clips = new ClipExplanation[sample.Clips];
        var total = 0.0;
        for (var q = 0; q < sample.Clips; q++)
        {
            var s = clipScore(q);
            var d = clipDeduction?.Invoke(q) ?? 0f;
            clips[q] = new ClipExplanation(q, w, s, (w * s) + d, d);
            total += (w * s) + d;
        }
        return new PerformancePrediction(sample.Id, (float)total, clips);
    }

    /// <inheritdoc/>
    public IncrementalDecoder StartPerformance(IncrementalMode mode)
    {
        if (mode == IncrementalMode.Streaming && !Causal)
        {
            throw new InvalidOperationException("This ridge model has a length term (every clip's score moves with ln t): use exact mode.");
        }
        return new LiveState(this, mode);
    }

    /// <summary>
    /// Fits on labelled performances. Features are standardised on the training data; the penalty α (on the features
    /// only; intercept and length term are unpenalised, partialled out first) is chosen from <paramref name="alphas"/>
    /// by <see cref="InnerFolds"/>-fold cross-validation on the same data (lowest MSE) unless one is given.
    /// With a <paramref name="companionWeight"/> c &gt; 0 the ridge learns the mixed label score + c·companion
    /// (<see cref="PerformanceSample.TrainingLabel"/>), and its inner out-of-fold predictions give the least-squares line
    /// back to the judged score (<see cref="Metrics.CalibrationLine"/>), folded into the coefficients; the penalty is
    /// then the one whose recalibrated out-of-fold predictions have the lowest MSE on the judged score.
    /// </summary>
    public static (MeanPooledRidge Model, double Alpha) Fit(IReadOnlyList<PerformanceSample> samples, bool lengthTerm, IReadOnlyList<double>? alphas = null,
        int seed = 42, int maxClips = DefaultMaxClips, double companionWeight = 0)
    {
        var (model, alpha, _) = FitChoosingCompanion(samples, lengthTerm, [companionWeight], alphas, seed, maxClips);
        return (model, alpha);
    }

    /// <summary>
    /// <see cref="Fit"/> with the companion weight chosen as well, from <paramref name="companionWeights"/>, by the same
    /// inner folds: a positive weight's out-of-fold predictions are mapped to the judged score by their own line (weight
    /// 0's are the judged score's already), and the (weight, penalty) pair with the lowest MSE on the judged score wins, so
    /// the candidates compare as they would ship (weight 0 alone is exactly <see cref="Fit"/> without a companion).
    /// Returns the model, its penalty and its companion weight.
    /// </summary>
    /// <remarks><paramref name="motion"/>: whether to read the motion term (<see cref="ClipMotion"/>); two choices are
    /// compared by the same inner folds, with the weight and the penalty (the model's <see cref="HasMotion"/> says which
    /// won). <paramref name="squash"/>: whether to read the clips through a <see cref="ClipSquash"/> fitted on
    /// <paramref name="samples"/>' clips, chosen the same way (the model's <see cref="Squash"/> says which won). Default:
    /// neither. <paramref name="outOfFold"/>, when given (one slot per sample): filled with the chosen candidate's inner
    /// out-of-fold predictions on the judged score (through its line), for a term stacked on the model.</remarks>
    public static (MeanPooledRidge Model, double Alpha, double CompanionWeight) FitChoosingCompanion(IReadOnlyList<PerformanceSample> samples, bool lengthTerm,
        IReadOnlyList<double> companionWeights, IReadOnlyList<double>? alphas = null, int seed = 42, int maxClips = DefaultMaxClips, IReadOnlyList<bool>? motion = null,
        IReadOnlyList<bool>? squash = null, double[]? outOfFold = null)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(companionWeights);
        if (samples.Count < InnerFolds * 2) { throw new ArgumentException($"Ridge needs at least {InnerFolds * 2} labelled performances; got {samples.Count}."); }
        if (samples.Any(s => s.Score is null)) { throw new ArgumentException("Every training performance needs a judged score."); }
        PerformanceSample.CheckCompanionWeights(companionWeights);
        var grid = alphas is { Count: > 0 } ? alphas : DefaultAlphas;
        if (grid.Any(a => !(a > 0))) { throw new ArgumentException("Ridge penalties must be positive."); }
        // Weight 0 is the judged score fitted as is (no line); every other weight's candidates get their own line, and
        // the candidates compare by the MSE of what would be shipped.
        var motionGrid = motion is { Count: > 0 } ? motion : OnOffAuto.Off;
        var squashGrid = squash is { Count: > 0 } ? squash : OnOffAuto.Off;
        var fittedSquash = squashGrid.Contains(true) ? ClipSquash.Fit(samples) : null;
        var squashed = fittedSquash is null ? null : samples.Select(fittedSquash.Apply).ToList();
        var plain = companionWeights is [0];
        var judged = samples.Select(s => (double)s.Score!.Value).ToArray();
        var (alpha, weight, withMotion, withSquash) = (grid[0], companionWeights[0], motionGrid[0], squashGrid[0]);
        var line = (Slope: 1.0, Intercept: 0.0);
        if (outOfFold is not null && outOfFold.Length != samples.Count) { throw new ArgumentException($"{outOfFold.Length} out-of-fold slots for {samples.Count} performances."); }
        if (grid.Count > 1 || !plain || motionGrid.Count > 1 || squashGrid.Count > 1 || outOfFold is not null)
        {
            var best = double.PositiveInfinity;
            foreach (var (sq, m) in squashGrid.SelectMany(sq => motionGrid.Select(m => (sq, m))))
            {
                var input = sq ? squashed! : samples;
                foreach (var w in companionWeights)
                {
                    var labels = samples.Select(s => s.TrainingLabel(w)).ToArray();
                    foreach (var a in grid)
                    {
                        var predictions = new double[samples.Count];
                        for (var f = 0; f < InnerFolds; f++)
                        {
                            var (train, validation) = Training.TrainingData.Split(Enumerable.Range(0, samples.Count).ToList(), InnerFolds, f, seed);
                            var model = Solve([.. train.Select(i => input[i])], lengthTerm, a, maxClips, [.. train.Select(i => labels[i])], m);
                            var predicted = model.Score([.. validation.Select(i => input[i])], 1f);
                            for (var k = 0; k < validation.Count; k++) { predictions[validation[k]] = predicted[k].Score; }
                        }
                        var (sse, slope, intercept) = Metrics.CalibrationLine.AsShipped(predictions, judged, mapBack: w != 0);
                        if (sse < best)
                        {
                            (best, alpha, weight, withMotion, withSquash, line) = (sse, a, w, m, sq, (slope, intercept));
                            for (var i = 0; i < (outOfFold?.Length ?? 0); i++) { outOfFold![i] = (slope * predictions[i]) + intercept; }
                        }
                    }
                }
            }
        }
        var chosen = samples.Select(s => s.TrainingLabel(weight)).ToArray();
        var fitted = Solve(withSquash ? squashed! : samples, lengthTerm, alpha, maxClips, chosen, withMotion).Mapped(line.Slope, line.Intercept);
        return (withSquash ? fitted.WithSquash(fittedSquash) : fitted, alpha, weight);
    }

    /// <summary>The model whose every clip score is a·s + b (so is the performance score: the weights sum to 1).</summary>
    public MeanPooledRidge Mapped(double slope, double intercept) => slope == 1 && intercept == 0 ? this
        : new MeanPooledRidge([.. _coefficients.Select(c => (float)(c * slope))], (float)((Intercept * slope) + intercept), (float)(LengthCoefficient * slope), MaxClips,
            _motion is null ? null : [.. _motion.Select(c => (float)(c * slope))], _squash);

    /// <summary>The ridge solution for one penalty (dual form: an n×n system, n performances ≪ feature width); with
    /// <paramref name="motion"/>, the pooled motion term (<see cref="ClipMotion"/>) is read beside the mean, standardised
    /// and penalised the same way.</summary>
    public static MeanPooledRidge Solve(IReadOnlyList<PerformanceSample> samples, bool lengthTerm, double alpha, int maxClips = DefaultMaxClips, IReadOnlyList<double>? labels = null,
        bool motion = false)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var n = samples.Count;
        var d = samples[0].FeatureDim;
        var width = motion ? 2 * d : d;
        var pooled = Matrix<double>.Build.Dense(n, width);
        var row = new double[width];
        for (var i = 0; i < n; i++)
        {
            var s = samples[i];
            if (s.FeatureDim != d) { throw new ArgumentException($"{s.Id}: {s.FeatureDim} feature values per clip, others have {d}."); }
            Array.Clear(row);
            for (var q = 0; q < s.Clips; q++)
            {
                for (var j = 0; j < d; j++) { row[j] += s.Features[(q * d) + j]; }
            }
            for (var j = 0; j < d; j++) { row[j] /= s.Clips; }
            if (motion) { ClipMotion.Pool(s, row, d); }
            pooled.SetRow(i, row);
        }
        var mean = pooled.ColumnSums() / n;
        var sd = Vector<double>.Build.Dense(width, j => Math.Sqrt(pooled.Column(j).Subtract(mean[j]).PointwisePower(2).Sum() / n) + 1e-8);
        var z = Matrix<double>.Build.Dense(n, width, (i, j) => (pooled[i, j] - mean[j]) / sd[j]);
        var y = Vector<double>.Build.Dense(n, i => labels?[i] ?? samples[i].Score!.Value);
        // Unpenalised part U = [1, ln T]: project it out of Z and y, ridge on the rest, then least squares for U.
        var u = Matrix<double>.Build.Dense(n, lengthTerm ? 2 : 1, (i, k) => k == 0 ? 1.0 : Math.Log(samples[i].Clips));
        var utu = u.TransposeThisAndMultiply(u);
        var project = u * utu.Solve(u.Transpose());
        var zr = z - (project * z);
        var yr = y - (project * y);
        var gram = zr.TransposeAndMultiply(zr) + (Matrix<double>.Build.DenseIdentity(n) * alpha);
        var beta = zr.TransposeThisAndMultiply(gram.Cholesky().Solve(yr));
        var gamma = utu.Solve(u.TransposeThisAndMultiply(y - (z * beta)));
        // Back to raw features: s = Σ_j β_j (x_j − μ_j)/σ_j + γ0 + γ1 ln T (the motion columns after the mean's).
        var coefficients = new float[width];
        var intercept = gamma[0];
        for (var j = 0; j < width; j++)
        {
            coefficients[j] = (float)(beta[j] / sd[j]);
            intercept -= beta[j] * mean[j] / sd[j];
        }
        return new MeanPooledRidge(coefficients[..d], (float)intercept, lengthTerm ? (float)gamma[1] : 0f, maxClips, motion ? coefficients[d..] : null);
    }

    /// <summary>A live performance: running clip scores; weights uniform; each clip "attends" to itself only.</summary>
    private sealed class LiveState(MeanPooledRidge model, IncrementalMode mode) : IncrementalDecoder
    {
        private readonly List<float> _base = [];   // β·x_q + μ·m_q + b per clip (points)
        private float[] _previous = [];
        private float[] _scores = [];
        private float[] _logits = [];
        private float[] _attention = [];

        public override int Clips => _base.Count;

        public override float Score { get; protected set; }

        public override ReadOnlySpan<float> Logits => _logits;

        public override ReadOnlySpan<float> ClipScores => _scores;

        public override ReadOnlySpan<float> LatestCrossAttention => _attention;

        public override IncrementalMode Mode => mode;

        public override void Append(ReadOnlySpan<float> clipFeatures)
        {
            if (_base.Count >= model.MaxClips) { throw new InvalidOperationException($"The performance is over the model's {model.MaxClips} clips."); }
            if (clipFeatures.Length != model.FeatureDim) { throw new ArgumentException($"A clip has {clipFeatures.Length} feature values; the model reads {model.FeatureDim}."); }
            var squashed = model._squash?.Apply(clipFeatures);   // a fresh array, kept as the previous clip as it is
            ReadOnlySpan<float> clip = squashed ?? clipFeatures;
            _base.Add(model.MappedClipScore(clip, _previous, 1));   // ln 1 = 0: the length term is added below for the current count
            if (model.HasMotion) { _previous = squashed ?? clipFeatures.ToArray(); }
            var t = _base.Count;
            var length = model.LengthCoefficient == 0f ? 0f : (float)(model.LengthCoefficient * Math.Log(t));
            _scores = [.. _base.Select(b => b + length)];
            _logits = new float[t];
            _attention = new float[t];
            _attention[t - 1] = 1f;
            Score = _scores.Average();
        }
    }
}
