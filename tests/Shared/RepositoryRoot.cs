namespace AqaStream.Tests.Shared;

/// <summary>The repository checkout the tests run from (linked into every test project that reads repository files).</summary>
internal static class RepositoryRoot
{
    /// <summary>The directory holding AqaStream.sln, found from the test binaries upwards.</summary>
    public static string Path { get; } = Find();

    /// <summary>
    /// The project's shared folder (papers, datasets) beside the checkout: <c>AQA_SHARED_DIR</c> when set, else
    /// <c>../shared</c> of this checkout, else <c>../shared</c> of the checkout it was cloned from (a fresh clone in
    /// another folder, as the fresh-machine check makes, still finds the real data).
    /// </summary>
    public static string SharedDirectory { get; } = FindShared();

    private static string FindShared()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("AQA_SHARED_DIR") is { Length: > 0 } env) { candidates.Add(env); }
        candidates.Add(System.IO.Path.Combine(Path, "..", "shared"));
        if (OriginCheckout() is { } origin) { candidates.Add(System.IO.Path.Combine(origin, "..", "shared")); }
        return candidates.Select(System.IO.Path.GetFullPath).FirstOrDefault(Directory.Exists)
            ?? throw new InvalidOperationException($"the shared folder (datasets) was not found; looked in {string.Join(", ", candidates)} (set AQA_SHARED_DIR).");
    }

    // The local checkout this one was cloned from (git config remote.origin.url), when it is a folder on this machine.
    private static string? OriginCheckout()
    {
        var config = System.IO.Path.Combine(Path, ".git", "config");
        if (!File.Exists(config)) { return null; }
        string? section = null;
        foreach (var raw in File.ReadLines(config))
        {
            var line = raw.Trim();
            if (line.StartsWith('[')) { section = line; continue; }
            if (section == "[remote \"origin\"]" && line.StartsWith("url", StringComparison.Ordinal) && line.Split('=', 2) is [_, var url])
            {
                var folder = url.Trim();
                if (folder.StartsWith("file://", StringComparison.Ordinal)) { folder = folder["file://".Length..]; }
                return Directory.Exists(folder) ? System.IO.Path.GetFullPath(folder) : null;
            }
        }
        return null;
    }

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "AqaStream.sln"))) { return dir.FullName; }
        }
        throw new InvalidOperationException("AqaStream.sln not found above " + AppContext.BaseDirectory);
    }
}
