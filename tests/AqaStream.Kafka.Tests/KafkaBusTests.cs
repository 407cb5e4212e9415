using System.Text;
using AqaStream.Kafka;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Scoring.Data;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Testing;
using Xunit;

namespace AqaStream.Kafka.Tests;

public sealed class KafkaBusTests : IClassFixture<MockKafka>, IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);
    private readonly MockKafka _kafka;
    private readonly TempDirectory _dir = new();

    public KafkaBusTests(MockKafka kafka) => _kafka = kafka;

    public void Dispose() => _dir.Dispose();

    private static string Id(string name) => $"{name}-{Guid.NewGuid():N}"[..24];

    /// <summary>Reads a group's records of <paramref name="key"/> until <paramref name="count"/> arrived.</summary>
    private static async Task<List<BusRecord<T>>> ReadAsync<T>(IBusConsumer<T> consumer, string key, int count) where T : class
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var got = new List<BusRecord<T>>();
        await foreach (var r in consumer.ConsumeAsync(timeout.Token))
        {
            if (r.Key == key) { got.Add(r); }
            if (got.Count == count) { break; }
        }
        return got;
    }

    [Fact]
    public async Task Contracts_RoundTrip_ChunkBytesInTheValue_MetadataInHeaders_BigChunkByClaimCheck()
    {
        var options = _kafka.Options() with { MaxMessageBytes = 4096, ClaimCheckDirectory = _dir.Path };
        await using var bus = await KafkaBus.ConnectAsync(options);
        var id = Id("rt");
        var small = Enumerable.Range(0, 3000).Select(i => (byte)i).ToArray();
        var big = Enumerable.Range(0, 20_000).Select(i => (byte)(i * 7)).ToArray();
        var producer = bus.Producer(Topics.VideoChunks);
        var started = new PerformanceStarted(id, "A", "synthetic", "free-skating", ScoreTarget.TES, T0, "cup");
        await producer.ProduceAsync(id, started);
        await producer.ProduceAsync(id, new VideoChunk("cam-1", id, 0, T0, 2, "mpegts", "h264", small));
        await producer.ProduceAsync(id, new VideoChunk("cam-1", id, 1, T0.AddSeconds(2), 2, "mpegts", "h264", big));
        await producer.ProduceAsync(id, new PerformanceEnded(id, T0.AddSeconds(4), 3));
        bus.Flush();

        using var consumer = bus.Subscribe(Topics.VideoChunks, Id("g"));
        var got = await ReadAsync(consumer, id, 4);
        Assert.Equal(started, got[0].Value);
        var first = Assert.IsType<VideoChunk>(got[1].Value);
        Assert.Equal(small, first.Payload);
        Assert.Null(first.PayloadRef);
        var second = Assert.IsType<VideoChunk>(got[2].Value);
        Assert.Null(second.Payload);
        Assert.StartsWith("file://", second.PayloadRef, StringComparison.Ordinal);
        Assert.Equal(big, File.ReadAllBytes(new Uri(second.PayloadRef!).LocalPath));
        Assert.Equal(new PerformanceEnded(id, T0.AddSeconds(4), 3), got[3].Value);
        Assert.All(got, r => Assert.Equal(got[0].Partition, r.Partition));
        Assert.Equal([0L, 1, 2, 3], got.Select(r => r.Offset - got[0].Offset));

        // kcat, an independent client, sees the chunk bytes as the value and the metadata in headers.
        var lines = _kafka.Kcat(Topics.VideoChunks.Name, "%k|%S|%h\\n").Where(l => l.StartsWith(id + "|", StringComparison.Ordinal)).ToArray();
        Assert.Equal(4, lines.Length);
        var chunkLine = lines[1].Split('|');
        Assert.Equal("3000", chunkLine[1]);
        Assert.Contains("aqa-type=video-chunk", chunkLine[2], StringComparison.Ordinal);
        Assert.Contains("\"sequenceNumber\":0", chunkLine[2], StringComparison.Ordinal);
        Assert.Equal("0", lines[2].Split('|')[1]);   // claim check: no bytes in the message
    }

    [Fact]
    public async Task OversizedValue_WithoutClaimCheck_IsRefusedWithTheLimitNamed()
    {
        await using var bus = await KafkaBus.ConnectAsync(_kafka.Options() with { MaxMessageBytes = 2048 });
        var producer = bus.Producer(Topics.VideoChunks);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await producer.ProduceAsync("x", new VideoChunk("cam", "x", 0, T0, 2, "mpegts", "h264", new byte[5000])));
        Assert.Contains("5000 bytes, over Kafka:MaxMessageBytes (2048)", e.Message, StringComparison.Ordinal);
        Assert.Contains("ClaimCheckDirectory", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PoisonRecords_GoToTheDeadLetterTopic_WithReasonAndOriginalBytes_AndTheConsumerGoesOn()
    {
        var log = new FakeLogger();
        await using var bus = await KafkaBus.ConnectAsync(_kafka.Options(log));
        var id = Id("poison");
        var garbage = "{ this is not json"u8.ToArray();
        var missingField = Encoding.UTF8.GetBytes($$"""{"type":"clip-features","performanceId":"{{id}}","clipIndex":1}""");
        var unknownType = Encoding.UTF8.GetBytes($$"""{"type":"hologram","performanceId":"{{id}}"}""");
        using (var raw = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = _kafka.Bootstrap, Partitioner = Partitioner.Murmur2Random }).Build())
        {
            foreach (var bytes in new[] { garbage, missingField, unknownType }) { await raw.ProduceAsync(Topics.ClipFeatures.Name, new Message<string, byte[]> { Key = id, Value = bytes }); }
        }
        var good = new ClipFeatures(id, 2, 0, 1.28, [1f, 2f]);
        await bus.Producer(Topics.ClipFeatures).ProduceAsync(id, good);
        bus.Flush();

        var group = Id("g");
        using (var consumer = bus.Subscribe(Topics.ClipFeatures, group))
        {
            var got = await ReadAsync(consumer, id, 1);
            Assert.Equal(good with { Vector = got[0].Value is ClipFeatures c ? c.Vector : [] }, got[0].Value);
            Assert.Equal([1f, 2f], ((ClipFeatures)got[0].Value).Vector);
            consumer.Commit(got[0]);
        }
        bus.Flush();
        var dead = _kafka.Kcat(Topics.DeadLetters.Name, "%k|%h|%s\\n").Where(l => l.StartsWith(id + "|", StringComparison.Ordinal)).ToArray();
        Assert.Equal(3, dead.Length);
        Assert.All(dead, d => Assert.Contains("aqa-source-topic=aqa.clip-features", d, StringComparison.Ordinal));
        Assert.Contains("cannot decode", dead[0], StringComparison.Ordinal);
        Assert.EndsWith("|{ this is not json", dead[0], StringComparison.Ordinal);   // the original bytes
        Assert.Contains("vector", dead[1], StringComparison.OrdinalIgnoreCase);       // says which field was missing
        Assert.Contains("hologram", dead[2], StringComparison.Ordinal);
        // Each one is also a warning in the bus's log, naming the source record and the reason.
        var warnings = log.Collector.GetSnapshot().Where(r => r.Level == Microsoft.Extensions.Logging.LogLevel.Warning && r.Message.Contains("to aqa.dead-letter", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, warnings.Count);
        Assert.Contains(warnings, w => w.Message.Contains("hologram", StringComparison.Ordinal));

        // The group committed past them: a new member of the group gets nothing more of this performance.
        using var again = bus.Subscribe(Topics.ClipFeatures, group);
        using var quiet = new CancellationTokenSource(TimeSpan.FromSeconds(8));
        var more = 0;
        try
        {
            await foreach (var r in again.ConsumeAsync(quiet.Token)) { if (r.Key == id) { more++; } }
        }
        catch (OperationCanceledException)
        {
            // waited long enough
        }
        Assert.Equal(0, more);
    }

    [Fact]
    public async Task UnreachableCluster_RetriesThenFailsWithAClearError()
    {
        var log = new FakeLogger();
        var options = new KafkaBusOptions { BootstrapServers = "127.0.0.1:1", StartupTimeout = TimeSpan.FromSeconds(3), Logger = log };
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => KafkaBus.ConnectAsync(options));
        Assert.Contains("Kafka at 127.0.0.1:1 is unreachable", e.Message, StringComparison.Ordinal);
        Assert.Contains(log.Collector.GetSnapshot(), r => r.Level == Microsoft.Extensions.Logging.LogLevel.Warning && r.Message.Contains("retrying", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Health_BrokersAnswer_ThenAllDown_SaysSo()
    {
        using var cluster = new KafkaMockCluster(1);
        foreach (var topic in Topics.All) { cluster.CreateTopic(topic, 1); }
        await using var bus = await KafkaBus.ConnectAsync(new KafkaBusOptions { BootstrapServers = cluster.BootstrapServers });
        Assert.Null(await bus.ProblemAsync(CancellationToken.None));
        cluster.SetBrokerDown(1);
        var problem = await bus.ProblemAsync(CancellationToken.None);
        Assert.NotNull(problem);
        Assert.Contains(cluster.BootstrapServers, problem, StringComparison.Ordinal);
        cluster.SetBrokerUp(1);
    }

    [Fact]
    public async Task ClosedBus_LeavesTheExportedInstruments()
    {
        // A process (a test run, a bench) that opens and closes buses must not keep every closed one, nor its lag.
        var bus = await KafkaBus.ConnectAsync(_kafka.Options());
        Assert.True(Pipeline.Telemetry.AqaMetrics.IsRegistered(bus));
        await bus.DisposeAsync();
        Assert.False(Pipeline.Telemetry.AqaMetrics.IsRegistered(bus));
    }

    [Fact]
    public async Task MissingTopics_AreNamed()
    {
        using var empty = new KafkaMockCluster(1);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => KafkaBus.ConnectAsync(new KafkaBusOptions { BootstrapServers = empty.BootstrapServers }));
        Assert.Contains("lacks topic(s) aqa.video-chunks, aqa.clip-features", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadBack_ReturnsOnePartitionFromATime_ToItsCurrentEnd()
    {
        await using var bus = await KafkaBus.ConnectAsync(_kafka.Options());
        var id = Id("rb");
        var producer = bus.Producer(Topics.ClipScored);
        for (var i = 0; i < 5; i++)
        {
            await producer.ProduceAsync(id, new ClipScored(new ClipScore(id, i, i, i + 1, 0.1, 5, 0.5, []),
                new ProvisionalScore(id, i + 1, 5, ScoreTarget.TES, "m", "v", DateTimeOffset.UtcNow, [])));
        }
        bus.Flush();
        using var consumer = bus.Subscribe(Topics.ClipScored, Id("g"));
        var partition = (await ReadAsync(consumer, id, 1))[0].Partition;
        var back = new List<int>();
        await foreach (var r in bus.ReadBackAsync(Topics.ClipScored, partition, DateTimeOffset.UtcNow.AddMinutes(-1)))
        {
            if (r.Key == id) { back.Add(r.Value.Clip!.ClipIndex); }
        }
        Assert.Equal([0, 1, 2, 3, 4], back);
        var none = 0;
        await foreach (var r in bus.ReadBackAsync(Topics.ClipScored, partition, DateTimeOffset.UtcNow.AddMinutes(5))) { none++; }
        Assert.Equal(0, none);
    }
}
