using AqaStream.Numerics;

namespace AqaStream.Scoring.Model;

/// <summary>
/// The attention loss against temporal skipping (main paper; reference <c>attention_loss</c>):
/// with S and C a layer's self- and cross-attention outputs, G_D = S Sᵀ / d and G_E = C Cᵀ / d,
/// L = Σ_rows KL(softmax(G_E) ‖ softmax(G_D)). Padded queries are left out (rows and columns).
/// </summary>
public static class AttentionLoss
{
    /// <summary>The loss of one layer summed over the batch (the caller averages over it).</summary>
    /// <param name="selfOut">[B, Q, d] self-attention output S.</param>
    /// <param name="crossOut">[B, Q, d] cross-attention output C.</param>
    /// <param name="lengths">Valid queries per sample, or null when none are padded.</param>
    public static Tensor Compute(Tensor selfOut, Tensor crossOut, int[]? lengths)
    {
        ArgumentNullException.ThrowIfNull(selfOut);
        ArgumentNullException.ThrowIfNull(crossOut);
        var (bsz, q) = (selfOut.Shape[0], selfOut.Shape[1]);
        if (lengths is null || lengths.All(l => l == q))
        {
            return Layer(selfOut, crossOut);
        }
        Tensor? total = null;
        for (var b = 0; b < bsz; b++)
        {
            var s = Ops.Slice(Ops.Slice(selfOut, 0, b, 1), 1, 0, lengths[b]);
            var c = Ops.Slice(Ops.Slice(crossOut, 0, b, 1), 1, 0, lengths[b]);
            var l = Layer(s, c);
            total = total is null ? l : Ops.Add(total, l);
        }
        return total!;
    }

    private static Tensor Layer(Tensor s, Tensor c)
    {
        var d = s.LastDim;
        var gD = Ops.Scale(Ops.MatMul(s, s, transposeB: true), 1f / d);
        var gE = Ops.Scale(Ops.MatMul(c, c, transposeB: true), 1f / d);
        return Ops.KlDivergence(Ops.LogSoftmax(gD), Ops.Softmax(gE));
    }
}
