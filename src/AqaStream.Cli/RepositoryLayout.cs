namespace AqaStream.Cli;

/// <summary>Finds files that ship with the repository (the PyTorch reference scripts) from the running binary.</summary>
internal static class RepositoryLayout
{
    /// <summary>The repository root: the nearest ancestor of the binary holding AqaStream.sln.</summary>
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "AqaStream.sln"))) { return dir.FullName; }
        }
        throw new InvalidOperationException("Cannot find the repository root (AqaStream.sln) above the aqa binary; run it through ./aqa.");
    }

    /// <summary>The shipped model trained on the synthetic benchmark (relative to the repository root, where ./aqa runs).</summary>
    public const string SynthDemoModel = "models/synth-demo.safetensors";

    /// <summary>The PyTorch reference scripts.</summary>
    public static string ReferenceScripts() => Path.Combine(Root(), "tools", "reference");
}
