using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Reactive.Subjects;
using System.Reactive.Threading.Tasks;
using AqaStream.Media.Features;
using AqaStream.Media.Ingest;
using AqaStream.Media.Synthetic;
using AqaStream.Media.Windowing;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Data;
using Xunit;
using AqaStream.Tests.Shared;

namespace AqaStream.Media.Tests;

public class IngestTests(MediaFixture media) : IClassFixture<MediaFixture>
{
    private static readonly DateTimeOffset s_start = new(2026, 3, 1, 18, 0, 0, TimeSpan.Zero);

    private static PerformanceStarted Started(string id = "p-test") => new(id, "Test Skater", "synthetic", "free", ScoreTarget.TES, s_start);

    private static PerformanceEnded Ended(string id = "p-test") => new(id, s_start.AddSeconds(MediaFixture.Program.DurationSeconds));

    private static VideoChunk Message(EncodedVideoChunk c, string container = "mpegts", string id = "p-test") =>
        new("cam-1", id, c.SequenceNumber, s_start.AddSeconds(c.StartSeconds), c.DurationSeconds, container, "h264", c.Bytes, InitSegment: c.InitSegment);

    private static async Task<(List<PerformanceMessage> Out, List<DeadLetter> Dead)> Ingest(IEnumerable<PerformanceMessage> messages, IClipFeatureExtractor? extractor = null)
    {
        using var decoder = MediaFixture.Decoder();
        var dead = new List<DeadLetter>();
        var deadLetters = new DeadLetters("aqa.video-chunks", d => { lock (dead) { dead.Add(d); } }, new PipelineCounters(), Scheduler.Default);
        var input = new Subject<PerformanceMessage>();
        var output = VideoIngestPipeline.Create(input, decoder, extractor ?? new MotionAppearanceDescriptor(), new ClipWindowOptions(), deadLetters, Scheduler.Default)
            .ToList().ToTask();
        foreach (var m in messages) { input.OnNext(m); }
        input.OnCompleted();
        return ([.. await output.WaitAsync(TimeSpan.FromMinutes(2))], dead);
    }

    private async Task<Dictionary<int, float[]>> CleanRun()
    {
        var (output, dead) = await Ingest([Started(), .. media.TsChunks.Select(c => Message(c)), Ended()]);
        Assert.Empty(dead);
        return output.OfType<ClipFeatures>().ToDictionary(c => c.ClipIndex, c => c.Vector);
    }

    [Fact]
    public async Task Ingest_Performance_StartClipsEndInOrder()
    {
        var (output, dead) = await Ingest([Started(), .. media.TsChunks.Select(c => Message(c)), Ended()]);

        Assert.Empty(dead);
        Assert.IsType<PerformanceStarted>(output[0]);
        var ended = Assert.IsType<PerformanceEnded>(output[^1]);
        var clips = output.OfType<ClipFeatures>().ToList();
        Assert.Equal(200 / 32, clips.Count);
        Assert.Equal(clips.Count, ended.ClipCount);
        Assert.Equal(Enumerable.Range(0, clips.Count), clips.Select(c => c.ClipIndex));
        Assert.All(clips, c => Assert.Equal(MotionAppearanceDescriptor.FeatureLength, c.Vector.Length));
        AssertClose.Equal(1.28, clips[1].Start, absolute: 1e-9, relative: 1e-9);
        AssertClose.Equal(2.56, clips[1].End, absolute: 1e-9, relative: 1e-9);
    }

    [Fact]
    public async Task Ingest_SameAsOfflineDatasetPath()
    {
        // The dataset generator (decode → window → extract, no bus) and the live ingest give the same features.
        using var dir = new TempDirectory();
        using var decoder = MediaFixture.Decoder();
        var encoder = new SyntheticEncoder(new VenueEncoderOptions { Size = MediaFixture.Size, Threads = 1, Container = "cmaf" });
        var truth = await SyntheticDataset.RenderAsync(MediaFixture.Program, encoder, decoder, new MotionAppearanceDescriptor(), new ClipWindowOptions(), dir.File("p.npy"));
        var offline = NpyReader.ReadFile(dir.File("p.npy"));

        var (output, _) = await Ingest([Started(), .. media.CmafChunks.Select(c => Message(c, "cmaf")), Ended()]);
        var live = output.OfType<ClipFeatures>().ToList();
        Assert.Equal(offline.Rows, live.Count);
        Assert.Equal(truth.Clips.Count, live.Count);
        for (var r = 0; r < live.Count; r++)
        {
            Assert.Equal(offline.Data.AsSpan(r * offline.Columns, offline.Columns).ToArray(), live[r].Vector);
        }
    }

