using System.CommandLine;
using AqaStream.Cli.Commands;
using AqaStream.Scoring.Data;

namespace AqaStream.Cli;

/// <summary>The <c>aqa</c> command: its sub-commands and the one place user errors become one-line messages.</summary>
public static class AqaApp
{
    /// <summary>Exit code for a user error (bad file, bad value found while running).</summary>
    public const int UserError = 1;

    /// <summary>Exit code for a command line that does not parse (unknown flag, missing or malformed value).</summary>
    public const int UsageError = 2;

    /// <summary>Parses and runs; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        // The libtorch methods' checkpoints (mlp-mean, gdlt, cofinal, tpt, qgvl, gdlt-ws) load through CheckpointStore everywhere.
        Scoring.Torch.TorchFormats.Register();
        var root = new RootCommand("AqaStream: live action-quality scoring. Train, evaluate and run the interpretable weight-score scorer.")
        {
            TrainCommand.Create(),
            EvalCommand.Create(),
            BaselinesCommand.Create(),
            PredictCommand.Create(),
            ReplayCommand.Create(),
            BenchmarkCommand.Create(),
            SynthCommand.Create(),
            EncodeCommand.Create(),
            DemoCommand.Create(),
            ServeCommand.Create(),
            KafkaMockCommand.Create(),
        };
        try
        {
            return Invoke(root, "aqa", args);
        }
        finally
        {
            AqaLogging.Shutdown();
        }
    }

    /// <summary>Parses <paramref name="args"/> against <paramref name="root"/> and runs the command: a command line that
    /// does not parse gives one line naming what was wrong (see <paramref name="displayName"/> CMD --help) and
    /// <see cref="UsageError"/>. Shared by <c>aqa</c> and the <c>./bench</c> entry.</summary>
    public static int Invoke(RootCommand root, string displayName, string[] args)
    {
        ArgumentNullException.ThrowIfNull(root);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // One line naming what was wrong (and the valid values where there is a fixed set), not the whole help.
            var names = new List<string>();
            for (var r = parsed.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            {
                names.Insert(0, r.Command == root ? displayName : r.Command.Name);
            }
            // An unknown word says more than the "required command" error it causes.
            var first = parsed.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? parsed.Errors[0];
            Console.Error.WriteLine($"error: {Describe(first, parsed.CommandResult.Command)} (see {string.Join(' ', names)} --help)");
            return UsageError;
        }
        return parsed.Invoke(new InvocationConfiguration
        {
            EnableDefaultExceptionHandler = false,
            // Long-running commands (demo) stop cleanly on SIGINT/SIGTERM themselves; System.CommandLine's own
            // handler races with a command that has already finished (InvalidOperationException on exit).
            ProcessTerminationTimeout = null,
        });
    }

    private static string Describe(System.CommandLine.Parsing.ParseError error, Command command)
    {
        var message = error.Message;
        var badValue = System.Text.RegularExpressions.Regex.Match(message, "^Cannot parse argument '(?<value>.*)' for option '(?<option>[^']+)'");
        if (badValue.Success)
        {
            var name = badValue.Groups["option"].Value;
            var option = command.Options.FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name));
            var type = option?.ValueType is { } t ? Nullable.GetUnderlyingType(t) ?? t : null;
            var valid = type is { IsEnum: true } ? $"; valid values: {string.Join(", ", Enum.GetNames(type))}"
                : type is not null ? $"; it takes {(type == typeof(int) ? "an integer" : type == typeof(double) || type == typeof(float) ? "a number" : type == typeof(bool) ? "true or false" : "a " + type.Name)}" : "";
            return $"{name}: '{badValue.Groups["value"].Value}' is not valid{valid}";
        }
        var unmatched = System.Text.RegularExpressions.Regex.Match(message, "^Unrecognized command or argument '(?<token>.*)'");
        if (unmatched.Success)
        {
            var commands = command.Subcommands.Select(c => c.Name).ToList();
            return commands.Count > 0 && !unmatched.Groups["token"].Value.StartsWith('-')
                ? $"unknown command '{unmatched.Groups["token"].Value}'; commands: {string.Join(", ", commands)}"
                : $"unknown option or argument '{unmatched.Groups["token"].Value}'";
        }
        return message.ReplaceLineEndings(" ").Trim().TrimEnd('.');
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
            or InvalidOperationException or System.ComponentModel.Win32Exception or OperationCanceledException or TimeoutException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return UserError;
        }
    }
}
