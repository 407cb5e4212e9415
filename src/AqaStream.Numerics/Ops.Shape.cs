namespace AqaStream.Numerics;

public static partial class Ops
{
    /// <summary>Same values, new shape (shares the data; one dimension may be -1).</summary>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var resolved = (int[])shape.Clone();
        var infer = Array.IndexOf(resolved, -1);
        if (infer >= 0)
        {
            var known = 1;
            for (var i = 0; i < resolved.Length; i++) { if (i != infer) { known *= resolved[i]; } }
            resolved[infer] = known == 0 ? 0 : x.Length / known;
        }
        if (Tensor.ShapeLength(resolved) != x.Length)
        {
            throw new ArgumentException($"Reshape: {x} cannot become [{string.Join(", ", shape)}].");
        }
        return Tensor.Result(x.Data, resolved, [x], o =>
            System.Numerics.Tensors.TensorPrimitives.Add(x.GradBuffer(), o.Grad!, x.GradBuffer()));
    }

    /// <summary>Swaps two dimensions (a copy laid out row-major in the new order).</summary>
    public static Tensor Transpose(Tensor x, int dim0, int dim1)
    {
        var perm = Enumerable.Range(0, x.Rank).ToArray();
        (perm[dim0], perm[dim1]) = (perm[dim1], perm[dim0]);
        return Permute(x, perm);
    }

    /// <summary>Reorders dimensions: output dim i is input dim perm[i].</summary>
    public static Tensor Permute(Tensor x, params int[] perm)
    {
        ArgumentNullException.ThrowIfNull(perm);
        if (perm.Length != x.Rank || perm.Distinct().Count() != x.Rank || perm.Any(p => p < 0 || p >= x.Rank))
        {
            throw new ArgumentException($"Permute: [{string.Join(", ", perm)}] is not a permutation of {x.Rank} dims.");
        }
        var outShape = perm.Select(p => x.Shape[p]).ToArray();
        var map = PermutationMap(x.Shape, perm);
        var y = Tensor.Alloc(x.Length);
        for (var i = 0; i < y.Length; i++) { y[i] = x.Data[map[i]]; }
        return Tensor.Result(y, outShape, [x], o =>
        {
            var gx = x.GradBuffer();
            for (var i = 0; i < map.Length; i++) { gx[map[i]] += o.Grad![i]; }
        });
    }

    /// <summary>For each output (row-major) index, the input index it reads.</summary>
    private static int[] PermutationMap(int[] shape, int[] perm)
    {
        var rank = shape.Length;
        var inStrides = new int[rank];
        var s = 1;
        for (var d = rank - 1; d >= 0; d--) { inStrides[d] = s; s *= shape[d]; }
        var outShape = perm.Select(p => shape[p]).ToArray();
        var strideInOutOrder = perm.Select(p => inStrides[p]).ToArray();
        var map = new int[s];
        var idx = new int[rank];
        var src = 0;
        for (var i = 0; i < s; i++)
        {
            map[i] = src;
            for (var d = rank - 1; d >= 0; d--)
            {
                idx[d]++;
                src += strideInOutOrder[d];
                if (idx[d] < outShape[d]) { break; }
                src -= strideInOutOrder[d] * idx[d];
                idx[d] = 0;
            }
        }
        return map;
    }

    /// <summary>Joins tensors along one axis; every other dimension must agree.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> parts, int axis)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0) { throw new ArgumentException("Concat needs at least one tensor."); }
        var first = parts[0];
        foreach (var p in parts)
        {
            if (p.Rank != first.Rank || Enumerable.Range(0, p.Rank).Any(d => d != axis && p.Shape[d] != first.Shape[d]))
            {
                throw new ArgumentException($"Concat along {axis}: {p} does not match {first}.");
            }
        }
        var outer = OuterSize(first.Shape, axis);
        var inner = InnerSize(first.Shape, axis);
        var total = parts.Sum(p => p.Shape[axis]);
        var shape = (int[])first.Shape.Clone();
        shape[axis] = total;
        var y = Tensor.Alloc(Tensor.ShapeLength(shape));
        var offset = 0;
        foreach (var p in parts)
        {
            var block = p.Shape[axis] * inner;
            for (var o = 0; o < outer; o++)
            {
                p.Data.AsSpan(o * block, block).CopyTo(y.AsSpan(o * total * inner + offset * inner, block));
            }
            offset += p.Shape[axis];
        }
        return Tensor.Result(y, shape, parts.ToArray(), o =>
        {
            var off = 0;
            foreach (var p in parts)
            {
                var block = p.Shape[axis] * inner;
                if (p.RequiresGrad)
                {
                    var gp = p.GradBuffer();
                    for (var r = 0; r < outer; r++)
                    {
                        var dst = gp.AsSpan(r * block, block);
                        System.Numerics.Tensors.TensorPrimitives.Add(dst, o.Grad.AsSpan(r * total * inner + off * inner, block), dst);
                    }
                }
                off += p.Shape[axis];
            }
        });
    }

    /// <summary>The entries start..start+length-1 along one axis.</summary>
    public static Tensor Slice(Tensor x, int axis, int start, int length)
    {
        if (axis < 0 || axis >= x.Rank || start < 0 || length < 0 || start + length > x.Shape[axis])
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"Slice: {start}..{start + length} along axis {axis} of {x}.");
        }
        var outer = OuterSize(x.Shape, axis);
        var inner = InnerSize(x.Shape, axis);
        var full = x.Shape[axis] * inner;
        var block = length * inner;
        var shape = (int[])x.Shape.Clone();
        shape[axis] = length;
        var y = Tensor.Alloc(outer * block);
        for (var o = 0; o < outer; o++)
        {
            x.Data.AsSpan(o * full + start * inner, block).CopyTo(y.AsSpan(o * block, block));
        }
        return Tensor.Result(y, shape, [x], o =>
        {
            var gx = x.GradBuffer();
            for (var r = 0; r < outer; r++)
            {
                var dst = gx.AsSpan(r * full + start * inner, block);
                System.Numerics.Tensors.TensorPrimitives.Add(dst, o.Grad.AsSpan(r * block, block), dst);
            }
        });
    }

    private static int OuterSize(int[] shape, int axis)
    {
        var n = 1;
        for (var d = 0; d < axis; d++) { n *= shape[d]; }
        return n;
    }

    private static int InnerSize(int[] shape, int axis)
    {
        var n = 1;
        for (var d = axis + 1; d < shape.Length; d++) { n *= shape[d]; }
        return n;
    }
}
