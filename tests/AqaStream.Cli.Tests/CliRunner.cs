using System.Diagnostics;

namespace AqaStream.Cli.Tests;

internal sealed record CliResult(int ExitCode, string Stdout, string Stderr);

/// <summary>Runs the real <c>aqa</c> binary (built beside the tests) as a child process.</summary>
internal static class CliRunner
{
    public static CliResult Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "aqa.dll"));
        foreach (var a in args) { psi.ArgumentList.Add(a); }
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return new CliResult(p.ExitCode, output, err.Result);
    }
}
