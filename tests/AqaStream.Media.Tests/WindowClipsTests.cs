using Xunit;
using System.Reactive.Linq;
using AqaStream.Media.Windowing;
using AqaStream.Tests.Shared;

namespace AqaStream.Media.Tests;

public class WindowClipsTests
{
    // Frame f is one byte holding f % 251, plus its index in the first 8 bytes, so every clip can say which frames it holds.
    private static byte[] Frame(long index)
    {
        var f = new byte[9];
        BitConverter.TryWriteBytes(f, index);
        f[8] = (byte)(index % 251);
        return f;
    }

    private static DecodedChunk Chunk(long sequence, long firstFrame, int frames) =>
        new("p-1", sequence, firstFrame, [.. Enumerable.Range(0, frames).Select(i => Frame(firstFrame + i))], DateTimeOffset.UnixEpoch);

    private static long[] FramesOf(VideoClip clip) => [.. clip.Frames.Select(f => BitConverter.ToInt64(f, 0))];

    private static async Task<IList<VideoClip>> Window(ClipWindowOptions options, params DecodedChunk[] chunks) =>
        await chunks.ToObservable().WindowClips(options).ToList();

    [Fact]
    public async Task Window_ChunkBoundary_NoFrameLost()
    {
        // 2 s chunks of 50 frames, 32-frame clips: clips straddle chunk boundaries.
        var chunks = Enumerable.Range(0, 8).Select(i => Chunk(i, i * 50L, 50)).ToArray();
        var clips = await Window(new ClipWindowOptions(), chunks);

        Assert.Equal(400 / 32, clips.Count);
        for (var k = 0; k < clips.Count; k++)
        {
            Assert.Equal(k, clips[k].ClipIndex);
            Assert.Equal(Enumerable.Range(k * 32, 32).Select(i => (long)i), FramesOf(clips[k]));
            AssertClose.Equal(k * 1.28, clips[k].Start, absolute: 1e-9, relative: 1e-9);
            AssertClose.Equal((k + 1) * 1.28, clips[k].End, absolute: 1e-9, relative: 1e-9);
        }
    }

    [Fact]
    public async Task Window_LostChunk_GapNotMisaligned()
    {
        // Chunk 2 (frames 100..149) is lost: clips 3 (96..127) and 4 (128..159) cannot be made; clip 5 starts at 160 as before.
        var chunks = new[] { Chunk(0, 0, 50), Chunk(1, 50, 50), Chunk(3, 150, 50), Chunk(4, 200, 50) };
        var clips = await Window(new ClipWindowOptions(), chunks);

        Assert.Equal([0, 1, 2, 5, 6], clips.Select(c => c.ClipIndex));
        foreach (var clip in clips)
        {
            Assert.Equal(Enumerable.Range(clip.ClipIndex * 32, 32).Select(i => (long)i), FramesOf(clip));
        }
    }

    [Fact]
    public async Task Window_OverlappingStride_SharesFrames()
    {
        var clips = await Window(new ClipWindowOptions { ClipFrames = 32, Stride = 16 }, Chunk(0, 0, 50), Chunk(1, 50, 50));

        Assert.Equal(5, clips.Count);   // starts 0, 16, 32, 48, 64 (64 + 32 = 96 <= 100)
        Assert.Equal(Enumerable.Range(16, 32).Select(i => (long)i), FramesOf(clips[1]));
        Assert.Same(clips[0].Frames[16], clips[1].Frames[0]);
    }

    [Fact]
    public async Task Window_LatePerformanceStart_FirstClipsMissing()
    {
        // The first chunk we see starts at frame 40: clip 0 (0..31) and clip 1 (32..63) are gone, clip 2 (64..95) is whole.
        var clips = await Window(new ClipWindowOptions(), Chunk(1, 40, 60));
        Assert.Equal([2], clips.Select(c => c.ClipIndex));
    }

    [Fact]
    public void Options_Invalid_Rejected()
    {
        Assert.Throws<ArgumentException>(() => new ClipWindowOptions { ClipFrames = 0 }.Validated());
        Assert.Throws<ArgumentException>(() => new ClipWindowOptions { Stride = 0 }.Validated());
        Assert.Equal(3, new ClipWindowOptions().ClipsIn(96));
        Assert.Equal(2, new ClipWindowOptions().ClipsIn(95));
    }
}
