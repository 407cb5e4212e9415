namespace AqaStream.Numerics;

public static partial class Ops
{
    /// <summary>Rows of a [N, d] table picked by index: [indices.Length, d] (an embedding lookup).
    /// The backward pass adds each output row's gradient into the row it came from.</summary>
    public static Tensor Gather(Tensor table, int[] indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        if (table.Rank != 2) { throw new ArgumentException($"Gather: table must be 2-D, got {table}."); }
        var (n, d) = (table.Shape[0], table.Shape[1]);
        var y = Tensor.Alloc(indices.Length * d);
        for (var i = 0; i < indices.Length; i++)
        {
            if ((uint)indices[i] >= (uint)n)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), $"Gather: index {indices[i]} outside a table of {n} rows.");
            }
            table.Data.AsSpan(indices[i] * d, d).CopyTo(y.AsSpan(i * d, d));
        }
        return Tensor.Result(y, [indices.Length, d], [table], o =>
        {
            var g = table.GradBuffer();
            for (var i = 0; i < indices.Length; i++)
            {
                var dst = g.AsSpan(indices[i] * d, d);
                System.Numerics.Tensors.TensorPrimitives.Add(dst, o.Grad.AsSpan(i * d, d), dst);
            }
        });
    }
}
