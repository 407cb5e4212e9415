using System.Diagnostics;
using System.Text.Json;
using AqaStream.Tests.Shared;
using Xunit;

namespace AqaStream.Scoring.Tests;

/// <summary>Runs a reference script of tools/reference with Debian's python3 on a JSON input and returns its JSON
/// output: the independent route the parity tests compare with.</summary>
internal static class ReferenceScript
{
    public static JsonElement Run(string script, object input)
    {
        using var dir = new TempDirectory();
        var path = dir.File("input.json");
        File.WriteAllText(path, JsonSerializer.Serialize(input));
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(RepositoryRoot.Path, "tools", "reference", script));
        psi.ArgumentList.Add(path);
        using var process = Process.Start(psi)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{script} failed (is python3 with numpy and torch installed? run tools/setup.sh --with-torch): {stderr.GetAwaiter().GetResult()}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }
}
