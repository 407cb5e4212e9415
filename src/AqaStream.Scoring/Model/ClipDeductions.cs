using System.Numerics.Tensors;
using AqaStream.Scoring.Data;

namespace AqaStream.Scoring.Model;

/// <summary>
/// The deduction term of the positional ridges (<c>--deductions</c>): a per-clip detector of what the judges deduct for
/// (in a short programme, almost always a fall), p_q = σ(v·x_q + c), whose sum n̂ = Σ_q p_q is the performance's expected
/// deduction count, read by the ridge with its own points per deduction γ (≤ 0): ŷ = ridge + γ·n̂. A fall is a short event
/// that a mean of clip features dilutes; a detector that looks at each clip finds it, and its points are exact per-clip
/// contributions: every clip still weighs 1/T and scores the ridge's s_q, and adds its expected deduction d_q = γ·p_q
/// beside w_q·s_q (<see cref="ClipExplanation.Deduction"/>, <see cref="IncrementalDecoder.ClipDeductions"/>), so the clip
/// where the skater fell carries the deduction's points while its score stays an execution score, and the provisional
/// after t clips is the same formula on the t clips so far. x_q is the clip as the ridge reads it (through the squash when it has one).
/// </summary>
/// <remarks>
/// The detector is trained on the judges' deduction column (a count of points, 1 per fall) as multiple-instance
/// Poisson regression: which clip holds the fall is never labelled, only how many deductions the performance got, so the
/// loss is the Poisson negative log-likelihood of the count under the expected count n̂, (1/n) Σ_i (n̂_i − y_i ln n̂_i),
/// plus λ‖v‖², minimised by full-batch Adam (PyTorch's update and defaults) from v = 0 and c at the training rate per clip.
/// It is written by hand on <see cref="TensorPrimitives"/> (no library fits a sum-of-sigmoids Poisson model; the core
/// stays free of libtorch), and checked against the same loop in PyTorch (tools/reference/deductions_reference.py).
/// </remarks>
public sealed class ClipDeductions
{
    private readonly float[] _weights;

    /// <summary>A detector v, c and the points γ per expected deduction (0 for a detector not yet read by a ridge).</summary>
    public ClipDeductions(float[] weights, float bias, float points = 0f)
    {
        ArgumentNullException.ThrowIfNull(weights);
        if (weights.Length == 0) { throw new ArgumentException("The deduction detector needs one weight per feature."); }
        if (!weights.All(float.IsFinite) || !float.IsFinite(bias) || !float.IsFinite(points)) { throw new ArgumentException("The deduction detector's weights must be finite."); }
        if (points > 0) { throw new ArgumentException($"Points per deduction must be 0 or less (a deduction never raises a score); got {points}."); }
        _weights = weights;
        Bias = bias;
        Points = points;
    }

    /// <summary>v, per feature.</summary>
    public ReadOnlySpan<float> Weights => _weights;

    /// <summary>c.</summary>
    public float Bias { get; }

    /// <summary>γ, points per expected deduction (0 or less).</summary>
    public float Points { get; }

    /// <summary>Feature width.</summary>
    public int FeatureDim => _weights.Length;

    /// <summary>The same detector read with <paramref name="points"/> per deduction.</summary>
    public ClipDeductions WithPoints(double points) => new(_weights, Bias, (float)points);

    /// <summary>p_q: the chance that the judges deduct for this clip.</summary>
    public double Probability(ReadOnlySpan<float> clip)
    {
        if (clip.Length != FeatureDim) { throw new ArgumentException($"A clip has {clip.Length} feature values; the deduction detector reads {FeatureDim}."); }
        return Sigmoid(TensorPrimitives.Dot(_weights, clip) + Bias);
    }

    /// <summary>n̂ = Σ_q p_q over the performance's clips.</summary>
    public double Expected(PerformanceSample sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        var n = 0.0;
        for (var q = 0; q < sample.Clips; q++) { n += Probability(sample.Features.AsSpan(q * sample.FeatureDim, sample.FeatureDim)); }
        return n;
    }

    private static double Sigmoid(double z) => 1 / (1 + Math.Exp(-z));

    /// <summary>How the detector is trained.</summary>
    /// <param name="Penalty">λ on ‖v‖².</param>
    /// <param name="Steps">Full-batch Adam steps.</param>
    /// <param name="LearningRate">Adam's step size.</param>
    public sealed record Training(double Penalty = 0.01, int Steps = 300, double LearningRate = 0.01)
    {
        /// <summary>The settings the ridges use.</summary>
        public static readonly Training Default = new();
    }