    [Fact]
    public async Task Ingest_LostChunk_GapThenAlignedClips()
    {
        var clean = await CleanRun();
        // Chunk 1 (frames 50..99) never arrives: clips 1 (32..63), 2 (64..95) and 3 (96..127) cannot be made.
        var (output, dead) = await Ingest([Started(), .. media.TsChunks.Where(c => c.SequenceNumber != 1).Select(c => Message(c)), Ended()]);

        Assert.Empty(dead);
        var clips = output.OfType<ClipFeatures>().ToList();
        Assert.Equal([0, 4, 5], clips.Select(c => c.ClipIndex));
        Assert.All(clips, c => Assert.Equal(clean[c.ClipIndex], c.Vector));
        Assert.Equal(6, Assert.IsType<PerformanceEnded>(output[^1]).ClipCount);   // so the scorer reports 1..3 missing
    }

    public static TheoryData<string, string> BadChunks() => new()
    {
        { "truncated", "truncated" },
        { "corrupt", "cannot be decoded" },
        { "container", "container 'webm' is not supported" },
        { "codec", "ffmpeg failed" },
        { "empty", "empty" },
        { "backwards", "jump backwards" },
        { "duplicate", "duplicate or out of order" },
        { "missing-payload", "payloadRef" },
    };

    [Theory]
    [MemberData(nameof(BadChunks))]
    public async Task Ingest_BadChunk_DeadLetteredStreamContinues(string damage, string reason)
    {
        var clean = await CleanRun();
        var chunks = media.TsChunks.Select(c => Message(c)).ToList();
        var bad = chunks[1];
        PerformanceMessage[] messages = damage switch
        {
            "backwards" => [Started(), chunks[0], chunks[1], chunks[2] with { StartTime = chunks[1].StartTime.AddSeconds(0.5) }, chunks[3], Ended()],
            "duplicate" => [Started(), chunks[0], chunks[1], chunks[1], chunks[2], chunks[3], Ended()],
            _ => [Started(), chunks[0], damage switch
            {
                "truncated" => bad with { Payload = bad.Payload![..(bad.Payload!.Length / 3)] },
                "corrupt" => bad with { Payload = MediaFixture.Corrupt(bad.Payload!) },
                "container" => bad with { Container = "webm" },
                "codec" => bad with { Codec = "hevc" },
                "empty" => bad with { Payload = [] },
                _ => bad with { Payload = null, PayloadRef = "file:///nonexistent/chunk-1.ts" },
            }, chunks[2], chunks[3], Ended()],
        };

        var (output, dead) = await Ingest(messages);

        var letter = Assert.Single(dead);
        Assert.Contains(reason, letter.Reason, StringComparison.Ordinal);
        Assert.Equal("aqa.video-chunks", letter.SourceTopic);
        Assert.Contains("\"sequenceNumber\"", letter.Payload, StringComparison.Ordinal);
        var clips = output.OfType<ClipFeatures>().ToList();
        // The stream goes on: the last clip (frames 160..191) is there, equal to the clean run's.
        Assert.Contains(clips, c => c.ClipIndex == 5);
        Assert.All(clips, c => Assert.Equal(clean[c.ClipIndex], c.Vector));
        Assert.IsType<PerformanceEnded>(output[^1]);
    }

    [Fact]
    public async Task Ingest_ChunkBeforeStart_DeadLettered()
    {
        var (output, dead) = await Ingest([Message(media.TsChunks[0], id: "p-unknown"), Started(), .. media.TsChunks.Select(c => Message(c)), Ended()]);
        Assert.Contains(dead, d => d.Key == "p-unknown" && d.Reason.Contains("has not started", StringComparison.Ordinal));
        Assert.Equal(6, output.OfType<ClipFeatures>().Count());
    }

