namespace AqaStream.Media.Decoding;

/// <summary>Finds the ffmpeg executable (Debian's package; <c>AQA_FFMPEG</c> overrides the path).</summary>
public static class Ffmpeg
{
    /// <summary>Full path of ffmpeg, or a clear error saying how to install it.</summary>
    public static string Executable { get; } = Locate();

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable("AQA_FFMPEG") is { Length: > 0 } configured) { return configured; }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(Path.PathSeparator))
        {
            var candidate = Path.Combine(dir, "ffmpeg");
            if (File.Exists(candidate)) { return candidate; }
        }
        return "ffmpeg";
    }

    /// <summary>Throws when ffmpeg is not installed.</summary>
    public static void EnsureAvailable()
    {
        if (Path.IsPathRooted(Executable) && File.Exists(Executable)) { return; }
        throw new InvalidOperationException("ffmpeg was not found on PATH: install it with tools/setup.sh (apt-get install ffmpeg) or set AQA_FFMPEG.");
    }
}
