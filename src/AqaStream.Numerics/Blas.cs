using System.Runtime.InteropServices;

namespace AqaStream.Numerics;

/// <summary>
/// OpenBLAS through P/Invoke (Debian's libopenblas0-pthread). Only single-precision GEMM is needed:
/// everything element-wise goes through TensorPrimitives.
/// </summary>
public static unsafe partial class Blas
{
    private const string Library = "libopenblas.so.0";
    private const int RowMajor = 101;
    private const int NoTrans = 111;
    private const int Trans = 112;

    [LibraryImport(Library, EntryPoint = "cblas_sgemm")]
    private static partial void CblasSgemm(int order, int transA, int transB, int m, int n, int k,
        float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    [LibraryImport(Library, EntryPoint = "openblas_set_num_threads")]
    private static partial void OpenBlasSetNumThreads(int threads);

    [LibraryImport(Library, EntryPoint = "openblas_get_num_threads")]
    private static partial int OpenBlasGetNumThreads();

    /// <summary>Threads OpenBLAS itself uses for one GEMM (always 1; see <see cref="Parallelism"/>).</summary>
    public static int LibraryThreads => OpenBlasGetNumThreads();

    /// <summary>
    /// C = alpha·op(A)·op(B) + beta·C, row-major. op(A) is m×k, op(B) is k×n, C is m×n;
    /// lda/ldb/ldc are the row strides of the stored matrices, so head slices need no copy.
    /// </summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        if (m == 0 || n == 0)
        {
            return;
        }
        if (k == 0)
        {
            for (var i = 0; i < m; i++)
            {
                var row = new Span<float>(c + (long)i * ldc, n);
                if (beta == 0f) { row.Clear(); } else { System.Numerics.Tensors.TensorPrimitives.Multiply(row, beta, row); }
            }
            return;
        }
        CblasSgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k,
            alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary>OpenBLAS is kept single-threaded: our own loops split every GEMM across cores instead, so OpenBLAS's
    /// spinning worker threads never compete with ours for this machine's two cores.</summary>
    static Blas() => OpenBlasSetNumThreads(1);
}
