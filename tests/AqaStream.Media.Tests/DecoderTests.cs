using System.Diagnostics;
using AqaStream.Media.Decoding;
using AqaStream.Media.Synthetic;
using Xunit;

namespace AqaStream.Media.Tests;

public class DecoderTests(MediaFixture media) : IClassFixture<MediaFixture>
{
    [Fact]
    public async Task Decode_Chunked_MatchesContinuousDecode()
    {
        using var decoder = MediaFixture.Decoder();
        var chunked = new List<byte[]>();
        foreach (var chunk in media.TsChunks)
        {
            var frames = await decoder.DecodeAsync(new EncodedChunk("mpegts", "h264", chunk.Bytes));
            Assert.Equal(chunk.FrameCount, frames.Count);
            chunked.AddRange(frames);
        }
        // The chunks concatenated are one continuous MPEG-TS stream (timestamps run on across chunks).
        byte[] whole = [.. media.TsChunks.SelectMany(c => c.Bytes)];
        // Decoded in one ffmpeg run, not strict: the joins between separately muxed chunks have TS discontinuities.
        using var ffmpeg = FfmpegProcess.Start(FfmpegChunkDecoder.Arguments(decoder.FrameSize, "mpegts", "h264", 1, strict: false));
        var continuous = (await ffmpeg.RunAsync(whole, decoder.FrameSize.Bytes, CancellationToken.None)).Records;

        Assert.Equal(MediaFixture.Program.FrameCount(25), chunked.Count);
        Assert.Equal(MediaFixture.Checksums(continuous), MediaFixture.Checksums(chunked));
        Assert.Equal(decoder.FrameSize.Bytes, chunked[0].Length);
    }

