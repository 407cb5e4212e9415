using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using AqaStream.Media.Decoding;
using AqaStream.Media.Features;
using AqaStream.Media.Windowing;
using AqaStream.Scoring.Data;

namespace AqaStream.Media.Synthetic;

/// <summary>Options of <c>aqa synth</c>.</summary>
public sealed record SyntheticDatasetOptions
{
    /// <summary>Performances to generate.</summary>
    public int Count { get; init; } = 400;

    /// <summary>Seed of everything (performance i uses a seed derived from it).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Share of performances listed in test.txt (the rest in train.txt).</summary>
    public double TestFraction { get; init; } = 0.2;

    /// <summary>How the videos are encoded (the dataset defaults to a smaller picture than live: features are
    /// computed at the extractor's size either way).</summary>
    public VenueEncoderOptions Encoder { get; init; } = new() { Size = new FrameSize(320, 180), Preset = "veryfast", Threads = 1 };

    /// <summary>Clip windowing.</summary>
    public ClipWindowOptions Window { get; init; } = new();

    /// <summary>Performances generated at once.</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;
}

/// <summary>Per-clip truth of a synthetic performance (<c>truth/{id}.json</c>).</summary>
public sealed record SyntheticTruth(string PerformanceId, string Athlete, int Seed, double Skill, double DurationSeconds, double JudgesScore,
    IReadOnlyList<SyntheticElement> Elements, IReadOnlyList<ClipTruth> Clips)
{
    /// <summary>snake_case JSON, enums as strings.</summary>
    public static JsonSerializerOptions Json { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    /// <summary>The truth of <paramref name="program"/> cut into clips by <paramref name="window"/>.</summary>
    public static SyntheticTruth Of(SyntheticProgram program, ClipWindowOptions window)
    {
        ArgumentNullException.ThrowIfNull(program);
        ArgumentNullException.ThrowIfNull(window);
        var clips = Enumerable.Range(0, window.ClipsIn(program.FrameCount(window.FramesPerSecond))).Select(k =>
        {
            long first = (long)k * window.Stride;
            var (difficulty, execution) = program.TruthOver(first, window.ClipFrames, window.FramesPerSecond);
            return new ClipTruth(k, window.SecondsAt(first), window.SecondsAt(first + window.ClipFrames), difficulty, execution);
        }).ToList();
        return new SyntheticTruth(program.PerformanceId, program.Athlete, program.Seed, program.Skill, program.DurationSeconds,
            program.JudgesScore(window.FramesPerSecond), program.Elements, clips);
    }

    /// <summary>Reads <paramref name="path"/>.</summary>
    public static SyntheticTruth Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<SyntheticTruth>(File.ReadAllText(path), Json) ?? throw new DataFormatException($"{path}: empty truth file.");
        }
        catch (JsonException e)
        {
            throw new DataFormatException($"{path}: not a synthetic truth file ({e.Message}).", e);
        }
    }
}

/// <summary>True difficulty and execution of one clip (means over its frames).</summary>
public sealed record ClipTruth(int Index, double Start, double End, double Difficulty, double Execution);

/// <summary>What <c>dataset.json</c> says about a generated dataset.</summary>
public sealed record SyntheticDatasetInfo(string Kind, string Extractor, int FeatureDim, int Count, int Seed, int ClipFrames, int Stride, int FramesPerSecond,
    string Size, string Container, string Score);

