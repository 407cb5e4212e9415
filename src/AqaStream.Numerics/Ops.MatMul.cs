using System.Numerics.Tensors;

namespace AqaStream.Numerics;

public static unsafe partial class Ops
{
    /// <summary>
    /// y = x·Wᵀ + b over the last dimension (PyTorch's <c>F.linear</c>): x [..., in], W [out, in], b [out].
    /// <paramref name="rowStart"/>/<paramref name="rows"/> select a block of W's rows (and b's entries) without a copy,
    /// as the in-projection of multi-head attention needs (q, k, v share one [3d, d] weight).
    /// </summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias, int rowStart = 0, int rows = -1)
    {
        if (weight.Rank != 2)
        {
            throw new ArgumentException($"Linear: weight must be 2-D, got {weight}.");
        }
        var inF = weight.Shape[1];
        var outF = rows < 0 ? weight.Shape[0] - rowStart : rows;
        if (rowStart < 0 || rowStart + outF > weight.Shape[0])
        {
            throw new ArgumentOutOfRangeException(nameof(rows), $"Linear: rows {rowStart}..{rowStart + outF} outside weight {weight}.");
        }
        if (x.LastDim != inF)
        {
            throw new ArgumentException($"Linear: input {x} does not end in {inF}.");
        }
        var n = x.Length / inF;
        var y = Tensor.Alloc(n * outF);
        var shape = (int[])x.Shape.Clone();
        shape[^1] = outF;
        if (bias is not null)
        {
            var b = bias.Data.AsSpan(rowStart, outF);
            for (var r = 0; r < n; r++) { b.CopyTo(y.AsSpan(r * outF, outF)); }
        }
        fixed (float* px = x.Data, pw = weight.Data, py = y)
        {
            var (ix, iw, iy) = ((nint)px, (nint)(pw + (long)rowStart * inF), (nint)py);
            var beta = bias is null ? 0f : 1f;
            // Row blocks of x on separate cores.
            Parallelism.ForRanges(n, (long)inF * outF, (r0, r1) => Blas.Sgemm(false, true, r1 - r0, outF, inF, 1f,
                (float*)ix + (long)r0 * inF, inF, (float*)iw, inF, beta, (float*)iy + (long)r0 * outF, outF));
        }
        Tensor[] parents = bias is null ? [x, weight] : [x, weight, bias];
        return Tensor.Result(y, shape, parents, o =>
        {
            fixed (float* pg = o.Grad!, px = x.Data, pw = weight.Data)
            {
                var (ig, ix, iw) = ((nint)pg, (nint)px, (nint)(pw + (long)rowStart * inF));
                if (x.RequiresGrad)
                {
                    fixed (float* pgx = x.GradBuffer())
                    {
                        // dx = dy · W, by row blocks of dy.
                        var igx = (nint)pgx;
                        Parallelism.ForRanges(n, (long)inF * outF, (r0, r1) => Blas.Sgemm(false, false, r1 - r0, inF, outF, 1f,
                            (float*)ig + (long)r0 * outF, outF, (float*)iw, inF, 1f, (float*)igx + (long)r0 * inF, inF));
                    }
                }
                if (weight.RequiresGrad)
                {
                    fixed (float* pgw = weight.GradBuffer())
                    {
                        // dW += dyᵀ · x, by blocks of output features (columns of dy), so no two cores write one row.
                        var igw = (nint)(pgw + (long)rowStart * inF);
                        Parallelism.ForRanges(outF, (long)inF * n, (c0, c1) => Blas.Sgemm(true, false, c1 - c0, inF, n, 1f,
                            (float*)ig + c0, outF, (float*)ix, inF, 1f, (float*)igw + (long)c0 * inF, inF));
                    }
                }
            }
            if (bias is not null && bias.RequiresGrad)
            {
                var gb = bias.GradBuffer().AsSpan(rowStart, outF);
                for (var r = 0; r < n; r++) { TensorPrimitives.Add(gb, o.Grad.AsSpan(r * outF, outF), gb); }
            }
        });
    }

    /// <summary>
    /// Batched matrix product: a [B, M, K] · b [B, K, N] → [B, M, N] (or b [B, N, K] with <paramref name="transposeB"/>).
    /// Rank-2 inputs are a batch of one.
    /// </summary>
    public static Tensor MatMul(Tensor a, Tensor b, bool transposeB = false)
    {
        var (batchA, m, k) = AsBatch(a);
        var (batchB, r1, r2) = AsBatch(b);
        var (kb, nCols) = transposeB ? (r2, r1) : (r1, r2);
        if (batchA != batchB || k != kb)
        {
            throw new ArgumentException($"MatMul: {a} and {b}{(transposeB ? "ᵀ" : "")} do not multiply.");
        }
        var batch = batchA;
        var y = Tensor.Alloc(batch * m * nCols);
        var ldb = transposeB ? k : nCols;
        fixed (float* pa = a.Data, pb = b.Data, py = y)
        {
            var (ia, ib, iy) = ((nint)pa, (nint)pb, (nint)py);
            Parallelism.For(batch, i => Blas.Sgemm(false, transposeB, m, nCols, k, 1f,
                (float*)ia + (long)i * m * k, k, (float*)ib + (long)i * k * nCols, ldb, 0f, (float*)iy + (long)i * m * nCols, nCols));
        }
        var shape = a.Rank == 2 ? new[] { m, nCols } : new[] { batch, m, nCols };
        return Tensor.Result(y, shape, [a, b], o =>
        {
            fixed (float* pg = o.Grad!, pa = a.Data, pb = b.Data)
            {
                var (ig, ia, ib) = ((nint)pg, (nint)pa, (nint)pb);
                if (a.RequiresGrad)
                {
                    fixed (float* pga = a.GradBuffer())
                    {
                        var iga = (nint)pga;
                        // dA = dY · op(B)ᵀ
                        Parallelism.For(batch, i => Blas.Sgemm(false, !transposeB, m, k, nCols, 1f,
                            (float*)ig + (long)i * m * nCols, nCols, (float*)ib + (long)i * k * nCols, ldb, 1f, (float*)iga + (long)i * m * k, k));
                    }
                }
                if (b.RequiresGrad)
                {
                    fixed (float* pgb = b.GradBuffer())
                    {
                        var igb = (nint)pgb;
                        if (transposeB)
                        {
                            // d(Bᵀ) = Aᵀ·dY, so dB = dYᵀ·A  [N, K]
                            Parallelism.For(batch, i => Blas.Sgemm(true, false, nCols, k, m, 1f,
                                (float*)ig + (long)i * m * nCols, nCols, (float*)ia + (long)i * m * k, k, 1f, (float*)igb + (long)i * k * nCols, k));
                        }
                        else
                        {
                            Parallelism.For(batch, i => Blas.Sgemm(true, false, k, nCols, m, 1f,
                                (float*)ia + (long)i * m * k, k, (float*)ig + (long)i * m * nCols, nCols, 1f, (float*)igb + (long)i * k * nCols, nCols));
                        }
                    }
                }
            }
        });
    }

    private static (int Batch, int Rows, int Cols) AsBatch(Tensor t) => t.Rank switch
    {
        2 => (1, t.Shape[0], t.Shape[1]),
        3 => (t.Shape[0], t.Shape[1], t.Shape[2]),
        _ => throw new ArgumentException($"MatMul takes rank-2 or rank-3 tensors, got {t}."),
    };
}
