using Xunit;
using AqaStream.Tests.Shared;

namespace AqaStream.Numerics.Tests;

public class AttentionTests
{
    private readonly Random _rng = new(11);

    /// <summary>The same attention built from generic ops, head by head.</summary>
    private static Tensor Composed(Tensor q, Tensor k, Tensor v, int heads, bool[]? keyValid, bool causal)
    {
        var (b, tq, d) = (q.Shape[0], q.Shape[1], q.Shape[2]);
        var tk = k.Shape[1];
        var dh = d / heads;
        var mask = new bool[b * tq * tk];
        for (var bi = 0; bi < b; bi++)
        {
            for (var i = 0; i < tq; i++)
            {
                for (var j = 0; j < tk; j++)
                {
                    mask[(bi * tq + i) * tk + j] = (causal && j > i) || (keyValid is not null && !keyValid[bi * tk + j]);
                }
            }
        }
        var outs = new List<Tensor>();
        for (var h = 0; h < heads; h++)
        {
            var qh = Ops.Slice(q, 2, h * dh, dh);
            var kh = Ops.Slice(k, 2, h * dh, dh);
            var vh = Ops.Slice(v, 2, h * dh, dh);
            var scores = Ops.Scale(Ops.MatMul(qh, kh, transposeB: true), 1f / MathF.Sqrt(dh));
            var p = Ops.Softmax(Ops.MaskedFill(scores, mask, float.NegativeInfinity));
            outs.Add(Ops.MatMul(p, vh));
        }
        return Ops.Concat(outs, 2);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Attention_Fused_EqualsComposedGenericOps(bool causal, bool padded)
    {
        var q = GradientCheck.Param(_rng, 2, 5, 8);
        var k = GradientCheck.Param(_rng, 2, 5, 8);
        var v = GradientCheck.Param(_rng, 2, 5, 8);
        bool[]? valid = padded ? [true, true, true, true, true, true, true, true, false, false] : null;
        var fused = Ops.Attention(q, k, v, 2, valid, causal).Output;
        var composed = Composed(q, k, v, 2, valid, causal);
        for (var i = 0; i < fused.Length; i++) { AssertClose.Equal(composed.Data[i], fused.Data[i], absolute: 1e-5, relative: 1e-5); }

        var r = GradientCheck.Param(new Random(3), 2, 5, 8);
        var grads = new List<float[]>();
        foreach (var f in new Func<Tensor>[] { () => Ops.Attention(q, k, v, 2, valid, causal).Output, () => Composed(q, k, v, 2, valid, causal) })
        {
            q.ZeroGrad(); k.ZeroGrad(); v.ZeroGrad();
            Ops.Sum(Ops.Mul(f(), Tensor.FromData(r.Data, r.Shape))).Backward();
            grads.Add([.. q.Grad!, .. k.Grad!, .. v.Grad!]);
        }
        for (var i = 0; i < grads[0].Length; i++) { AssertClose.Equal(grads[1][i], grads[0][i], absolute: 1e-4, relative: 1e-4); }
    }

    [Fact]
    public void Attention_GradientsMatchFiniteDifferences_WithMasksAndDropout()
    {
        var q = GradientCheck.Param(_rng, 2, 4, 6);
        var k = GradientCheck.Param(_rng, 2, 5, 6);
        var v = GradientCheck.Param(_rng, 2, 5, 6);
        bool[] valid = [true, true, true, false, false, true, true, true, true, true];
        GradientCheck.Check(() => Ops.Attention(q, k, v, 3, valid).Output, q, k, v);
        GradientCheck.Check(() => Ops.Attention(q, k, v, 3, valid, dropout: 0.3f, rng: new Random(9), training: true).Output, q, k, v);
    }

    [Fact]
    public void Attention_Causal_FutureKeysHaveNoInfluence()
    {
        var q = GradientCheck.Param(_rng, 1, 6, 4);
        var k = GradientCheck.Param(_rng, 1, 6, 4);
        var v = GradientCheck.Param(_rng, 1, 6, 4);
        var before = Ops.Attention(q, k, v, 2, causal: true);
        k.Data[5 * 4] += 3f;
        v.Data[5 * 4 + 1] -= 2f;
        var after = Ops.Attention(q, k, v, 2, causal: true);
        Assert.Equal(before.Output.Data.AsSpan(0, 5 * 4).ToArray(), after.Output.Data.AsSpan(0, 5 * 4).ToArray());
        Assert.NotEqual(before.Output.Data[5 * 4 + 1], after.Output.Data[5 * 4 + 1]);
        // Row i of each head's map puts zero weight on keys after i.
        for (var h = 0; h < 2; h++)
        {
            for (var i = 0; i < 6; i++)
            {
                for (var j = i + 1; j < 6; j++) { Assert.Equal(0f, before.Probabilities[(h * 6 + i) * 6 + j]); }
            }
        }
    }

    [Fact]
    public void Attention_BadShapes_ThrowWithShapesInMessage()
    {
        var q = Tensor.Zeros(1, 3, 8);
        var k = Tensor.Zeros(1, 4, 6);
        var e = Assert.Throws<ArgumentException>(() => Ops.Attention(q, k, k, 2));
        Assert.Contains("[1, 3, 8]", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Ops.Attention(q, q, q, 3));
    }
}
