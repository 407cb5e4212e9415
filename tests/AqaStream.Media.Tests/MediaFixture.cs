using System.Security.Cryptography;
using AqaStream.Media.Decoding;
using AqaStream.Media.Features;
using AqaStream.Media.Synthetic;
using Xunit;

[assembly: CollectionBehavior(DisableTestParallelization = true)]   // tests count this process's ffmpeg children

namespace AqaStream.Media.Tests;

/// <summary>A short synthetic performance (8 s: glide, double jump, spin) encoded once per test class.</summary>
public sealed class MediaFixture : IAsyncLifetime
{
    public static readonly FrameSize Size = new(320, 180);

    public static SyntheticProgram Program { get; } = new("p-test", "Test Skater", 11, 0.7, 8.0,
    [
        new SyntheticElement(ElementKind.Glide, 0, 2, 0, 0, SyntheticProgram.GlideDifficulty, 0.7),
        new SyntheticElement(ElementKind.Jump, 2, 2.2, 2, 0, 4.7, 0.6),
        new SyntheticElement(ElementKind.Spin, 4.2, 3.8, 0, 2, 4, 0.8),
    ], 90, 200);

    public IReadOnlyList<EncodedVideoChunk> TsChunks { get; private set; } = [];

    public IReadOnlyList<EncodedVideoChunk> CmafChunks { get; private set; } = [];

    /// <summary>A 40 s performance as one chunk: long enough to kill its decoder mid-way.</summary>
    public EncodedVideoChunk LongChunk { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        TsChunks = await new SyntheticEncoder(new VenueEncoderOptions { Size = Size, Threads = 1 }).EncodeAsync(Program).ToListAsync();
        CmafChunks = await new SyntheticEncoder(new VenueEncoderOptions { Size = Size, Threads = 1, Container = "cmaf" }).EncodeAsync(Program).ToListAsync();
        var longProgram = Program with { DurationSeconds = 40, Elements = [.. Program.Elements.Take(2), Program.Elements[2] with { Duration = 35.8 }] };
        LongChunk = (await new SyntheticEncoder(new VenueEncoderOptions { Size = Size, ChunkSeconds = 40, Preset = "ultrafast" }).EncodeAsync(longProgram).ToListAsync()).Single();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    public static FfmpegChunkDecoder Decoder(int poolSize = 2) => new(MotionAppearanceDescriptor.DefaultInputSize, new ChunkDecoderOptions { PoolSize = poolSize });

    public static string[] Checksums(IEnumerable<byte[]> frames) => [.. frames.Select(f => Convert.ToHexString(SHA256.HashData(f)))];

    /// <summary>A copy of <paramref name="chunk"/> with payload bytes of its first half flipped (sync bytes mostly kept).</summary>
    public static byte[] Corrupt(byte[] chunk)
    {
        var bad = (byte[])chunk.Clone();
        var rng = new Random(3);
        for (var i = 0; i < 400; i++) { bad[rng.Next(1000, bad.Length / 2)] ^= (byte)rng.Next(1, 256); }
        return bad;
    }

    /// <summary>ffmpeg processes whose parent is this test process (from /proc).</summary>
    public static List<int> FfmpegChildren()
    {
        var me = Environment.ProcessId;
        var found = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) { continue; }
            string stat;
            try { stat = File.ReadAllText(Path.Combine(dir, "stat")); } catch (IOException) { continue; } catch (UnauthorizedAccessException) { continue; }
            var open = stat.IndexOf('(', StringComparison.Ordinal);
            var close = stat.LastIndexOf(')');
            if (open < 0 || close < 0) { continue; }
            var comm = stat[(open + 1)..close];
            var fields = stat[(close + 2)..].Split(' ');
            if (comm == "ffmpeg" && fields.Length > 1 && int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == me && fields[0] != "Z") { found.Add(pid); }
        }
        return found;
    }

    /// <summary>Waits up to 5 s for this process's ffmpeg children to be gone; returns how many remain.</summary>
    public static async Task<int> FfmpegChildrenAfterSettling()
    {
        for (var i = 0; i < 50; i++)
        {
            if (FfmpegChildren().Count == 0) { return 0; }
            await Task.Delay(100);
        }
        return FfmpegChildren().Count;
    }
}