    [Fact]
    public async Task IngestService_OnBus_FeaturesReachTheFeaturesTopic_StartEndAndThumbnailsThePerformanceEvents()
    {
        await using var bus = new InMemoryBus();
        using var decoder = MediaFixture.Decoder();
        var service = new VideoIngestService(bus, decoder, new MotionAppearanceDescriptor(), new ClipWindowOptions(), Scheduler.Default);
        using var features = bus.Subscribe(Topics.ClipFeatures, "test");
        using var events = bus.Subscribe(Topics.PerformanceEvents, "test");
        var run = service.RunAsync();
        var producer = bus.Producer(Topics.VideoChunks);
        await producer.ProduceAsync("p-test", Started());
        foreach (var c in media.TsChunks) { await producer.ProduceAsync("p-test", Message(c)); }
        await producer.ProduceAsync("p-test", Ended());
        bus.Complete(Topics.VideoChunks);
        await run.WaitAsync(TimeSpan.FromMinutes(2));
        bus.Complete(Topics.ClipFeatures);
        bus.Complete(Topics.PerformanceEvents);

        var received = new List<PerformanceMessage>();
        await foreach (var r in features.ConsumeAsync()) { received.Add(r.Value); }
        Assert.IsType<PerformanceStarted>(received[0]);
        Assert.Equal(6, received.OfType<ClipFeatures>().Count());
        Assert.Empty(received.OfType<ClipThumbnail>());   // the scorer's topic carries features only
        Assert.Equal(6, Assert.IsType<PerformanceEnded>(received[^1]).ClipCount);
        // Delivery's topic: the start, one PNG per clip (the middle frame), the end; no feature vector.
        var lifecycle = new List<PerformanceMessage>();
        await foreach (var r in events.ConsumeAsync()) { lifecycle.Add(r.Value); }
        Assert.IsType<PerformanceStarted>(lifecycle[0]);
        Assert.Equal(Enumerable.Range(0, 6), lifecycle.OfType<ClipThumbnail>().Select(t => t.ClipIndex));
        Assert.All(lifecycle.OfType<ClipThumbnail>(), t => Assert.Equal([0x89, 0x50, 0x4E, 0x47], t.Png[..4]));
        Assert.Empty(lifecycle.OfType<ClipFeatures>());
        Assert.Equal(6, Assert.IsType<PerformanceEnded>(lifecycle[^1]).ClipCount);
        Assert.Equal(4, service.Counters.Chunks);
        Assert.Equal(200, service.Counters.Frames);
    }

    [Fact]
    public async Task Ingest_BackboneExtractor_TakesFeaturesFromTheBus_MissingOneIsAGap()
    {
        await using var bus = new InMemoryBus();
        await using var backbone = new BackboneFeatureExtractor(bus, "backbone-test", 4, MotionAppearanceDescriptor.DefaultInputSize) { Timeout = TimeSpan.FromSeconds(1) };
        var publish = bus.Producer(BackboneFeatureExtractor.Topic);
        foreach (var clip in new[] { 0, 1, 2, 4, 5 })   // the backbone never sends clip 3
        {
            await publish.ProduceAsync("p-test", new ClipFeatures("p-test", clip, clip * 1.28, (clip + 1) * 1.28, [clip, clip + 0.5f, -clip, 1]));
        }

        var (output, dead) = await Ingest([Started(), .. media.TsChunks.Select(c => Message(c)), Ended()], backbone);

        var clips = output.OfType<ClipFeatures>().ToList();
        Assert.Equal([0, 1, 2, 4, 5], clips.Select(c => c.ClipIndex));
        Assert.All(clips, c => Assert.Equal([c.ClipIndex, c.ClipIndex + 0.5f, -c.ClipIndex, 1], c.Vector));
        var letter = Assert.Single(dead);
        Assert.Contains("no features for clip 3 (backbone-test)", letter.Reason, StringComparison.Ordinal);
        Assert.Equal(6, Assert.IsType<PerformanceEnded>(output[^1]).ClipCount);
    }
}
