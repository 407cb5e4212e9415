using System.Diagnostics;
using System.Text;

namespace AqaStream.Media.Decoding;

/// <summary>
/// One ffmpeg run driven through pipes (ARCHITECTURE.md): stderr is drained from the start, stdin is written on its own
/// task and closed to flush, stdout is read in whole frames. Started ahead of its input so that a pool can hide the
/// process start-up; killed (with its children) when disposed before it exits.
/// </summary>
internal sealed class FfmpegProcess : IDisposable
{
    private const int StderrTailChars = 2000;
    private readonly Process _process;
    private readonly Task<string> _stderr;
    private int _used;

    private FfmpegProcess(Process process)
    {
        _process = process;
        _stderr = ReadTailAsync(process.StandardError);
    }

    /// <summary>The operating-system process id.</summary>
    public int Id => _process.Id;

    /// <summary>Whether the process has already ended (a pooled one that died while idle).</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Starts ffmpeg with <paramref name="arguments"/>; it waits on stdin.</summary>
    public static FfmpegProcess Start(IEnumerable<string> arguments)
    {
        Ffmpeg.EnsureAvailable();
        var info = new ProcessStartInfo(Ffmpeg.Executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments) { info.ArgumentList.Add(a); }
        var process = Process.Start(info) ?? throw new InvalidOperationException("ffmpeg did not start.");
        return new FfmpegProcess(process);
    }

    /// <summary>Feeds <paramref name="input"/>, collects stdout cut into records of <paramref name="recordBytes"/>
    /// (0: one record holding everything), and waits for the exit.</summary>
    public async Task<FfmpegOutput> RunAsync(ReadOnlyMemory<byte> input, int recordBytes, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _used, 1) != 0) { throw new InvalidOperationException("An ffmpeg process runs once."); }
        using var kill = cancellationToken.Register(Kill);
        var write = WriteAsync(input);
        var records = new List<byte[]>();
        var trailing = 0;
        var stdout = _process.StandardOutput.BaseStream;
        if (recordBytes == 0)
        {
            using var all = new MemoryStream();
            await stdout.CopyToAsync(all, CancellationToken.None).ConfigureAwait(false);
            records.Add(all.ToArray());
        }
        else
        {
            while (true)
            {
                var record = new byte[recordBytes];
                var n = await stdout.ReadAtLeastAsync(record, recordBytes, throwOnEndOfStream: false, CancellationToken.None).ConfigureAwait(false);
                if (n == recordBytes) { records.Add(record); continue; }
                trailing = n;
                break;
            }
        }
        await write.ConfigureAwait(false);
        await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        var stderr = await _stderr.ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return new FfmpegOutput(records, trailing, _process.ExitCode, stderr.Trim());
    }

    private async Task WriteAsync(ReadOnlyMemory<byte> input)
    {
        await Task.Yield();
        var stdin = _process.StandardInput.BaseStream;
        try
        {
            await stdin.WriteAsync(input, CancellationToken.None).ConfigureAwait(false);
            await stdin.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // ffmpeg stopped reading (it failed or was killed): its exit code and stderr say why.
        }
        finally
        {
            try { stdin.Close(); } catch (IOException) { }
        }
    }

    private static async Task<string> ReadTailAsync(StreamReader reader)
    {
        var tail = new StringBuilder();
        var buffer = new char[4096];
        int n;
        while ((n = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            tail.Append(buffer, 0, n);
            if (tail.Length > 4 * StderrTailChars) { tail.Remove(0, tail.Length - StderrTailChars); }
        }
        return tail.Length > StderrTailChars ? tail.ToString(tail.Length - StderrTailChars, StderrTailChars) : tail.ToString();
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited) { _process.Kill(entireProcessTree: true); }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public void Dispose()
    {
        Kill();
        try { _process.WaitForExit(1000); } catch (InvalidOperationException) { }
        _process.Dispose();
    }
}

/// <summary>What one ffmpeg run produced.</summary>
/// <param name="Records">stdout cut into whole records (frames).</param>
/// <param name="TrailingBytes">Bytes after the last whole record (a torn frame).</param>
/// <param name="ExitCode">Process exit code (negative or above 128: killed by a signal).</param>
/// <param name="Stderr">The tail of its error output.</param>
internal sealed record FfmpegOutput(IReadOnlyList<byte[]> Records, int TrailingBytes, int ExitCode, string Stderr)
{
    /// <summary>The last line ffmpeg wrote to stderr, for error messages.</summary>
    public string LastError => Stderr.Length == 0 ? "no message" : Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Trim();
}
