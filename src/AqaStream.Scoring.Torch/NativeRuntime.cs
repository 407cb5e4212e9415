using System.Runtime.InteropServices;

namespace AqaStream.Scoring.Torch;

/// <summary>
/// Process settings for libtorch on CPU, applied once before the first model is built.
/// <para><b>Reproducible GEMMs.</b> libtorch's bundled oneMKL picks kernels by the memory alignment of its operands, so
/// the same training run gave weights differing in the last bits from one run to the next once the allocator reused
/// memory. <c>MKL_CBWR=AUTO</c> (MKL's conditional numerical reproducibility) makes a seed give bit-identical weights
/// for a given CPU and thread count; it is set here unless the environment already sets <c>MKL_CBWR</c>.</para>
/// <para><b>glibc malloc</b> for libtorch's CPU tensors. By default glibc serves every block over its (dynamic) mmap
/// threshold with a fresh mmap and returns it with munmap, so each multi-megabyte temporary of a batched step is
/// page-faulted and zeroed by the kernel again: a batched streaming step of 64 performances took 367 ms with the
/// defaults and 23 ms with these (16x; <c>./bench incremental</c>). Raising the mmap threshold to its maximum and
/// keeping freed memory in the heap (trim threshold, top pad) lets those blocks be reused. Applied once per process
/// before the first model is built; a no-op off glibc. The environment variables <c>MALLOC_MMAP_THRESHOLD_</c>,
/// <c>MALLOC_TRIM_THRESHOLD_</c> and <c>MALLOC_TOP_PAD_</c>, where set, win (set <c>AQA_KEEP_MALLOC=1</c> to skip this).</para>
/// </summary>
public static partial class NativeRuntime
{
    private const int TrimThreshold = -1;
    private const int TopPad = -2;
    private const int MmapThreshold = -3;
    private static int s_applied;

    /// <summary>Whether the malloc settings were applied in this process.</summary>
    public static bool Applied { get; private set; }

    /// <summary>Runs when this assembly loads, before any of its types touch libtorch.</summary>
#pragma warning disable CA2255 // MKL reads MKL_CBWR on its first call: it must be set before any code of ours touches libtorch.
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void OnLoad() => Configure();
#pragma warning restore CA2255

    /// <summary>Applies the settings (once; later calls do nothing).</summary>
    public static void Configure()
    {
        if (Interlocked.Exchange(ref s_applied, 1) == 1) { return; }
        if (!OperatingSystem.IsLinux()) { return; }
        try
        {
            // The native environment (MKL reads it on its first call); .NET's Environment only changes its own copy.
            if (Environment.GetEnvironmentVariable("MKL_CBWR") is null) { _ = setenv("MKL_CBWR", "AUTO", 0); }
            if (Environment.GetEnvironmentVariable("AQA_KEEP_MALLOC") == "1") { return; }
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

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int mallopt(int param, int value);
}
