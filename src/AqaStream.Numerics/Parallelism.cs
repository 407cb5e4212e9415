namespace AqaStream.Numerics;

/// <summary>
/// How many cores the compute core uses. Work is split by our own loops (GEMMs by row blocks, attention by
/// batch×head, row-wise ops by row chunks) with OpenBLAS single-threaded inside: measured here, OpenBLAS's own
/// threads spinning next to .NET's pool threads made step times swing 1×–4×.
/// </summary>
public static class Parallelism
{
    private static int s_threads = Environment.ProcessorCount;

    /// <summary>Cores to use (default: all).</summary>
    public static int Threads
    {
        get => s_threads;
        set => s_threads = Math.Clamp(value, 1, Environment.ProcessorCount * 4);
    }

    /// <summary>Runs body(0..count-1), in parallel when more than one thread is allowed.</summary>
    public static void For(int count, Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        if (count <= 1 || s_threads == 1)
        {
            for (var i = 0; i < count; i++) { body(i); }
            return;
        }
        _ = Blas.LibraryThreads; // ensures OpenBLAS was set single-threaded before any parallel GEMM
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = s_threads }, body);
    }

    /// <summary>Splits [0, total) into contiguous ranges, one per thread when the work is worth splitting.</summary>
    public static void ForRanges(int total, long workPerItem, Action<int, int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        const long MinWorkPerRange = 1 << 18;
        var ranges = (int)Math.Clamp(total * workPerItem / MinWorkPerRange, 1, s_threads);
        ranges = Math.Min(ranges, Math.Max(1, total));
        if (ranges == 1)
        {
            body(0, total);
            return;
        }
        var per = (total + ranges - 1) / ranges;
        For(ranges, r =>
        {
            var start = r * per;
            var end = Math.Min(total, start + per);
            if (start < end) { body(start, end); }
        });
    }
}
