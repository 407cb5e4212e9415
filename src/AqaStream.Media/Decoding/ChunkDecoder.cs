using System.Collections.Concurrent;
using System.Globalization;

namespace AqaStream.Media.Decoding;

/// <summary>One chunk's encoded bytes as the decoder needs them (a CMAF fragment already has its init segment in front).</summary>
/// <param name="Container">mpegts, cmaf or mp4.</param>
/// <param name="Codec">h264 or hevc.</param>
/// <param name="Bytes">The chunk.</param>
/// <param name="ExpectedFrames">Frames the chunk must hold (duration × frame rate), when known: fewer means truncated.</param>
public sealed record EncodedChunk(string Container, string Codec, ReadOnlyMemory<byte> Bytes, int? ExpectedFrames = null);

/// <summary>A chunk that could not be decoded; <see cref="Exception.Message"/> says why (it goes to the dead letters).</summary>
public sealed class ChunkDecodeException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ChunkDecodeException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public ChunkDecodeException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public ChunkDecodeException() { }
}

/// <summary>Turns encoded chunks into grey frames of <see cref="FrameSize"/>.</summary>
public interface IChunkDecoder
{
    /// <summary>Size of the frames it produces.</summary>
    FrameSize FrameSize { get; }

    /// <summary>Decodes every frame of <paramref name="chunk"/>, or throws <see cref="ChunkDecodeException"/>.</summary>
    Task<IReadOnlyList<byte[]>> DecodeAsync(EncodedChunk chunk, CancellationToken cancellationToken = default);
}

/// <summary>Options of <see cref="FfmpegChunkDecoder"/>.</summary>
public sealed record ChunkDecoderOptions
{
    /// <summary>ffmpeg processes kept started and waiting per container, so a chunk never waits for a process start.</summary>
    public int PoolSize { get; init; } = 2;

    /// <summary>Decoder threads per ffmpeg process (1 uses the least CPU per frame when several streams share the cores).</summary>
    public int ThreadsPerProcess { get; init; } = 1;
}

