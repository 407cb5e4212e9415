using Xunit;
using AqaStream.Tests.Shared;

namespace AqaStream.Numerics.Tests;

public class OpGradientTests
{
    private readonly Random _rng = new(7);

    [Fact]
    public void Linear_WeightRowBlock_GradientsMatchFiniteDifferences()
    {
        var x = GradientCheck.Param(_rng, 2, 3, 5);
        var w = GradientCheck.Param(_rng, 8, 5);
        var b = GradientCheck.Param(_rng, 8);
        GradientCheck.Check(() => Ops.Linear(x, w, b), x, w, b);
        GradientCheck.Check(() => Ops.Linear(x, w, b, rowStart: 3, rows: 4), x, w, b);
        GradientCheck.Check(() => Ops.Linear(x, w, null), x, w);
    }

    [Fact]
    public void Linear_LargeEnoughToSplitAcrossCores_GradientsMatchFiniteDifferences()
    {
        var x = GradientCheck.Param(_rng, 300, 40);
        var w = GradientCheck.Param(_rng, 48, 40);
        var b = GradientCheck.Param(_rng, 48);
        GradientCheck.Check(() => Ops.Linear(x, w, b, rowStart: 8, rows: 32), x, w, b);
    }

    [Fact]
    public void MatMul_PlainAndTransposed_GradientsMatchFiniteDifferences()
    {
        var a = GradientCheck.Param(_rng, 3, 4, 5);
        var b = GradientCheck.Param(_rng, 3, 5, 2);
        var bt = GradientCheck.Param(_rng, 3, 6, 5);
        GradientCheck.Check(() => Ops.MatMul(a, b), a, b);
        GradientCheck.Check(() => Ops.MatMul(a, bt, transposeB: true), a, bt);
        var m = GradientCheck.Param(_rng, 4, 5);
        GradientCheck.Check(() => Ops.MatMul(m, m, transposeB: true), m);
    }

    [Fact]
    public void Elementwise_AddMulScaleBroadcast_GradientsMatchFiniteDifferences()
    {
        var a = GradientCheck.Param(_rng, 2, 3, 4);
        var b = GradientCheck.Param(_rng, 2, 3, 4);
        var row = GradientCheck.Param(_rng, 3, 4);
        GradientCheck.Check(() => Ops.Add(a, b), a, b);
        GradientCheck.Check(() => Ops.Mul(a, b), a, b);
        GradientCheck.Check(() => Ops.Scale(a, -1.7f), a);
        GradientCheck.Check(() => Ops.AddBroadcast(a, row), a, row);
        GradientCheck.Check(() => Ops.Mul(a, a), a);
    }

    [Fact]
    public void Relu_AwayFromZero_GradientMatchesFiniteDifferences()
    {
        var data = new float[40];
        for (var i = 0; i < data.Length; i++) { data[i] = (i % 2 == 0 ? 1 : -1) * (0.1f + i * 0.05f); }
        var x = Tensor.Parameter(data, 5, 8);
        GradientCheck.Check(() => Ops.Relu(x), x);
    }

    [Fact]
    public void ShapeOps_ReshapeTransposePermuteConcatSlice_GradientsMatchFiniteDifferences()
    {
        var x = GradientCheck.Param(_rng, 2, 3, 4);
        var y = GradientCheck.Param(_rng, 2, 5, 4);
        GradientCheck.Check(() => Ops.Reshape(x, 6, -1), x);
        GradientCheck.Check(() => Ops.Transpose(x, 1, 2), x);
        GradientCheck.Check(() => Ops.Permute(x, 2, 0, 1), x);
        GradientCheck.Check(() => Ops.Concat([x, y], 1), x, y);
        GradientCheck.Check(() => Ops.Slice(y, 1, 1, 3), y);
        GradientCheck.Check(() => Ops.Slice(x, 2, 2, 2), x);
    }

    [Fact]
    public void Normalisation_LayerNormSoftmaxLogSoftmax_GradientsMatchFiniteDifferences()
    {
        var x = GradientCheck.Param(_rng, 3, 6);
        var g = GradientCheck.Param(_rng, 6);
        var b = GradientCheck.Param(_rng, 6);
        GradientCheck.Check(() => Ops.LayerNorm(x, g, b), x, g, b);
        GradientCheck.Check(() => Ops.Softmax(x), x);
        GradientCheck.Check(() => Ops.LogSoftmax(x), x);
    }

    [Fact]
    public void MaskedFill_MaskedEntriesPassNoGradient()
    {
        var x = GradientCheck.Param(_rng, 2, 5);
        var mask = Enumerable.Range(0, 10).Select(i => i % 3 == 0).ToArray();
        GradientCheck.Check(() => Ops.Softmax(Ops.MaskedFill(x, mask, float.NegativeInfinity)), x);
        x.ZeroGrad();
        Ops.Sum(Ops.MaskedFill(x, mask, 0f)).Backward();
        for (var i = 0; i < 10; i++) { Assert.Equal(mask[i] ? 0f : 1f, x.Grad![i]); }
    }

    [Fact]
    public void Reductions_SumMeanSumLastDimMse_GradientsMatchFiniteDifferences()
    {
        var x = GradientCheck.Param(_rng, 3, 4);
        var t = GradientCheck.Param(_rng, 3, 4);
        GradientCheck.Check(() => Ops.Sum(x), x);
        GradientCheck.Check(() => Ops.Mean(x), x);
        GradientCheck.Check(() => Ops.SumLastDim(x), x);
        GradientCheck.Check(() => Ops.MseLoss(x, t), x, t);
    }

    [Fact]
    public void KlDivergence_BothArguments_GradientsMatchFiniteDifferences()
    {
        var a = GradientCheck.Param(_rng, 3, 5);
        var b = GradientCheck.Param(_rng, 3, 5);
        GradientCheck.Check(() => Ops.KlDivergence(Ops.LogSoftmax(a), Ops.Softmax(b)), a, b);
    }

    [Fact]
    public void KlDivergence_EqualDistributions_IsZero_AndMatchesDefinition()
    {
        var p = new[] { 0.2f, 0.3f, 0.5f };
        var q = new[] { 0.1f, 0.6f, 0.3f };
        var logQ = Tensor.FromData(q.Select(v => MathF.Log(v)).ToArray(), 3);
        var kl = Ops.KlDivergence(logQ, Tensor.FromData(p, 3)).Item;
        var expected = p.Zip(q, (pi, qi) => pi * MathF.Log(pi / qi)).Sum();
        AssertClose.Equal(expected, kl, absolute: 1e-5, relative: 1e-5);
        AssertClose.Equal(0f, Ops.KlDivergence(Tensor.FromData(p.Select(v => MathF.Log(v)).ToArray(), 3), Tensor.FromData(p, 3)).Item, absolute: 1e-6, relative: 1e-6);
    }

    [Fact]
    public void Gather_RepeatedRows_AccumulateGradient()
    {
        var table = GradientCheck.Param(_rng, 5, 3);
        GradientCheck.Check(() => Ops.Gather(table, [4, 0, 4, 2]), table);
    }

    [Fact]
    public void Dropout_WithFixedSeed_GradientMatchesFiniteDifferences()
    {
        var x = GradientCheck.Param(_rng, 4, 6);
        // The same seed each call gives the same mask, so finite differences see one fixed function.
        GradientCheck.Check(() => Ops.Dropout(x, 0.4f, new Random(5), training: true), x);
    }
}
