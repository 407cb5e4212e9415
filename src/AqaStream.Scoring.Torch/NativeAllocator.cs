using System.Runtime.InteropServices;

namespace AqaStream.Scoring.Torch;

/// <summary>
/// glibc malloc settings for libtorch's CPU tensors. By default glibc serves every block over its (dynamic) mmap
/// threshold with a fresh mmap and returns it with munmap, so each multi-megabyte temporary of a batched step is
/// page-faulted and zeroed by the kernel again: a batched streaming step of 64 performances took 367 ms with the
/// defaults and 23 ms with these (16x; <c>aqa bench incremental</c>). Raising the mmap threshold to its maximum and
/// keeping freed memory in the heap (trim threshold, top pad) lets those blocks be reused. Applied once per process
/// before the first model is built; a no-op off glibc. The environment variables <c>MALLOC_MMAP_THRESHOLD_</c>,
/// <c>MALLOC_TRIM_THRESHOLD_</c> and <c>MALLOC_TOP_PAD_</c>, where set, win (set <c>AQA_KEEP_MALLOC=1</c> to skip this).
/// </summary>
public static partial class NativeAllocator
{
    private const int TrimThreshold = -1;
    private const int TopPad = -2;
    private const int MmapThreshold = -3;
    private static int s_applied;

    /// <summary>Whether the settings were applied in this process.</summary>
    public static bool Applied { get; private set; }

    /// <summary>Applies the settings (once; later calls do nothing).</summary>
    public static void Configure()
    {
        if (Interlocked.Exchange(ref s_applied, 1) == 1) { return; }
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("AQA_KEEP_MALLOC") == "1") { return; }
        try
        {
            var ok = true;
            if (Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_") is null) { ok &= mallopt(MmapThreshold, 32 * 1024 * 1024) == 1; }
            if (Environment.GetEnvironmentVariable("MALLOC_TRIM_THRESHOLD_") is null) { ok &= mallopt(TrimThreshold, 1024 * 1024 * 1024) == 1; }
            if (Environment.GetEnvironmentVariable("MALLOC_TOP_PAD_") is null) { ok &= mallopt(TopPad, 256 * 1024 * 1024) == 1; }
            Applied = ok;
        }
        catch (EntryPointNotFoundException)
        {
            // not glibc (musl): leave the allocator as it is
        }
        catch (DllNotFoundException)
        {
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);
}
