using System.Globalization;
using System.Runtime.CompilerServices;
using AqaStream.Media.Decoding;

namespace AqaStream.Media.Synthetic;

/// <summary>Options of the synthetic venue encoder.</summary>
public sealed record VenueEncoderOptions
{
    /// <summary>Picture size.</summary>
    public FrameSize Size { get; init; } = new(1280, 720);

    /// <summary>Frame rate.</summary>
    public int FramesPerSecond { get; init; } = 25;

    /// <summary>Chunk length in seconds (each chunk starts on a key frame and decodes alone).</summary>
    public double ChunkSeconds { get; init; } = 2.0;

    /// <summary>"mpegts", "cmaf" (init segment + .m4s fragment) or "mp4" (self-contained fragmented MP4).</summary>
    public string Container { get; init; } = "mpegts";

    /// <summary>libx264 preset.</summary>
    public string Preset { get; init; } = "veryfast";

    /// <summary>Encoder threads (0: ffmpeg's choice).</summary>
    public int Threads { get; init; }

    /// <summary>Frames per chunk.</summary>
    public int ChunkFrames => (int)Math.Round(ChunkSeconds * FramesPerSecond);

    /// <summary>Checks the values.</summary>
    public VenueEncoderOptions Validated()
    {
        if (!FfmpegChunkDecoder.Demuxers.ContainsKey(Container)) { throw new ArgumentException($"Container '{Container}' is not one of mpegts, cmaf, mp4."); }
        if (FramesPerSecond < 1 || ChunkFrames < 1) { throw new ArgumentException("Frame rate and chunk length must be positive."); }
        return this;
    }
}

/// <summary>One encoded chunk of a synthetic performance.</summary>
/// <param name="SequenceNumber">0-based.</param>
/// <param name="FirstFrame">Index of its first frame in the performance.</param>
/// <param name="FrameCount">Frames in it.</param>
/// <param name="StartSeconds">Seconds from the performance start.</param>
/// <param name="DurationSeconds">Seconds.</param>
/// <param name="Bytes">The chunk (for CMAF, the .m4s fragment).</param>
/// <param name="InitSegment">For CMAF, the init segment (ftyp + moov); otherwise null.</param>
public sealed record EncodedVideoChunk(long SequenceNumber, long FirstFrame, int FrameCount, double StartSeconds, double DurationSeconds, byte[] Bytes, byte[]? InitSegment);

/// <summary>
/// The synthetic venue encoder: renders a <see cref="SyntheticProgram"/> and encodes it with ffmpeg (libx264) into
/// independent chunks, the way a venue's live encoder does: each chunk is its own closed GOP starting on a key frame
/// (ARCHITECTURE.md's settings), MPEG-TS chunks carry continuous timestamps, MP4/CMAF chunks restart theirs.
/// </summary>
public sealed class SyntheticEncoder(VenueEncoderOptions options)
{
    private readonly VenueEncoderOptions _options = options.Validated();

    /// <summary>The options in use.</summary>
    public VenueEncoderOptions Options => _options;