    [Fact]
    public async Task Decode_CmafFragmentWithInit_SamePicturesAsMpegTs()
    {
        using var decoder = MediaFixture.Decoder();
        for (var i = 0; i < media.CmafChunks.Count; i++)
        {
            var cmaf = media.CmafChunks[i];
            Assert.NotNull(cmaf.InitSegment);
            var fromCmaf = await decoder.DecodeAsync(new EncodedChunk("cmaf", "h264", (byte[])[.. cmaf.InitSegment!, .. cmaf.Bytes]));
            var fromTs = await decoder.DecodeAsync(new EncodedChunk("mpegts", "h264", media.TsChunks[i].Bytes));
            Assert.Equal(MediaFixture.Checksums(fromTs), MediaFixture.Checksums(fromCmaf));
        }
        // Without its init segment a fragment is not decodable.
        var error = await Assert.ThrowsAsync<ChunkDecodeException>(() => decoder.DecodeAsync(new EncodedChunk("cmaf", "h264", media.CmafChunks[1].Bytes)));
        Assert.Contains("ffmpeg failed", error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string, string> BadChunks() => new()
    {
        { "empty", "mpegts", "h264", "empty" },
        { "garbage", "mpegts", "h264", "ffmpeg failed" },
        { "truncated", "mpegts", "h264", "truncated" },
        { "corrupt", "mpegts", "h264", "ffmpeg failed" },
        { "whole", "webm", "h264", "container 'webm' is not supported" },
        { "whole", "mpegts", "vp9", "codec 'vp9' is not supported" },
        { "whole", "mpegts", "hevc", "ffmpeg failed" },   // declared HEVC, carries H.264: the forced decoder refuses it
    };

    [Theory]
    [MemberData(nameof(BadChunks))]
    public async Task Decode_BadChunk_ClearErrorAndDecoderKeepsWorking(string damage, string container, string codec, string expected)
    {
        using var decoder = MediaFixture.Decoder();
        var good = media.TsChunks[1].Bytes;
        byte[] bytes = damage switch
        {
            "empty" => [],
            "garbage" => [.. Enumerable.Range(0, 5000).Select(i => (byte)(i * 31 % 256))],
            "truncated" => good[..(good.Length / 3)],
            "corrupt" => MediaFixture.Corrupt(good),
            _ => good,
        };
        var error = await Assert.ThrowsAsync<ChunkDecodeException>(() => decoder.DecodeAsync(new EncodedChunk(container, codec, bytes, 50)));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);

        var frames = await decoder.DecodeAsync(new EncodedChunk("mpegts", "h264", good));
        Assert.Equal(media.TsChunks[1].FrameCount, frames.Count);
    }

    [Fact]
    public async Task Decode_FfmpegKilledMidChunk_ErrorThenNextChunkDecodes()
    {
        // No pool: the chunk's own process is the only ffmpeg, so the kill hits the one at work (a waiting process
        // that dies is the next test's case: that one is retried, this one is not).
        using var decoder = MediaFixture.Decoder(poolSize: 0);
        var decoding = decoder.DecodeAsync(new EncodedChunk("mpegts", "h264", media.LongChunk.Bytes));
        var killed = 0;
        foreach (var pid in MediaFixture.FfmpegChildren())
        {
            using var p = Process.GetProcessById(pid);
            p.Kill();
            killed++;
        }
        Assert.Equal(1, killed);
        var error = await Assert.ThrowsAsync<ChunkDecodeException>(() => decoding);
        Assert.Contains("killed", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, decoder.Retried);

        var frames = await decoder.DecodeAsync(new EncodedChunk("mpegts", "h264", media.TsChunks[0].Bytes));
        Assert.Equal(50, frames.Count);
    }

    [Fact]
    public async Task Decode_WaitingFfmpegDiedJustBefore_ChunkStillDecodes()
    {
        using var decoder = MediaFixture.Decoder();
        await decoder.DecodeAsync(new EncodedChunk("mpegts", "h264", media.TsChunks[0].Bytes));
        for (var i = 0; i < 100 && MediaFixture.FfmpegChildren().Count < 2; i++) { await Task.Delay(50); }
        var waiting = MediaFixture.FfmpegChildren();
        Assert.True(waiting.Count >= 2, $"{waiting.Count} waiting");
        // Kill the waiting processes and decode at once: the pool hands out one whose death it has not seen yet (or
        // has, and starts a new one); either way the chunk decodes, and nothing is lost to a process that never read it.
        foreach (var pid in waiting)
        {
            using var p = Process.GetProcessById(pid);
            p.Kill();
        }
        var frames = await decoder.DecodeAsync(new EncodedChunk("mpegts", "h264", media.TsChunks[1].Bytes));
        Assert.Equal(50, frames.Count);
        var again = await decoder.DecodeAsync(new EncodedChunk("mpegts", "h264", media.TsChunks[2].Bytes));
        Assert.Equal(50, again.Count);
        Assert.InRange(decoder.Retried, 0, 2);
    }

    [Fact]
    public async Task Decoder_DisposedRightAfterItsWaitingFfmpegDied_DoesNotThrow()
    {
        // Disposing asks each waiting ffmpeg to quit ('q' on its stdin); one that has just died answers with a broken
        // pipe, which must not escape Dispose (it did, in CI, from a test's using block).
        for (var round = 0; round < 5; round++)
        {
            var decoder = MediaFixture.Decoder();
            await decoder.DecodeAsync(new EncodedChunk("mpegts", "h264", media.TsChunks[0].Bytes));
            for (var i = 0; i < 100 && MediaFixture.FfmpegChildren().Count < 2; i++) { await Task.Delay(50); }
            foreach (var pid in MediaFixture.FfmpegChildren())
            {
                using var p = Process.GetProcessById(pid);
                p.Kill();
            }
            var error = Record.Exception(decoder.Dispose);
            Assert.Null(error);
        }
        Assert.Equal(0, await MediaFixture.FfmpegChildrenAfterSettling());
    }

    [Fact]
    public async Task Decoder_Disposed_LeavesNoFfmpegBehind()
    {
        Assert.Equal(0, await MediaFixture.FfmpegChildrenAfterSettling());
        using (var decoder = MediaFixture.Decoder())
        {
            await decoder.DecodeAsync(new EncodedChunk("mpegts", "h264", media.TsChunks[0].Bytes));
            await decoder.DecodeAsync(new EncodedChunk("cmaf", "h264", (byte[])[.. media.CmafChunks[0].InitSegment!, .. media.CmafChunks[0].Bytes]));
            await Task.Delay(300);
            Assert.True(MediaFixture.FfmpegChildren().Count >= 2, "the pool keeps processes waiting");
        }
        Assert.Equal(0, await MediaFixture.FfmpegChildrenAfterSettling());
    }

    [Fact]
    public async Task Encoder_SameSeed_SameChunks()
    {
        var again = await new SyntheticEncoder(new VenueEncoderOptions { Size = MediaFixture.Size, Threads = 1 }).EncodeAsync(MediaFixture.Program).ToListAsync();
        Assert.Equal(media.TsChunks.Select(c => Convert.ToHexString(c.Bytes)), again.Select(c => Convert.ToHexString(c.Bytes)));
        Assert.Equal([0, 2, 4, 6], media.TsChunks.Select(c => c.StartSeconds));
        Assert.Equal(SyntheticProgram.Generate(42).Elements, SyntheticProgram.Generate(42).Elements);
        Assert.Equal(SyntheticProgram.Generate(42).JudgesScore(25), SyntheticProgram.Generate(42).JudgesScore(25));
        Assert.NotEqual(SyntheticProgram.Generate(42).Elements, SyntheticProgram.Generate(43).Elements);
    }
}
