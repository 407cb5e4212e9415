using AqaStream.Scoring.Model;

namespace AqaStream.Scoring.Training;

/// <summary>
/// Adam as <c>torch.optim.Adam</c>: weight decay is L2 added to the gradient, bias-corrected moments.
/// </summary>
public sealed class Adam
{
    private readonly ParameterSet _parameters;
    private readonly float[][] _m;
    private readonly float[][] _v;
    private int _step;

    /// <summary>Creates the optimiser over all parameters.</summary>
    public Adam(ParameterSet parameters, float learningRate, float weightDecay = 0f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = parameters;
        LearningRate = learningRate;
        (WeightDecay, Beta1, Beta2, Eps) = (weightDecay, beta1, beta2, eps);
        _m = parameters.All.Select(p => new float[p.Value.Length]).ToArray();
        _v = parameters.All.Select(p => new float[p.Value.Length]).ToArray();
    }

    /// <summary>Current learning rate (a schedule changes it between steps).</summary>
    public float LearningRate { get; set; }

    /// <summary>L2 weight decay.</summary>
    public float WeightDecay { get; }

    /// <summary>First-moment decay.</summary>
    public float Beta1 { get; }

    /// <summary>Second-moment decay.</summary>
    public float Beta2 { get; }

    /// <summary>Denominator epsilon.</summary>
    public float Eps { get; }

    /// <summary>Applies one update from the parameters' gradients (parameters without a gradient are skipped).</summary>
    public void Step()
    {
        _step++;
        var bc1 = 1f - MathF.Pow(Beta1, _step);
        var bc2 = 1f - MathF.Pow(Beta2, _step);
        var stepSize = LearningRate / bc1;
        var all = _parameters.All;
        Parallel.For(0, all.Count, i =>
        {
            var p = all[i].Value;
            if (p.Grad is null) { return; }
            var w = p.Data;
            var g = p.Grad;
            var m = _m[i];
            var v = _v[i];
            var sqrtBc2 = MathF.Sqrt(bc2);
            for (var j = 0; j < w.Length; j++)
            {
                var gj = g[j] + WeightDecay * w[j];
                m[j] = Beta1 * m[j] + (1f - Beta1) * gj;
                v[j] = Beta2 * v[j] + (1f - Beta2) * gj * gj;
                w[j] -= stepSize * m[j] / (MathF.Sqrt(v[j]) / sqrtBc2 + Eps);
            }
        });
        _parameters.MarkChanged();
    }
}
