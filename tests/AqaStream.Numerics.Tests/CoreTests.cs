using Xunit;
using AqaStream.Tests.Shared;

namespace AqaStream.Numerics.Tests;

public class CoreTests
{
    [Fact]
    public unsafe void Sgemm_StridedSubmatrices_MatchNaiveProduct()
    {
        // A is the 3×2 block at column 1 of a 3×4 matrix; B is 2×3 transposed from a 3×2 block.
        var a = Enumerable.Range(0, 12).Select(i => (float)i).ToArray();
        var b = Enumerable.Range(0, 9).Select(i => (float)(i - 4)).ToArray();
        var c = new float[9];
        fixed (float* pa = a, pb = b, pc = c)
        {
            Blas.Sgemm(false, true, 3, 3, 2, 1f, pa + 1, 4, pb, 3, 0f, pc, 3);
        }
        for (var i = 0; i < 3; i++)
        {
            for (var j = 0; j < 3; j++)
            {
                var expected = a[i * 4 + 1] * b[j * 3] + a[i * 4 + 2] * b[j * 3 + 1];
                Assert.Equal(expected, c[i * 3 + j]);
            }
        }
        Assert.Equal(1, Blas.LibraryThreads);
    }

    [Fact]
    public void Dropout_KeepsExpectedFraction_PreservesMean_IsSeeded()
    {
        var x = Tensor.FromData(Enumerable.Repeat(1f, 100_000).ToArray(), 100_000);
        var y = Ops.Dropout(x, 0.7f, new Random(1), training: true);
        var zeros = y.Data.Count(v => v == 0f) / (double)y.Length;
        Assert.InRange(zeros, 0.69, 0.71);
        Assert.InRange(y.Data.Average(), 0.97, 1.03);
        Assert.Equal(y.Data, Ops.Dropout(x, 0.7f, new Random(1), training: true).Data);
        Assert.Same(x, Ops.Dropout(x, 0.7f, new Random(1), training: false));
    }

    [Fact]
    public void Backward_FromNonScalar_Throws()
    {
        var p = Tensor.Parameter([1f, 2f], 2);
        var e = Assert.Throws<InvalidOperationException>(() => Ops.Scale(p, 2f).Backward());
        Assert.Contains("scalar", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NoGrad_RecordsNothing()
    {
        var p = Tensor.Parameter([1f, 2f], 2);
        using (Autograd.NoGrad())
        {
            Assert.False(Ops.Sum(Ops.Mul(p, p)).RequiresGrad);
        }
        Assert.True(Ops.Sum(Ops.Mul(p, p)).RequiresGrad);
    }

    [Fact]
    public void Softmax_FullyMaskedRow_IsZeroNotNaN()
    {
        var x = Tensor.FromData([float.NegativeInfinity, float.NegativeInfinity, 0f, 1f], 2, 2);
        var y = Ops.Softmax(x).Data;
        Assert.Equal([0f, 0f], y[..2]);
        AssertClose.Equal(1f, y[2] + y[3], absolute: 1e-6, relative: 1e-6);
    }

    [Fact]
    public void Permute_MatchesIndexDefinition()
    {
        var x = Tensor.FromData(Enumerable.Range(0, 24).Select(i => (float)i).ToArray(), 2, 3, 4);
        var y = Ops.Permute(x, 2, 0, 1);
        Assert.Equal(new[] { 4, 2, 3 }, y.Shape);
        for (var a = 0; a < 2; a++)
        {
            for (var b = 0; b < 3; b++)
            {
                for (var c = 0; c < 4; c++) { Assert.Equal(x.Data[(a * 3 + b) * 4 + c], y.Data[(c * 2 + a) * 3 + b]); }
            }
        }
    }
}
