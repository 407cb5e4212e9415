namespace AqaStream.Tests.Shared;

/// <summary>The repository checkout the tests run from (linked into every test project that reads repository files).</summary>
internal static class RepositoryRoot
{
    /// <summary>The directory holding AqaStream.sln, found from the test binaries upwards.</summary>
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "AqaStream.sln"))) { return dir.FullName; }
        }
        throw new InvalidOperationException("AqaStream.sln not found above " + AppContext.BaseDirectory);
    }
}
