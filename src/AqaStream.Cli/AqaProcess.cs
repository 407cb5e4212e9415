using System.Reflection;

namespace AqaStream.Cli;

/// <summary>How to start another <c>aqa</c> process like this one (the apphost, or <c>dotnet aqa.dll</c>).</summary>
internal static class AqaProcess
{
    /// <summary>The executable and the argument prefix (the assembly path when run through <c>dotnet</c>).</summary>
    public static (string FileName, string ArgumentPrefix) Self()
    {
        var path = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell where the aqa executable is.");
        if (Path.GetFileNameWithoutExtension(path) == "dotnet")
        {
            var assembly = Assembly.GetEntryAssembly()?.Location ?? throw new InvalidOperationException("cannot tell where aqa.dll is.");
            return (path, $"\"{assembly}\" ");
        }
        return (path, "");
    }
}
