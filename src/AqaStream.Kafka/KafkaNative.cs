using System.Reflection;
using System.Runtime.InteropServices;

namespace AqaStream.Kafka;

/// <summary>
/// Loads Debian's librdkafka for Confluent.Kafka. The binding's P/Invokes name <c>librdkafka</c> and its own loader
/// (<c>Library.Load</c>) looks for <c>libdl</c>, which Debian 12 no longer ships; a DllImport resolver maps the name to
/// <c>librdkafka.so.1</c> (package librdkafka1) instead. Call before any Confluent.Kafka type is used.
/// </summary>
public static class KafkaNative
{
    /// <summary>The shared object every Kafka client in the process uses.</summary>
    public const string LibraryName = "librdkafka.so.1";

    private static int s_registered;

    /// <summary>Registers the resolver once per process; throws a clear error when librdkafka is not installed.</summary>
    public static void EnsureLoaded()
    {
        if (Interlocked.Exchange(ref s_registered, 1) == 1) { return; }
        if (!NativeLibrary.TryLoad(LibraryName, out _))
        {
            Interlocked.Exchange(ref s_registered, 0);
            throw new DllNotFoundException($"{LibraryName} was not found: install Debian's librdkafka1 (tools/setup.sh does).");
        }
        NativeLibrary.SetDllImportResolver(typeof(Confluent.Kafka.Library).Assembly, Resolve);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) =>
        name.StartsWith("librdkafka", StringComparison.Ordinal) ? NativeLibrary.Load(LibraryName) : IntPtr.Zero;
}
