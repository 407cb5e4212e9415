using System.Globalization;

namespace AqaStream.Cli.Commands;

/// <summary>One progress line on stderr: rewritten in place on a terminal, every 10 % otherwise (logs stay short).</summary>
internal sealed class ProgressBar(int total, string unit)
{
    private readonly DateTime _start = DateTime.UtcNow;
    private readonly Lock _gate = new();
    private int _lastDecile = -1;

    /// <summary>Shows <paramref name="done"/> of the total, with an optional <paramref name="detail"/>.</summary>
    public void Report(int done, string? detail = null)
    {
        var seconds = (DateTime.UtcNow - _start).TotalSeconds;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"[{new string('#', Math.Min(total, done) * 30 / Math.Max(1, total)),-30}] {done}/{total} {unit}{(detail is null ? "" : ", " + detail)}, {seconds:F1} s");
        lock (_gate)
        {
            if (!Console.IsErrorRedirected)
            {
                Console.Error.Write("\r" + line);
                return;
            }
            var decile = done * 10 / Math.Max(1, total);
            if (decile != _lastDecile)
            {
                _lastDecile = decile;
                Console.Error.WriteLine(line);
            }
        }
    }

    /// <summary>Ends the line.</summary>
    public void Done()
    {
        if (!Console.IsErrorRedirected) { Console.Error.WriteLine(); }
    }
}
