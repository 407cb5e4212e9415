namespace AqaStream.Numerics;

/// <summary>The result of <see cref="Ops.Attention"/>: the attended values and the attention probabilities.</summary>
/// <param name="Output">[B, Tq, d], heads concatenated (before the output projection).</param>
/// <param name="Probabilities">[B, H, Tq, Tk] softmax weights before dropout: the attention maps.</param>
public sealed record AttentionResult(Tensor Output, float[] Probabilities);

public static unsafe partial class Ops
{
    /// <summary>
    /// Scaled dot-product multi-head attention, fused: for each batch item and head h,
    /// softmax(Q_h K_hᵀ / √d_h + mask) V_h with heads read as column slices of [B, T, d] (no reshapes).
    /// Equal to composing Linear-free <see cref="MatMul"/>, <see cref="MaskedFill"/>, <see cref="Softmax"/> and
    /// <see cref="Dropout"/> per head (a test holds it to that), at a fraction of the memory traffic.
    /// </summary>
    /// <param name="q">[B, Tq, d] projected queries.</param>
    /// <param name="k">[B, Tk, d] projected keys.</param>
    /// <param name="v">[B, Tk, d] projected values.</param>
    /// <param name="heads">Number of heads; d must divide by it.</param>
    /// <param name="keyValid">[B, Tk]: false for padded keys, which get no attention; null when none are padded.</param>
    /// <param name="causal">Query i sees keys j ≤ i + <paramref name="causalOffset"/> only.</param>
    /// <param name="causalOffset">Absolute position of query 0 minus that of key 0 (incremental decoding).</param>
    /// <param name="dropout">Dropout on the attention probabilities (as <c>nn.MultiheadAttention</c>) while training.</param>
    /// <param name="rng">Source of dropout masks; required when dropout applies.</param>
    /// <param name="training">Whether dropout applies.</param>
    public static AttentionResult Attention(Tensor q, Tensor k, Tensor v, int heads, bool[]? keyValid = null,
        bool causal = false, int causalOffset = 0, float dropout = 0f, Random? rng = null, bool training = false)
    {
        if (q.Rank != 3 || k.Rank != 3 || v.Rank != 3 || q.Shape[0] != k.Shape[0] || k.Shape[0] != v.Shape[0]
            || k.Shape[1] != v.Shape[1] || q.Shape[2] != k.Shape[2] || k.Shape[2] != v.Shape[2])
        {
            throw new ArgumentException($"Attention: q {q}, k {k}, v {v} must be [B,Tq,d], [B,Tk,d], [B,Tk,d].");
        }
        var (b, tq, d) = (q.Shape[0], q.Shape[1], q.Shape[2]);
        var tk = k.Shape[1];
        if (heads <= 0 || d % heads != 0)
        {
            throw new ArgumentException($"Attention: model width {d} does not divide into {heads} heads.");
        }
        if (keyValid is not null && keyValid.Length != b * tk)
        {
            throw new ArgumentException($"Attention: key mask has {keyValid.Length} entries, expected {b * tk}.");
        }
        var dh = d / heads;
        var scale = 1f / MathF.Sqrt(dh);
        var block = tq * tk;
        var probs = Tensor.Alloc(b * heads * block);
        float[]? keep = null;
        if (training && dropout > 0f)
        {
            keep = DropoutMask(probs.Length, dropout, rng ?? throw new ArgumentNullException(nameof(rng), "Attention dropout needs a random source."));
        }
        var output = Tensor.Alloc(b * tq * d);
        fixed (float* pq = q.Data, pk = k.Data, pv = v.Data, pp = probs, po = output)
        {
            var (iq, ik, iv, ip, io) = ((nint)pq, (nint)pk, (nint)pv, (nint)pp, (nint)po);
            Parallelism.For(b * heads, bh =>
            {
                var (bi, h) = (bh / heads, bh % heads);
                var p = (float*)ip + (long)bh * block;
                Blas.Sgemm(false, true, tq, tk, dh, scale, (float*)iq + (long)bi * tq * d + h * dh, d,
                    (float*)ik + (long)bi * tk * d + h * dh, d, 0f, p, tk);
                for (var i = 0; i < tq; i++)
                {
                    var row = new Span<float>(p + (long)i * tk, tk);
                    if (keyValid is not null)
                    {
                        var valid = keyValid.AsSpan(bi * tk, tk);
                        for (var j = 0; j < tk; j++)
                        {
                            if (!valid[j]) { row[j] = float.NegativeInfinity; }
                        }
                    }
                    if (causal)
                    {
                        var first = Math.Max(0, i + causalOffset + 1);
                        if (first < tk) { row[first..].Fill(float.NegativeInfinity); }
                    }
                    SoftmaxRow(row, row);
                }
                var attended = p;
                float[]? dropped = null;
                if (keep is not null)
                {
                    dropped = new float[block];
                    System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(p, block), keep.AsSpan(bh * block, block), dropped);
                }
                fixed (float* pd = dropped)
                {
                    Blas.Sgemm(false, false, tq, dh, tk, 1f, pd is null ? attended : pd, tk,
                        (float*)iv + (long)bi * tk * d + h * dh, d, 0f, (float*)io + (long)bi * tq * d + h * dh, d);
                }
            });
        }
        var result = Tensor.Result(output, [b, tq, d], [q, k, v], o => AttentionBackward(o.Grad!, q, k, v, probs, keep, heads, scale));
        return new AttentionResult(result, probs);
    }

    private static void AttentionBackward(float[] gOut, Tensor q, Tensor k, Tensor v, float[] probs, float[]? keep, int heads, float scale)
    {
        var (b, tq, d) = (q.Shape[0], q.Shape[1], q.Shape[2]);
        var tk = k.Shape[1];
        var dh = d / heads;
        var block = tq * tk;
        // Gradient buffers are created before the parallel loop: GradBuffer() is not thread-safe.
        var gq = q.RequiresGrad ? q.GradBuffer() : null;
        var gk = k.RequiresGrad ? k.GradBuffer() : null;
        var gv = v.RequiresGrad ? v.GradBuffer() : null;
        fixed (float* pg = gOut, pq = q.Data, pk = k.Data, pv = v.Data, pp = probs, pgq = gq, pgk = gk, pgv = gv)
        {
            var (ig, iq, ik, iv, ip, igq, igk, igv) = ((nint)pg, (nint)pq, (nint)pk, (nint)pv, (nint)pp, (nint)pgq, (nint)pgk, (nint)pgv);
            Parallelism.For(b * heads, bh =>
            {
                var (bi, h) = (bh / heads, bh % heads);
                var p = new ReadOnlySpan<float>((float*)ip + (long)bh * block, block);
                var dOut = (float*)ig + (long)bi * tq * d + h * dh;
                var qOff = (long)bi * tq * d + h * dh;
                var kOff = (long)bi * tk * d + h * dh;
                var dP = new float[block];
                var attended = keep is null ? null : new float[block];
                if (attended is not null) { System.Numerics.Tensors.TensorPrimitives.Multiply(p, keep.AsSpan(bh * block, block), attended); }
                fixed (float* pdP = dP, pa = attended)
                {
                    // dP' = dO · Vᵀ ; dV += P'ᵀ · dO  (P' = probabilities after dropout)
                    Blas.Sgemm(false, true, tq, tk, dh, 1f, dOut, d, (float*)iv + kOff, d, 0f, pdP, tk);
                    if (igv != 0)
                    {
                        Blas.Sgemm(true, false, tk, dh, tq, 1f, pa is null ? (float*)ip + (long)bh * block : pa, tk, dOut, d, 1f, (float*)igv + kOff, d);
                    }
                    if (keep is not null)
                    {
                        System.Numerics.Tensors.TensorPrimitives.Multiply(dP, keep.AsSpan(bh * block, block), dP);
                    }
                    // dS = P ⊙ (dP − rowsum(dP ⊙ P)), written over dP
                    var dS = new float[block];
                    for (var i = 0; i < tq; i++)
                    {
                        SoftmaxBackwardRow(p.Slice(i * tk, tk), dP.AsSpan(i * tk, tk), dS.AsSpan(i * tk, tk));
                    }
                    fixed (float* pdS = dS)
                    {
                        if (igq != 0) { Blas.Sgemm(false, false, tq, dh, tk, scale, pdS, tk, (float*)ik + kOff, d, 1f, (float*)igq + qOff, d); }
                        if (igk != 0) { Blas.Sgemm(true, false, tk, dh, tq, scale, pdS, tk, (float*)iq + qOff, d, 1f, (float*)igk + kOff, d); }
                    }
                }
            });
        }
    }
}
