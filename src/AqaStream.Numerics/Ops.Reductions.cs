using System.Numerics.Tensors;

namespace AqaStream.Numerics;

public static partial class Ops
{
    /// <summary>Sum of all values, a scalar.</summary>
    public static Tensor Sum(Tensor x)
    {
        var s = TensorPrimitives.Sum(x.Data);
        return Tensor.Result([s], [], [x], o =>
            TensorPrimitives.Add(x.GradBuffer(), o.Grad![0], x.GradBuffer()));
    }

    /// <summary>Mean of all values, a scalar.</summary>
    public static Tensor Mean(Tensor x) => Scale(Sum(x), 1f / x.Length);

    /// <summary>Sum over the last dimension: [..., n] → [...].</summary>
    public static Tensor SumLastDim(Tensor x)
    {
        var n = x.LastDim;
        var rows = x.Length / n;
        var y = Tensor.Alloc(rows);
        for (var r = 0; r < rows; r++)
        {
            y[r] = TensorPrimitives.Sum(x.Data.AsSpan(r * n, n));
        }
        return Tensor.Result(y, x.Shape[..^1], [x], o =>
        {
            var gx = x.GradBuffer();
            for (var r = 0; r < rows; r++)
            {
                var row = gx.AsSpan(r * n, n);
                TensorPrimitives.Add(row, o.Grad![r], row);
            }
        });
    }

    /// <summary>Mean squared error between prediction and a constant target, a scalar.</summary>
    public static Tensor MseLoss(Tensor prediction, Tensor target)
    {
        RequireSameShape(prediction, target, nameof(MseLoss));
        var diff = Tensor.Alloc(prediction.Length);
        TensorPrimitives.Subtract(prediction.Data, target.Data, diff);
        var loss = TensorPrimitives.SumOfSquares(diff) / prediction.Length;
        return Tensor.Result([loss], [], [prediction, target], o =>
        {
            var k = 2f * o.Grad![0] / prediction.Length;
            if (prediction.RequiresGrad) { TensorPrimitives.MultiplyAdd(diff, k, prediction.GradBuffer(), prediction.GradBuffer()); }
            if (target.RequiresGrad) { TensorPrimitives.MultiplyAdd(diff, -k, target.GradBuffer(), target.GradBuffer()); }
        });
    }

    /// <summary>
    /// KL(p ‖ q) = Σ p (log p − log q), summed over every element, as PyTorch's
    /// <c>F.kl_div(logQ, p, reduction="sum")</c>. Terms with p = 0 count as 0 (x·log x → 0).
    /// Gradients flow to both log q and p.
    /// </summary>
    public static Tensor KlDivergence(Tensor logQ, Tensor p)
    {
        RequireSameShape(logQ, p, nameof(KlDivergence));
        double sum = 0;
        var pd = p.Data;
        var lq = logQ.Data;
        for (var i = 0; i < pd.Length; i++)
        {
            if (pd[i] > 0f) { sum += pd[i] * (Math.Log(pd[i]) - lq[i]); }
        }
        return Tensor.Result([(float)sum], [], [logQ, p], o =>
        {
            var g = o.Grad![0];
            if (logQ.RequiresGrad) { TensorPrimitives.MultiplyAdd(pd, -g, logQ.GradBuffer(), logQ.GradBuffer()); }
            if (p.RequiresGrad)
            {
                var gp = p.GradBuffer();
                for (var i = 0; i < pd.Length; i++)
                {
                    if (pd[i] > 0f) { gp[i] += g * (MathF.Log(pd[i]) - lq[i] + 1f); }
                }
            }
        });
    }
}
