using FFMpegCore;
using FFMpegCore.Pipes;

namespace AqaStream.Media.Decoding;

/// <summary>One ffmpeg command: options before the input (<c>-f mpegts -c:v h264</c>), options before the output, and
/// the output (raw bytes back through a pipe, or <see cref="OutputFile"/>). The input always comes through a pipe.</summary>
/// <param name="InputOptions">Global and input options (they precede <c>-i</c>).</param>
/// <param name="OutputOptions">Output options.</param>
/// <param name="OutputFile">A file (or pattern, with <c>-f segment</c>) to write instead of the output pipe.</param>
internal sealed record FfmpegCommand(IReadOnlyList<string> InputOptions, IReadOnlyList<string> OutputOptions, string? OutputFile = null);

/// <summary>
/// One ffmpeg run, driven by FFMpegCore (ARCHITECTURE.md): the input and the output go through FFMpegCore's pipes, its
/// stderr lines are kept (the tail, for error messages). Started ahead of its input, so that a pool hides the process
/// start-up: the pipe source waits until <see cref="RunAsync"/> hands it the bytes. Stopped (FFMpegCore's cancel: 'q',
/// then kill) when disposed before it ends.
/// </summary>
internal sealed class FfmpegProcess : IDisposable
{
    private const int StderrTailLines = 40;
    private readonly TaskCompletionSource<ReadOnlyMemory<byte>> _input = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<byte[]> _records = [];
    private readonly Task<FFMpegResult> _run;
    private int _recordBytes;
    private int _trailing;
    private int _used;

    static FfmpegProcess()
    {
        // FFMpegCore finds ffmpeg in this folder (Debian's package, or AQA_FFMPEG's directory).
        GlobalFFOptions.Configure(o => o.BinaryFolder = Path.GetDirectoryName(Ffmpeg.Executable) ?? "");
    }

    private FfmpegProcess(FfmpegCommand command)
    {
        var arguments = FFMpegArguments.FromPipeInput(new WaitingSource(_input.Task), o => o.WithCustomArgument(Join(command.InputOptions)));
        var processor = command.OutputFile is { } file
            ? arguments.OutputToFile(file, overwrite: true, o => o.WithCustomArgument(Join(command.OutputOptions)))
            : arguments.OutputToPipe(new StreamPipeSink(ReadRecordsAsync), o => o.WithCustomArgument(Join(command.OutputOptions)));
        _run = processor.CancellableThrough(_stop.Token, TimeSpan.Zero).ProcessAsynchronously(throwOnError: false);
    }

    /// <summary>Whether the run has already ended (a pooled one that died while idle). The run's task completes a
    /// little after the process itself exits, so a process killed a moment ago may still say false here.</summary>
    public bool HasExited => _run.IsCompleted;

    /// <summary>Starts ffmpeg for <paramref name="command"/>; it waits for its input.</summary>
    public static FfmpegProcess Start(FfmpegCommand command)
    {
        Ffmpeg.EnsureAvailable();
        return new FfmpegProcess(command);
    }

    /// <summary>Feeds <paramref name="input"/>, collects the output pipe cut into records of <paramref name="recordBytes"/>
    /// (0: one record holding everything), and waits for the exit.</summary>
    public async Task<FfmpegOutput> RunAsync(ReadOnlyMemory<byte> input, int recordBytes, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _used, 1) != 0) { throw new InvalidOperationException("An ffmpeg process runs once."); }
        using var kill = cancellationToken.Register(Stop);
        Volatile.Write(ref _recordBytes, recordBytes);
        _input.TrySetResult(input);
        FFMpegResult result;
        try
        {
            result = await _run.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The process layer itself failed (it could not start, or it lost the process): a failed run with the
            // reason, so the chunk becomes a dead letter instead of stopping the ingest.
            return new FfmpegOutput([], 0, -1, "", $"ffmpeg could not be run: {e.GetBaseException().Message}");
        }
        cancellationToken.ThrowIfCancellationRequested();
        var stderr = string.Join('\n', result.StandardError.TakeLast(StderrTailLines));
        // FFMpegCore completes the run only after the output pipe's reader has returned: the records are all there.
        return new FfmpegOutput(_records, _trailing, result.ExitCode, stderr);
    }

    /// <summary>Reads the output pipe to its end. FFMpegCore cancels the token it passes here as soon as ffmpeg exits,
    /// which can be before the last frames are read; the pipe's end (ffmpeg closing it, or being killed) stops the
    /// read instead, so no frame is cut off.</summary>
    private async Task ReadRecordsAsync(Stream output, CancellationToken exitedOrCancelled)
    {
        _ = exitedOrCancelled;
        var size = Volatile.Read(ref _recordBytes);
        if (size == 0)
        {
            using var all = new MemoryStream();
            await output.CopyToAsync(all, CancellationToken.None).ConfigureAwait(false);
            _records.Add(all.ToArray());
            return;
        }
        while (true)
        {
            var record = new byte[size];
            var n = await output.ReadAtLeastAsync(record, size, throwOnEndOfStream: false, CancellationToken.None).ConfigureAwait(false);
            if (n < size)
            {
                _trailing = n;
                return;
            }
            _records.Add(record);
        }
    }

    private static string Join(IEnumerable<string> options) => string.Join(' ', options.Select(Quote));

    private static string Quote(string option) => option.Length > 0 && option.All(c => char.IsAsciiLetterOrDigit(c) || "-_+:=./%,*()".Contains(c))
        ? option : "\"" + option.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    /// <summary>FFMpegCore's cancel: 'q' on ffmpeg's stdin, then kill. A process that has just died (its run not yet
    /// completed) cannot take the 'q': the broken pipe says it has already stopped, which is what was asked.</summary>
    private void Stop()
    {
        try
        {
            _stop.Cancel();
        }
        catch (AggregateException e) when (e.InnerExceptions.All(x => x is IOException or InvalidOperationException))
        {
        }
        catch (IOException)
        {
        }
    }

    public void Dispose()
    {
        _input.TrySetCanceled();
        if (!_run.IsCompleted) { Stop(); }
        try { _run.Wait(1000); } catch (AggregateException) { }
        _stop.Dispose();
    }

    /// <summary>FFMpegCore's input pipe, fed once the chunk is there (the process starts before it).</summary>
    private sealed class WaitingSource(Task<ReadOnlyMemory<byte>> input) : IPipeSource
    {
        public string GetStreamArguments() => "";

        public async Task WriteAsync(Stream outputStream, CancellationToken cancellationToken)
        {
            var bytes = await input.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await outputStream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                await outputStream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException)
            {
                // ffmpeg stopped reading (it failed or was killed): its exit code and stderr say why.
            }
        }
    }
}

/// <summary>What one ffmpeg run produced.</summary>
/// <param name="Records">stdout cut into whole records (frames).</param>
/// <param name="TrailingBytes">Bytes after the last whole record (a torn frame).</param>
/// <param name="ExitCode">Process exit code (negative or above 128: killed by a signal).</param>
/// <param name="Stderr">The tail of its error output.</param>
/// <param name="Failure">Why the process could not be run at all (then <paramref name="ExitCode"/> is -1), or null.</param>
internal sealed record FfmpegOutput(IReadOnlyList<byte[]> Records, int TrailingBytes, int ExitCode, string Stderr, string? Failure = null)
{
    /// <summary>The last line ffmpeg wrote to stderr (or why it could not run), for error messages.</summary>
    public string LastError => Failure ?? (Stderr.Length == 0 ? "no message" : Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Trim());
}