/// <summary>
/// Generates a synthetic benchmark through the real path: render → libx264 chunks → ffmpeg decode → clip windowing →
/// feature extraction. Lays it out like Fis-V (<c>features/{id}.npy</c>, <c>train.txt</c> and <c>test.txt</c> with
/// "id score score 0" lines) plus <c>truth/{id}.json</c> (per-clip difficulty and execution) and <c>dataset.json</c>.
/// </summary>
public static class SyntheticDataset
{
    /// <summary>Writes the dataset under <paramref name="directory"/>; reports performances done.</summary>
    public static async Task<SyntheticDatasetInfo> GenerateAsync(string directory, SyntheticDatasetOptions options, IProgress<int>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Count < 2) { throw new ArgumentException("--count must be at least 2."); }
        if (options.TestFraction is <= 0 or >= 1) { throw new ArgumentException("The test fraction must be between 0 and 1."); }
        options.Window.Validated();
        if (options.Window.FramesPerSecond != options.Encoder.FramesPerSecond) { throw new ArgumentException("The encoder and the windowing must use one frame rate."); }
        Directory.CreateDirectory(Path.Combine(directory, "features"));
        Directory.CreateDirectory(Path.Combine(directory, "truth"));
        var extractor = new MotionAppearanceDescriptor();
        using var decoder = new FfmpegChunkDecoder(extractor.InputSize, new ChunkDecoderOptions { PoolSize = options.Parallelism });
        var encoder = new SyntheticEncoder(options.Encoder);
        var scores = new double[options.Count];
        var done = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, options.Count), new ParallelOptions { MaxDegreeOfParallelism = options.Parallelism, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var program = SyntheticProgram.Generate(PerformanceSeed(options.Seed, i), Id(i));
                var truth = await RenderAsync(program, encoder, decoder, extractor, options.Window, Path.Combine(directory, "features", program.PerformanceId + ".npy"), ct).ConfigureAwait(false);
                await File.WriteAllTextAsync(Path.Combine(directory, "truth", program.PerformanceId + ".json"), JsonSerializer.Serialize(truth, SyntheticTruth.Json) + "\n", ct).ConfigureAwait(false);
                scores[i] = truth.JudgesScore;
                progress?.Report(Interlocked.Increment(ref done));
            }).ConfigureAwait(false);

        var testCount = Math.Max(1, (int)Math.Round(options.Count * options.TestFraction));
        var order = Enumerable.Range(0, options.Count).ToArray();
        new Random(options.Seed).Shuffle(order);
        var test = order.Take(testCount).Order().ToList();
        var train = order.Skip(testCount).Order().ToList();
        string Line(int i) => string.Create(CultureInfo.InvariantCulture, $"{Id(i)} {scores[i]:F3} {scores[i]:F3} 0");
        await File.WriteAllLinesAsync(Path.Combine(directory, "train.txt"), train.Select(Line), cancellationToken).ConfigureAwait(false);
        await File.WriteAllLinesAsync(Path.Combine(directory, "test.txt"), test.Select(Line), cancellationToken).ConfigureAwait(false);
        await File.WriteAllLinesAsync(Path.Combine(directory, "test_ids.txt"), test.Select(Id), cancellationToken).ConfigureAwait(false);
        var info = new SyntheticDatasetInfo("synthetic", extractor.Name, extractor.Dimension, options.Count, options.Seed, options.Window.ClipFrames, options.Window.Stride,
            options.Window.FramesPerSecond, options.Encoder.Size.ToString(), options.Encoder.Container,
            "difficulty-weighted mean execution, 100·Σd·e/Σd over frames (TES and PCS columns both hold it)");
        await File.WriteAllTextAsync(Path.Combine(directory, "dataset.json"), JsonSerializer.Serialize(info, SyntheticTruth.Json) + "\n", cancellationToken).ConfigureAwait(false);
        return info;
    }

    /// <summary>Encodes, decodes, windows and featurises one program; writes its features; returns its truth.</summary>
    public static async Task<SyntheticTruth> RenderAsync(SyntheticProgram program, SyntheticEncoder encoder, IChunkDecoder decoder, IClipFeatureExtractor extractor,
        ClipWindowOptions window, string featuresPath, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(program);
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(extractor);
        var windower = new ClipWindower(window);
        var rows = new List<float[]>();
        var container = encoder.Options.Container;
        var encoded = encoder.Options.Container == "mpegts"
            ? await encoder.EncodeAllAsync(program, cancellationToken).ConfigureAwait(false)
            : await encoder.EncodeAsync(program, cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
        foreach (var chunk in encoded)
        {
            byte[] bytes = chunk.InitSegment is { } init ? [.. init, .. chunk.Bytes] : chunk.Bytes;
            var frames = await decoder.DecodeAsync(new EncodedChunk(container, "h264", bytes, chunk.FrameCount), cancellationToken).ConfigureAwait(false);
            if (frames.Count != chunk.FrameCount)
            {
                throw new InvalidOperationException($"{program.PerformanceId} chunk {chunk.SequenceNumber}: decoded {frames.Count} frames of {chunk.FrameCount}.");
            }
            foreach (var clip in windower.Add(new DecodedChunk(program.PerformanceId, chunk.SequenceNumber, chunk.FirstFrame, frames, DateTimeOffset.UnixEpoch)))
            {
                if (clip.ClipIndex != rows.Count) { throw new InvalidOperationException($"{program.PerformanceId}: clip {clip.ClipIndex} out of order."); }
                rows.Add(await extractor.ExtractAsync(clip, cancellationToken).ConfigureAwait(false));
            }
        }
        var data = new float[rows.Count * extractor.Dimension];
        for (var r = 0; r < rows.Count; r++) { rows[r].CopyTo(data, r * extractor.Dimension); }
        NpyWriter.Write(featuresPath, data, rows.Count, extractor.Dimension);
        var truth = SyntheticTruth.Of(program, window);
        if (truth.Clips.Count != rows.Count)
        {
            throw new InvalidOperationException($"{program.PerformanceId}: {rows.Count} clips featurised, the program's length gives {truth.Clips.Count}.");
        }
        return truth;
    }

    /// <summary>Id of performance <paramref name="index"/>.</summary>
    public static string Id(int index) => string.Create(CultureInfo.InvariantCulture, $"synth-{index:D4}");

    /// <summary>Seed of performance <paramref name="index"/> of a dataset seeded <paramref name="seed"/>.</summary>
    public static int PerformanceSeed(int seed, int index) => unchecked((seed * 1_000_003) + index);
}
