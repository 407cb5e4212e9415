using System.CommandLine;
using AqaStream.Cli.Commands;
using AqaStream.Scoring.Data;

namespace AqaStream.Cli;

/// <summary>The <c>aqa</c> command: its sub-commands and the one place user errors become one-line messages.</summary>
public static class AqaApp
{
    /// <summary>Exit code for a user error (bad file, bad flag value).</summary>
    public const int UserError = 1;

    /// <summary>Parses and runs; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var root = new RootCommand("AqaStream: live action-quality scoring. Train, evaluate and run the interpretable weight-score scorer.")
        {
            TrainCommand.Create(),
            EvalCommand.Create(),
            PredictCommand.Create(),
            ReplayCommand.Create(),
            BenchCommand.Create(),
            BenchmarkCommand.Create(),
            SynthCommand.Create(),
            EncodeCommand.Create(),
            DemoCommand.Create(),
            ServeCommand.Create(),
            KafkaMockCommand.Create(),
        };
        return root.Parse(args).Invoke(new InvocationConfiguration
        {
            EnableDefaultExceptionHandler = false,
            // Long-running commands (demo) stop cleanly on SIGINT/SIGTERM themselves; System.CommandLine's own
            // handler races with a command that has already finished (InvalidOperationException on exit).
            ProcessTerminationTimeout = null,
        });
    }

    /// <summary>Runs a command body, turning the errors a user can cause into one line on stderr and a non-zero exit.</summary>
    public static int Guarded(Func<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return body();
        }
        catch (Exception e) when (e is DataFormatException or ArgumentException or IOException or UnauthorizedAccessException
            or InvalidOperationException or System.ComponentModel.Win32Exception or OperationCanceledException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return UserError;
        }
    }
}
