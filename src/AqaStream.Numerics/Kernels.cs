using System.Numerics.Tensors;

namespace AqaStream.Numerics;

/// <summary>Inference-only kernels on plain spans (no graph), for per-clip incremental decoding.</summary>
public static class Kernels
{
    /// <summary>Numerically stable softmax of one row; −∞ entries get 0, an all −∞ row gives zeros.</summary>
    public static void Softmax(ReadOnlySpan<float> x, Span<float> y) => Ops.SoftmaxRow(x, y);

    /// <summary>
    /// One query attending over <paramref name="count"/> cached keys and values, per head: softmax(q_h·k_jh / √d_h) v_jh.
    /// Keys and values are rows of width d (heads as column slices), as <see cref="Ops.Attention"/> lays them out.
    /// </summary>
    public static void AttendOne(ReadOnlySpan<float> query, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, int count, int heads,
        Span<float> output, Span<float> probabilities)
    {
        var d = query.Length;
        if (d % heads != 0 || keys.Length < count * d || values.Length < count * d || output.Length != d || probabilities.Length < heads * count)
        {
            throw new ArgumentException($"AttendOne: width {d}, {heads} heads, {count} cached rows do not fit the buffers.");
        }
        var dh = d / heads;
        var scale = 1f / MathF.Sqrt(dh);
        output.Clear();
        for (var h = 0; h < heads; h++)
        {
            var q = query.Slice(h * dh, dh);
            var p = probabilities.Slice(h * count, count);
            for (var j = 0; j < count; j++)
            {
                p[j] = TensorPrimitives.Dot(q, keys.Slice(j * d + h * dh, dh)) * scale;
            }
            Ops.SoftmaxRow(p, p);
            var o = output.Slice(h * dh, dh);
            for (var j = 0; j < count; j++)
            {
                TensorPrimitives.MultiplyAdd(values.Slice(j * d + h * dh, dh), p[j], o, o);
            }
        }
    }
}
