namespace AqaStream.Bench;

/// <summary>How to start the product's <c>aqa</c> CLI from a benchmark: its <c>aqa.dll</c> is built beside the bench
/// binary (the bench project references the CLI), and runs through <c>dotnet</c>.</summary>
internal static class AqaProcess
{
    /// <summary>The executable (<c>dotnet</c>) and the argument prefix (the quoted path of <c>aqa.dll</c> and a space).</summary>
    public static (string FileName, string ArgumentPrefix) Cli()
    {
        var assembly = Path.Combine(AppContext.BaseDirectory, "aqa.dll");
        if (!File.Exists(assembly)) { throw new InvalidOperationException($"cannot find the aqa CLI beside the bench binary ({assembly}); build through ./bench."); }
        return ("dotnet", $"\"{assembly}\" ");
    }
}
