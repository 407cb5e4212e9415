using System.Numerics.Tensors;

namespace AqaStream.Numerics;

public static partial class Ops
{
    /// <summary>Row work below this many values stays on one core: splitting costs more than it saves.</summary>
    private const int ParallelRowThreshold = 1 << 16;

    /// <summary>Layer normalisation over the last dimension with affine γ, β (PyTorch's <c>nn.LayerNorm</c>).</summary>
    public static Tensor LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps = 1e-5f)
    {
        var n = x.LastDim;
        if (gamma.Length != n || beta.Length != n)
        {
            throw new ArgumentException($"LayerNorm: γ {gamma} / β {beta} do not match the last dim of {x}.");
        }
        var rows = x.Length / n;
        var y = Tensor.Alloc(x.Length);
        var xhat = Tensor.Alloc(x.Length);
        var rstd = new float[rows];
        ForRows(rows, n, r =>
        {
            var xr = x.Data.AsSpan(r * n, n);
            var hr = xhat.AsSpan(r * n, n);
            var mean = TensorPrimitives.Sum(xr) / n;
            TensorPrimitives.Subtract(xr, mean, hr);
            var variance = TensorPrimitives.SumOfSquares(hr) / n;
            var inv = 1f / MathF.Sqrt(variance + eps);
            rstd[r] = inv;
            TensorPrimitives.Multiply(hr, inv, hr);
            TensorPrimitives.MultiplyAdd(hr, gamma.Data, beta.Data, y.AsSpan(r * n, n));
        });
        return Tensor.Result(y, (int[])x.Shape.Clone(), [x, gamma, beta], o =>
        {
            var g = o.Grad!;
            if (x.RequiresGrad)
            {
                var gx = x.GradBuffer();
                ForRows(rows, n, r =>
                {
                    Span<float> dxhat = n <= 4096 ? stackalloc float[n] : new float[n];
                    var gr = g.AsSpan(r * n, n);
                    var hr = xhat.AsSpan(r * n, n);
                    TensorPrimitives.Multiply(gr, gamma.Data, dxhat);
                    var meanD = TensorPrimitives.Sum(dxhat) / n;
                    var meanDh = TensorPrimitives.Dot(dxhat, hr) / n;
                    // dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂))
                    TensorPrimitives.MultiplyAdd(hr, -meanDh, dxhat, dxhat);
                    TensorPrimitives.Subtract(dxhat, meanD, dxhat);
                    var gxr = gx.AsSpan(r * n, n);
                    TensorPrimitives.MultiplyAdd(dxhat, rstd[r], gxr, gxr);
                });
            }
            if (gamma.RequiresGrad || beta.RequiresGrad)
            {
                var gg = gamma.GradBuffer();
                var gb = beta.GradBuffer();
                for (var r = 0; r < rows; r++)
                {
                    var gr = g.AsSpan(r * n, n);
                    TensorPrimitives.MultiplyAdd(gr, xhat.AsSpan(r * n, n), gg, gg);
                    TensorPrimitives.Add(gb, gr, gb);
                }
            }
        });
    }

    /// <summary>Softmax over the last dimension. Entries equal to −∞ get probability 0;
    /// a row with every entry −∞ becomes all zeros (not NaN).</summary>
    public static Tensor Softmax(Tensor x)
    {
        var n = x.LastDim;
        var rows = x.Length / n;
        var y = Tensor.Alloc(x.Length);
        ForRows(rows, n, r => SoftmaxRow(x.Data.AsSpan(r * n, n), y.AsSpan(r * n, n)));
        return Tensor.Result(y, (int[])x.Shape.Clone(), [x], o =>
        {
            var gx = x.GradBuffer();
            ForRows(rows, n, r => SoftmaxBackwardRow(y.AsSpan(r * n, n), o.Grad.AsSpan(r * n, n), gx.AsSpan(r * n, n)));
        });
    }

    /// <summary>log(softmax(x)) over the last dimension, computed stably.</summary>
    public static Tensor LogSoftmax(Tensor x)
    {
        var n = x.LastDim;
        var rows = x.Length / n;
        var y = Tensor.Alloc(x.Length);
        ForRows(rows, n, r =>
        {
            var xr = x.Data.AsSpan(r * n, n);
            var yr = y.AsSpan(r * n, n);
            var max = TensorPrimitives.Max(xr);
            TensorPrimitives.Subtract(xr, max, yr);
            Span<float> e = n <= 4096 ? stackalloc float[n] : new float[n];
            TensorPrimitives.Exp(yr, e);
            var logSum = MathF.Log(TensorPrimitives.Sum(e));
            TensorPrimitives.Subtract(yr, logSum, yr);
        });
        return Tensor.Result(y, (int[])x.Shape.Clone(), [x], o =>
        {
            var gx = x.GradBuffer();
            ForRows(rows, n, r =>
            {
                // dx = dy − softmax · Σ dy
                var gr = o.Grad.AsSpan(r * n, n);
                var sum = TensorPrimitives.Sum(gr);
                Span<float> p = n <= 4096 ? stackalloc float[n] : new float[n];
                TensorPrimitives.Exp(y.AsSpan(r * n, n), p);
                var gxr = gx.AsSpan(r * n, n);
                TensorPrimitives.Add(gxr, gr, gxr);
                TensorPrimitives.MultiplyAdd(p, -sum, gxr, gxr);
            });
        });
    }

    internal static void SoftmaxRow(ReadOnlySpan<float> x, Span<float> y)
    {
        var max = TensorPrimitives.Max(x);
        if (float.IsNegativeInfinity(max))
        {
            y.Clear();
            return;
        }
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        TensorPrimitives.Divide(y, TensorPrimitives.Sum(y), y);
    }

    /// <summary>gx += y ⊙ (gy − Σ gy ⊙ y), the softmax Jacobian-vector product.</summary>
    internal static void SoftmaxBackwardRow(ReadOnlySpan<float> y, ReadOnlySpan<float> gy, Span<float> gx)
    {
        var dot = TensorPrimitives.Dot(gy, y);
        for (var i = 0; i < y.Length; i++) { gx[i] += y[i] * (gy[i] - dot); }
    }

    private static void ForRows(int rows, int rowLength, Action<int> body)
    {
        if ((long)rows * rowLength < ParallelRowThreshold)
        {
            for (var r = 0; r < rows; r++) { body(r); }
            return;
        }
        Parallelism.ForRanges(rows, rowLength, (r0, r1) =>
        {
            for (var r = r0; r < r1; r++) { body(r); }
        });
    }
}