/// <summary>
/// Decodes each chunk in its own ffmpeg process taken from a pool started ahead of time (a process per chunk decodes
/// every frame of the chunk at once, where a long-lived one per stream would hold its last frames back until the next
/// chunk arrives). MPEG-TS chunks decode alone; CMAF fragments come with their init segment; the declared codec is
/// forced on the decoder, so a stream in another codec fails instead of being guessed. Corrupt data fails the run
/// (<c>-xerror</c>): a chunk is all its frames or none.
/// </summary>
public sealed class FfmpegChunkDecoder : IChunkDecoder, IDisposable
{
    /// <summary>Containers it reads, with ffmpeg's demuxer for each.</summary>
    public static readonly IReadOnlyDictionary<string, string> Demuxers = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["mpegts"] = "mpegts",
        ["cmaf"] = "mp4",
        ["mp4"] = "mp4",
    };

    /// <summary>Codecs it decodes, with ffmpeg's decoder for each.</summary>
    public static readonly IReadOnlyDictionary<string, string> Decoders = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["h264"] = "h264",
        ["hevc"] = "hevc",
    };

    private readonly ChunkDecoderOptions _options;
    private readonly ConcurrentDictionary<(string Container, string Codec), ConcurrentQueue<FfmpegProcess>> _pools = new();
    private int _disposed;
    private long _retried;

    /// <summary>Creates the decoder and starts its first MPEG-TS/H.264 processes.</summary>
    public FfmpegChunkDecoder(FrameSize frameSize, ChunkDecoderOptions? options = null)
    {
        FrameSize = frameSize;
        _options = options ?? new ChunkDecoderOptions();
        if (_options.PoolSize < 0) { throw new ArgumentException("The decoder pool size cannot be negative."); }
        TopUp(("mpegts", "h264"));
    }

    /// <inheritdoc/>
    public FrameSize FrameSize { get; }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<byte[]>> DecodeAsync(EncodedChunk chunk, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (!Demuxers.ContainsKey(chunk.Container))
        {
            throw new ChunkDecodeException($"container '{chunk.Container}' is not supported (expected {string.Join(", ", Demuxers.Keys)}).");
        }
        if (!Decoders.ContainsKey(chunk.Codec))
        {
            throw new ChunkDecodeException($"codec '{chunk.Codec}' is not supported (expected {string.Join(", ", Decoders.Keys)}).");
        }
        if (chunk.Bytes.IsEmpty) { throw new ChunkDecodeException("the chunk is empty (0 bytes)."); }

        var key = (chunk.Container, chunk.Codec);
        var (process, pooled) = Take(key);
        TopUp(key);
        FfmpegOutput output;
        using (process)
        {
            output = await process.RunAsync(chunk.Bytes, FrameSize.Bytes, cancellationToken).ConfigureAwait(false);
            // A waiting process can be killed while idle (by an operator, the out-of-memory killer) a moment before it
            // is taken: the pool cannot see that yet, and the run ends by a signal before a single frame. That says
            // nothing about the chunk, so it runs once more on a new process. A chunk that makes ffmpeg fail fails
            // with an exit code instead; a process killed after frames came out is reported (the chunk is cut).
            if (pooled && output.Records.Count == 0 && (output.Failure is not null || output.ExitCode > 128 || output.ExitCode < 0))
            {
                Interlocked.Increment(ref _retried);
                using var fresh = FfmpegProcess.Start(Arguments(key));
                output = await fresh.RunAsync(chunk.Bytes, FrameSize.Bytes, cancellationToken).ConfigureAwait(false);
            }
        }
        if (output.Failure is { } failure)
        {
            throw new ChunkDecodeException($"{failure} ({chunk.Container}/{chunk.Codec}, {chunk.Bytes.Length} bytes).");
        }
        if (output.ExitCode != 0)
        {
            var how = output.ExitCode > 128 || output.ExitCode < 0
                ? string.Create(CultureInfo.InvariantCulture, $"ffmpeg was killed (exit {output.ExitCode})")
                : string.Create(CultureInfo.InvariantCulture, $"ffmpeg failed (exit {output.ExitCode}): {output.LastError}");
            throw new ChunkDecodeException($"{how}; {output.Records.Count} frames decoded before it stopped ({chunk.Container}/{chunk.Codec}, {chunk.Bytes.Length} bytes).");
        }
        if (output.TrailingBytes != 0)
        {
            throw new ChunkDecodeException(string.Create(CultureInfo.InvariantCulture, $"ffmpeg ended inside a frame ({output.TrailingBytes} of {FrameSize.Bytes} bytes)."));
        }
        if (output.Records.Count == 0)
        {
            throw new ChunkDecodeException($"no video frame in the chunk ({chunk.Container}/{chunk.Codec}, {chunk.Bytes.Length} bytes): {output.LastError}");
        }
        if (chunk.ExpectedFrames is { } expected && output.Records.Count != expected)
        {
            throw new ChunkDecodeException(string.Create(CultureInfo.InvariantCulture,
                $"decoded {output.Records.Count} frames where the chunk's duration says {expected}: truncated, or another frame rate."));
        }
        return output.Records;
    }

    /// <summary>Chunks that ran a second time because the waiting ffmpeg they took had died before reading them.</summary>
    public long Retried => Interlocked.Read(ref _retried);

    private (FfmpegProcess Process, bool Pooled) Take((string Container, string Codec) key)
    {
        var pool = _pools.GetOrAdd(key, _ => new ConcurrentQueue<FfmpegProcess>());
        while (pool.TryDequeue(out var process))
        {
            if (!process.HasExited) { return (process, true); }
            process.Dispose();
        }
        return (FfmpegProcess.Start(Arguments(key)), false);
    }

    private void TopUp((string Container, string Codec) key)
    {
        var pool = _pools.GetOrAdd(key, _ => new ConcurrentQueue<FfmpegProcess>());
        _ = Task.Run(() =>
        {
            while (_disposed == 0 && pool.Count < _options.PoolSize)
            {
                var process = FfmpegProcess.Start(Arguments(key));
                pool.Enqueue(process);
                if (_disposed != 0) { Drain(pool); }
            }
        });
    }

    private FfmpegCommand Arguments((string Container, string Codec) key) => Arguments(FrameSize, key.Container, key.Codec, _options.ThreadsPerProcess, strict: true);

    /// <summary>The ffmpeg command that decodes one piped input to grey frames on the output pipe; <paramref name="strict"/>
    /// stops at the first damaged packet.</summary>
    internal static FfmpegCommand Arguments(FrameSize frameSize, string container, string codec, int threads, bool strict) => new(
    [
        "-hide_banner", "-loglevel", "error", .. strict ? (string[])["-xerror"] : [],
        "-threads", threads.ToString(CultureInfo.InvariantCulture),
        "-f", Demuxers[container], "-c:v", Decoders[codec],
    ],
    [
        "-map", "0:v:0", "-an",
        "-vf", string.Create(CultureInfo.InvariantCulture, $"scale={frameSize.Width}:{frameSize.Height}:flags=area"),
        "-pix_fmt", "gray", "-fps_mode", "passthrough", "-f", "rawvideo",
    ]);

    private static void Drain(ConcurrentQueue<FfmpegProcess> pool)
    {
        while (pool.TryDequeue(out var p)) { p.Dispose(); }
    }

    /// <summary>Stops every waiting ffmpeg process.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) { return; }
        foreach (var pool in _pools.Values) { Drain(pool); }
    }
}