    /// <summary>The detector trained on <paramref name="samples"/>' clips and their judged deductions
    /// (<see cref="PerformanceSample.Deductions"/>).</summary>
    public static ClipDeductions Fit(IReadOnlyList<PerformanceSample> samples, Training? training = null)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var settings = training ?? Training.Default;
        if (samples.Count == 0) { throw new ArgumentException("The deduction detector needs at least one performance to train on."); }
        if (!(settings.Penalty >= 0) || settings.Steps < 1 || !(settings.LearningRate > 0)) { throw new ArgumentException("The deduction detector needs a penalty ≥ 0, at least one step and a positive learning rate."); }
        var d = samples[0].FeatureDim;
        var counts = new double[samples.Count];
        for (var i = 0; i < samples.Count; i++)
        {
            var s = samples[i];
            if (s.FeatureDim != d) { throw new ArgumentException($"{s.Id}: {s.FeatureDim} feature values per clip, others have {d}."); }
            var y = s.Deductions ?? throw new ArgumentException($"{s.Id}: the deduction term needs the judges' deductions of every training performance, and this one has none (its labels line has no fourth column: 'id TES PCS deductions').");
            if (!(y >= 0) || !float.IsFinite(y)) { throw new ArgumentException($"{s.Id}: deductions must be 0 or more; got {y}."); }
            counts[i] = y;
        }
        var rate = Math.Clamp(counts.Average() / samples.Average(s => (double)s.Clips), 1e-4, 0.5);
        var w = new float[d];
        var b = (float)Math.Log(rate / (1 - rate));
        // Adam state: parameters [v, c].
        var (mw, vw, gw) = (new float[d], new float[d], new float[d]);
        var (mb, vb) = (0.0, 0.0);
        const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
        var n = samples.Count;
        var probabilities = new float[samples.Max(s => s.Clips)];
        for (var step = 1; step <= settings.Steps; step++)
        {
            Array.Clear(gw);
            var gb = 0.0;
            for (var i = 0; i < n; i++)
            {
                var s = samples[i];
                var expected = 0.0;
                for (var q = 0; q < s.Clips; q++)
                {
                    probabilities[q] = (float)Sigmoid(TensorPrimitives.Dot(w, s.Features.AsSpan(q * d, d)) + b);
                    expected += probabilities[q];
                }
                // ∂/∂n̂ of (n̂ − y ln n̂)/n, then through each p_q = σ(z_q): p(1 − p).
                var outer = (1 - (counts[i] / (expected + 1e-6))) / n;
                for (var q = 0; q < s.Clips; q++)
                {
                    var p = probabilities[q];
                    var g = (float)(outer * p * (1 - p));
                    gb += g;
                    TensorPrimitives.MultiplyAdd(s.Features.AsSpan(q * d, d), g, gw, gw);
                }
            }
            TensorPrimitives.MultiplyAdd(w, (float)(2 * settings.Penalty), gw, gw);
            var correction1 = 1 - Math.Pow(beta1, step);
            var correction2 = 1 - Math.Pow(beta2, step);
            for (var j = 0; j < d; j++)
            {
                mw[j] = (float)((beta1 * mw[j]) + ((1 - beta1) * gw[j]));
                vw[j] = (float)((beta2 * vw[j]) + ((1 - beta2) * gw[j] * gw[j]));
                w[j] -= (float)(settings.LearningRate * (mw[j] / correction1) / (Math.Sqrt(vw[j] / correction2) + eps));
            }
            mb = (beta1 * mb) + ((1 - beta1) * gb);
            vb = (beta2 * vb) + ((1 - beta2) * gb * gb);
            b -= (float)(settings.LearningRate * (mb / correction1) / (Math.Sqrt(vb / correction2) + eps));
        }
        return new ClipDeductions(w, b);
    }

    /// <summary>Each performance's expected deduction count from a detector trained without it: the same
    /// <paramref name="folds"/> inner folds (<see cref="Training.TrainingData.Split"/> with <paramref name="seed"/>) as the
    /// ridges' penalty search, so the count sits beside their out-of-fold predictions.</summary>
    public static double[] OutOfFold(IReadOnlyList<PerformanceSample> samples, int folds, int seed, Training? training = null)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var counted = new double[samples.Count];
        for (var f = 0; f < folds; f++)
        {
            var (train, validation) = Scoring.Training.TrainingData.Split(Enumerable.Range(0, samples.Count).ToList(), folds, f, seed);
            var detector = Fit([.. train.Select(i => samples[i])], training);
            foreach (var i in validation) { counted[i] = detector.Expected(samples[i]); }
        }
        return counted;
    }

    /// <summary>
    /// How a ridge reads the detector: the judged score on the ridge's (already mapped) out-of-fold predictions and the
    /// out-of-fold expected counts, least squares y ≈ a·ŷ + γ·n̂ + b. Returns null (no deduction term) unless a &gt; 0
    /// and γ &lt; 0: a deduction never raises a score.
    /// </summary>
    public static (double Slope, double Points, double Intercept)? Stack(IReadOnlyList<double> predicted, IReadOnlyList<double> counted, IReadOnlyList<double> judged)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(counted);
        ArgumentNullException.ThrowIfNull(judged);
        var n = judged.Count;
        if (predicted.Count != n || counted.Count != n || n < 4) { throw new ArgumentException($"Stacking needs one prediction and one count per judged score, at least 4; got {predicted.Count}, {counted.Count} and {n}."); }
        var design = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(n, 3, (i, k) => k switch { 0 => predicted[i], 1 => counted[i], _ => 1.0 });
        var solution = design.QR().Solve(MathNet.Numerics.LinearAlgebra.Vector<double>.Build.Dense([.. judged]));
        return solution[0] > 0 && solution[1] < 0 && solution.All(double.IsFinite) ? (solution[0], solution[1], solution[2]) : null;
    }

    /// <summary>What the term changed on the inner folds: the squared error of the ridge alone (its predictions as they
    /// are) and with the term, on the same out-of-fold numbers, for the card and the progress line.</summary>
    public static (double Without, double With) InnerMse(IReadOnlyList<double> predicted, IReadOnlyList<double> counted, IReadOnlyList<double> judged, (double Slope, double Points, double Intercept) stacked)
    {
        ArgumentNullException.ThrowIfNull(predicted);
        ArgumentNullException.ThrowIfNull(counted);
        ArgumentNullException.ThrowIfNull(judged);
        var without = judged.Select((y, i) => Math.Pow(predicted[i] - y, 2)).Average();
        var with = judged.Select((y, i) => Math.Pow((stacked.Slope * predicted[i]) + (stacked.Points * counted[i]) + stacked.Intercept - y, 2)).Average();
        return (without, with);
    }
}
