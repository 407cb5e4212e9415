using System.Diagnostics;

namespace AqaStream.Cli.Tests;

internal sealed record CliResult(int ExitCode, string Stdout, string Stderr);

/// <summary>Runs the real <c>aqa</c> binary, or the <c>./bench</c> entry's <c>aqa-bench</c> (both built beside the
/// tests), as a child process.</summary>
internal static class CliRunner
{
    public static CliResult Run(params string[] args) => Execute("aqa.dll", args);

    /// <summary>Runs a benchmark of the <c>./bench</c> entry (<c>aqa-bench.dll</c>).</summary>
    public static CliResult Bench(params string[] args) => Execute("aqa-bench.dll", args);

    private static CliResult Execute(string assembly, string[] args)
    {
        using var p = Process.Start(Info(args, assembly: assembly))!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return new CliResult(p.ExitCode, output, err.Result);
    }

    /// <summary>Starts a long-running command (serve); lines it prints are collected.</summary>
    public static RunningCli Start(params string[] args) => new(Process.Start(Info(args, RepositoryRoot.Path))!);

    private static ProcessStartInfo Info(string[] args, string? workingDirectory = null, string assembly = "aqa.dll")
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (workingDirectory is not null) { psi.WorkingDirectory = workingDirectory; }
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, assembly));
        foreach (var a in args) { psi.ArgumentList.Add(a); }
        return psi;
    }
}

/// <summary>A running <c>aqa</c> child process.</summary>
internal sealed class RunningCli : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];

    public RunningCli(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is { } l) { lock (_lines) { _lines.Add(l); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } l) { lock (_lines) { _lines.Add(l); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output { get { lock (_lines) { return string.Join('\n', _lines); } } }

    public bool HasExited => _process.HasExited;

    /// <summary>Waits until a line starting with <paramref name="prefix"/> was printed, or a log line whose message
    /// does (the console logger's one-line form: <c>info: CATEGORY[ID] MESSAGE</c>).</summary>
    public void WaitFor(string prefix, TimeSpan timeout) =>
        WaitFor(l => l.StartsWith(prefix, StringComparison.Ordinal) || l.Contains("] " + prefix, StringComparison.Ordinal), $"starting '{prefix}'", timeout);

    /// <summary>Waits until a printed line matches <paramref name="pattern"/>.</summary>
    public void WaitFor(System.Text.RegularExpressions.Regex pattern, TimeSpan timeout) =>
        WaitFor(pattern.IsMatch, $"matching /{pattern}/", timeout);

    private void WaitFor(Func<string, bool> matches, string what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            lock (_lines) { if (_lines.Any(matches)) { return; } }
            if (_process.HasExited || DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no line {what} (exited: {_process.HasExited}); output:\n{Output}");
            }
            Thread.Sleep(100);
        }
    }

    /// <summary>SIGTERM, then waits for a clean exit; returns the exit code.</summary>
    public int Stop()
    {
        if (!_process.HasExited) { Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit(); }
        if (!_process.WaitForExit(30_000)) { _process.Kill(); }
        // The overload without a timeout also waits until the redirected output has been read to its end (the timed
        // one does not, so the last lines, such as the shutdown summary, could still be missing from Output).
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited) { _process.Kill(); _process.WaitForExit(); }
        _process.Dispose();
    }
}