    /// <summary>Encodes the whole program, chunk after chunk (a chunk is yielded as soon as it is encoded).</summary>
    public async IAsyncEnumerable<EncodedVideoChunk> EncodeAsync(SyntheticProgram program, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(program);
        var scene = new SyntheticScene(program, _options.Size);
        var total = program.FrameCount(_options.FramesPerSecond);
        var perChunk = _options.ChunkFrames;
        for (long seq = 0, first = 0; first < total; seq++, first += perChunk)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = (int)Math.Min(perChunk, total - first);
            var raw = new byte[count * scene.FrameBytes];
            for (var i = 0; i < count; i++)
            {
                scene.Render((first + i) / (double)_options.FramesPerSecond, raw.AsSpan(i * scene.FrameBytes, scene.FrameBytes));
            }
            var start = first / (double)_options.FramesPerSecond;
            var bytes = await EncodeAsync(raw, start, cancellationToken).ConfigureAwait(false);
            byte[]? init = null;
            if (_options.Container == "cmaf") { (init, bytes) = Mp4Boxes.SplitInit(bytes); }
            yield return new EncodedVideoChunk(seq, first, count, start, count / (double)_options.FramesPerSecond, bytes, init);
        }
    }

    /// <summary>
    /// Encodes the whole program in one ffmpeg run cut by the segment muxer into the same independent MPEG-TS chunks
    /// (key frame at every chunk start, continuous timestamps): one process instead of one per chunk, for offline
    /// datasets where no chunk is waited for.
    /// </summary>
    public async Task<IReadOnlyList<EncodedVideoChunk>> EncodeAllAsync(SyntheticProgram program, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(program);
        if (_options.Container != "mpegts") { throw new InvalidOperationException("Whole-program encoding writes MPEG-TS chunks only."); }
        var scene = new SyntheticScene(program, _options.Size);
        var total = program.FrameCount(_options.FramesPerSecond);
        var raw = new byte[total * scene.FrameBytes];
        for (var f = 0; f < total; f++)
        {
            scene.Render(f / (double)_options.FramesPerSecond, raw.AsSpan(f * scene.FrameBytes, scene.FrameBytes));
        }
        var dir = Directory.CreateTempSubdirectory("aqa-encode-");
        try
        {
            var seconds = _options.ChunkSeconds.ToString("R", CultureInfo.InvariantCulture);
            var x264 = X264Arguments();
            var command = x264 with
            {
                OutputOptions =
                [
                    .. x264.OutputOptions, "-flags", "+cgop",
                    "-force_key_frames", $"expr:gte(t,n_forced*{seconds})",
                    "-f", "segment", "-segment_time", seconds, "-segment_format", "mpegts", "-reset_timestamps", "0",
                ],
                OutputFile = Path.Combine(dir.FullName, "chunk-%05d.ts"),
            };
            using (var process = FfmpegProcess.Start(command))
            {
                var output = await process.RunAsync(raw, 0, cancellationToken).ConfigureAwait(false);
                if (output.ExitCode != 0) { throw new InvalidOperationException($"ffmpeg could not encode {program.PerformanceId} (exit {output.ExitCode}): {output.LastError}"); }
            }
            var files = dir.GetFiles("chunk-*.ts").OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
            var chunks = new List<EncodedVideoChunk>(files.Count);
            var perChunk = _options.ChunkFrames;
            for (var i = 0; i < files.Count; i++)
            {
                long first = (long)i * perChunk;
                var count = (int)Math.Min(perChunk, total - first);
                chunks.Add(new EncodedVideoChunk(i, first, count, first / (double)_options.FramesPerSecond, count / (double)_options.FramesPerSecond,
                    await File.ReadAllBytesAsync(files[i].FullName, cancellationToken).ConfigureAwait(false), null));
            }
            if (chunks.Count != (total + perChunk - 1) / perChunk)
            {
                throw new InvalidOperationException($"ffmpeg cut {program.PerformanceId} into {chunks.Count} chunks, expected {(total + perChunk - 1) / perChunk}.");
            }
            return chunks;
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    // Raw YUV frames through the input pipe into libx264 with one closed GOP per chunk (ARCHITECTURE.md's
    // independent-chunk settings).
    private FfmpegCommand X264Arguments()
    {
        var gop = _options.ChunkFrames.ToString(CultureInfo.InvariantCulture);
        return new FfmpegCommand(
        [
            "-hide_banner", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", _options.Size.ToString(),
            "-r", _options.FramesPerSecond.ToString(CultureInfo.InvariantCulture),
        ],
        [
            "-c:v", "libx264", "-preset", _options.Preset, "-pix_fmt", "yuv420p",
            "-threads", _options.Threads.ToString(CultureInfo.InvariantCulture),
            "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
        ]);
    }

    private async Task<byte[]> EncodeAsync(byte[] raw, double startSeconds, CancellationToken cancellationToken)
    {
        var x264 = X264Arguments();
        var args = x264 with
        {
            OutputOptions = _options.Container == "mpegts"
                ? [.. x264.OutputOptions, "-flags", "+cgop", "-output_ts_offset", startSeconds.ToString("R", CultureInfo.InvariantCulture), "-f", "mpegts"]
                : [.. x264.OutputOptions, "-flags", "+cgop+global_header", "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-f", "mp4"],
        };
        using var process = FfmpegProcess.Start(args);
        var output = await process.RunAsync(raw, 0, cancellationToken).ConfigureAwait(false);
        if (output.ExitCode != 0 || output.Records[0].Length == 0)
        {
            throw new InvalidOperationException($"ffmpeg could not encode the chunk (exit {output.ExitCode}): {output.LastError}");
        }
        return output.Records[0];
    }
}

/// <summary>Top-level MP4 boxes, enough to cut a fragmented MP4 into its init segment and its fragment.</summary>
public static class Mp4Boxes
{
    /// <summary>Splits a self-contained fragmented MP4 after its <c>moov</c> box.</summary>
    public static (byte[] Init, byte[] Fragment) SplitInit(byte[] mp4)
    {
        ArgumentNullException.ThrowIfNull(mp4);
        var offset = 0;
        while (offset + 8 <= mp4.Length)
        {
            var size = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(mp4.AsSpan(offset, 4));
            var type = System.Text.Encoding.ASCII.GetString(mp4, offset + 4, 4);
            if (size < 8 || offset + size > mp4.Length) { break; }
            offset += (int)size;
            if (type == "moov") { return (mp4[..offset], mp4[offset..]); }
        }
        throw new InvalidOperationException("The encoder's MP4 output has no moov box.");
    }
}
