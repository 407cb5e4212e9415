using Xunit;

namespace AqaStream.Numerics.Tests;

/// <summary>
/// Compares reverse-mode gradients with central finite differences of L = Σ f(inputs) ⊙ R for a fixed random R.
/// float32 limits the agreement: eps = 1e-2 and a 2 % relative (1e-3 absolute) tolerance catch wrong formulas,
/// which are off by far more.
/// </summary>
internal static class GradientCheck
{
    private const float Eps = 1e-2f;
    private const float RelativeTolerance = 2e-2f;
    private const float AbsoluteTolerance = 1e-3f;

    public static Tensor Param(Random rng, params int[] shape)
    {
        var data = new float[shape.Aggregate(1, (a, b) => a * b)];
        Gaussian.Fill(data, rng);
        return Tensor.Parameter(data, shape);
    }

    public static void Check(Func<Tensor> f, params Tensor[] inputs)
    {
        var probe = f();
        var rng = new Random(1234);
        var r = new float[probe.Length];
        Gaussian.Fill(r, rng);
        var weights = Tensor.FromData(r, (int[])probe.Shape.Clone());
        Tensor Loss() => Ops.Sum(Ops.Mul(f(), weights));
        // The finite-difference side sums in double: a float32 sum of many terms would drown the difference.
        double NumericLoss()
        {
            var y = f().Data;
            double sum = 0;
            for (var k = 0; k < y.Length; k++) { sum += (double)y[k] * r[k]; }
            return sum;
        }

        foreach (var x in inputs) { x.ZeroGrad(); }
        Loss().Backward();
        var analytic = inputs.Select(x => (float[])(x.Grad ?? new float[x.Length]).Clone()).ToArray();
        var checkedAny = false;
        for (var i = 0; i < inputs.Length; i++)
        {
            var x = inputs[i];
            var stride = Math.Max(1, x.Length / 64);
            for (var j = 0; j < x.Length; j += stride)
            {
                var saved = x.Data[j];
                double plus, minus;
                using (Autograd.NoGrad())
                {
                    x.Data[j] = saved + Eps;
                    plus = NumericLoss();
                    x.Data[j] = saved - Eps;
                    minus = NumericLoss();
                }
                x.Data[j] = saved;
                var numeric = (float)((plus - minus) / (2 * Eps));
                var a = analytic[i][j];
                var tol = AbsoluteTolerance + RelativeTolerance * Math.Max(Math.Abs(a), Math.Abs(numeric));
                Assert.True(Math.Abs(a - numeric) <= tol,
                    $"input {i} [{string.Join(",", x.Shape)}] element {j}: analytic {a}, numeric {numeric}");
                checkedAny = true;
            }
        }
        Assert.True(checkedAny);
    }
}
