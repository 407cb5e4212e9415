using System.Numerics.Tensors;

namespace AqaStream.Numerics;

/// <summary>Differentiable tensor operations. Element-wise work goes through TensorPrimitives.</summary>
public static partial class Ops
{
    /// <summary>a + b, same shapes.</summary>
    public static Tensor Add(Tensor a, Tensor b)
    {
        RequireSameShape(a, b, nameof(Add));
        var y = Tensor.Alloc(a.Length);
        TensorPrimitives.Add(a.Data, b.Data, y);
        return Tensor.Result(y, (int[])a.Shape.Clone(), [a, b], o =>
        {
            if (a.RequiresGrad) { TensorPrimitives.Add(a.GradBuffer(), o.Grad!, a.GradBuffer()); }
            if (b.RequiresGrad) { TensorPrimitives.Add(b.GradBuffer(), o.Grad!, b.GradBuffer()); }
        });
    }

    /// <summary>x + y where y's shape is x's trailing shape (bias, positional terms): y repeats over x's leading dims.</summary>
    public static Tensor AddBroadcast(Tensor x, Tensor y)
    {
        RequireTrailing(x, y, nameof(AddBroadcast));
        var n = y.Length;
        var outData = Tensor.Alloc(x.Length);
        for (var off = 0; off < x.Length; off += n)
        {
            TensorPrimitives.Add(x.Data.AsSpan(off, n), y.Data, outData.AsSpan(off, n));
        }
        return Tensor.Result(outData, (int[])x.Shape.Clone(), [x, y], o =>
        {
            if (x.RequiresGrad) { TensorPrimitives.Add(x.GradBuffer(), o.Grad!, x.GradBuffer()); }
            if (y.RequiresGrad)
            {
                var gy = y.GradBuffer();
                for (var off = 0; off < x.Length; off += n)
                {
                    TensorPrimitives.Add(gy, o.Grad.AsSpan(off, n), gy);
                }
            }
        });
    }

    /// <summary>a ⊙ b, same shapes.</summary>
    public static Tensor Mul(Tensor a, Tensor b)
    {
        RequireSameShape(a, b, nameof(Mul));
        var y = Tensor.Alloc(a.Length);
        TensorPrimitives.Multiply(a.Data, b.Data, y);
        return Tensor.Result(y, (int[])a.Shape.Clone(), [a, b], o =>
        {
            if (a.RequiresGrad) { TensorPrimitives.MultiplyAdd(o.Grad!, b.Data, a.GradBuffer(), a.GradBuffer()); }
            if (b.RequiresGrad) { TensorPrimitives.MultiplyAdd(o.Grad!, a.Data, b.GradBuffer(), b.GradBuffer()); }
        });
    }

    /// <summary>x · s for a constant s.</summary>
    public static Tensor Scale(Tensor x, float s)
    {
        var y = Tensor.Alloc(x.Length);
        TensorPrimitives.Multiply(x.Data, s, y);
        return Tensor.Result(y, (int[])x.Shape.Clone(), [x], o =>
            TensorPrimitives.MultiplyAdd(o.Grad!, s, x.GradBuffer(), x.GradBuffer()));
    }

    /// <summary>max(x, 0).</summary>
    public static Tensor Relu(Tensor x)
    {
        var y = Tensor.Alloc(x.Length);
        TensorPrimitives.Max(x.Data, 0f, y);
        return Tensor.Result(y, (int[])x.Shape.Clone(), [x], o =>
        {
            var gx = x.GradBuffer();
            var g = o.Grad!;
            for (var i = 0; i < g.Length; i++)
            {
                if (y[i] > 0f) { gx[i] += g[i]; }
            }
        });
    }

    /// <summary>Inverted dropout: zeroes each value with probability p and scales survivors by 1/(1-p).
    /// Identity when not training or p = 0.</summary>
    public static Tensor Dropout(Tensor x, float p, Random rng, bool training)
    {
        ArgumentNullException.ThrowIfNull(rng);
        if (!training || p <= 0f)
        {
            return x;
        }
        if (p >= 1f)
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "Dropout probability must be below 1.");
        }
        var keep = DropoutMask(x.Length, p, rng);
        var y = Tensor.Alloc(x.Length);
        TensorPrimitives.Multiply(x.Data, keep, y);
        return Tensor.Result(y, (int[])x.Shape.Clone(), [x], o =>
            TensorPrimitives.MultiplyAdd(o.Grad!, keep, x.GradBuffer(), x.GradBuffer()));
    }

    /// <summary>A mask of 0 (dropped) and 1/(1-p) (kept) values.</summary>
    internal static float[] DropoutMask(int length, float p, Random rng)
    {
        var keep = Tensor.Alloc(length);
        var scale = 1f / (1f - p);
        for (var i = 0; i < length; i++)
        {
            keep[i] = rng.NextSingle() < p ? 0f : scale;
        }
        return keep;
    }

    /// <summary>Where mask[i] is true the output is <paramref name="value"/> (and passes no gradient); mask has x's length.</summary>
    public static Tensor MaskedFill(Tensor x, bool[] mask, float value)
    {
        ArgumentNullException.ThrowIfNull(mask);
        if (mask.Length != x.Length)
        {
            throw new ArgumentException($"MaskedFill: mask has {mask.Length} entries, tensor {x.Length}.");
        }
        var y = (float[])x.Data.Clone();
        for (var i = 0; i < y.Length; i++)
        {
            if (mask[i]) { y[i] = value; }
        }
        return Tensor.Result(y, (int[])x.Shape.Clone(), [x], o =>
        {
            var gx = x.GradBuffer();
            var g = o.Grad!;
            for (var i = 0; i < g.Length; i++)
            {
                if (!mask[i]) { gx[i] += g[i]; }
            }
        });
    }

    private static void RequireSameShape(Tensor a, Tensor b, string op)
    {
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape))
        {
            throw new ArgumentException($"{op}: shapes {a} and {b} differ.");
        }
    }

    private static void RequireTrailing(Tensor x, Tensor y, string op)
    {
        if (y.Rank > x.Rank || !x.Shape.AsSpan(x.Rank - y.Rank).SequenceEqual(y.Shape))
        {
            throw new ArgumentException($"{op}: {y} is not the trailing shape of {x}.");
        }
    }
}
