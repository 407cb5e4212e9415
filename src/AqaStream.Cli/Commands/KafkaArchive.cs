using System.Reactive.Concurrency;
using AqaStream.Kafka;
using AqaStream.Media.Decoding;
using AqaStream.Media.Features;
using AqaStream.Media.Ingest;
using AqaStream.Media.Windowing;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Replay;
using System.CommandLine;

namespace AqaStream.Cli.Commands;

/// <summary>Archived performances read back from a Kafka topic for <c>aqa replay --bus kafka</c>: clip features as they
/// were scored live, or video chunks decoded and featurised here (through the same ingest pipeline as live).</summary>
internal static class KafkaArchive
{
    public static async Task<List<ReplayPerformance>> LoadAsync(ParseResult r, KafkaCli kafka, string topicName, DateTimeOffset since, int featureDim)
    {
        await using var bus = (KafkaBus)await kafka.ConnectAsync(r, CancellationToken.None).ConfigureAwait(false);
        var topic = topicName == Topics.VideoChunks.Name ? Topics.VideoChunks : Topics.ClipFeatures;
        var partitions = bus.PartitionCount(topic.Name);
        var messages = new List<PerformanceMessage>();
        for (var p = 0; p < partitions; p++)
        {
            await foreach (var record in bus.ReadBackAsync(topic, p, since).ConfigureAwait(false)) { messages.Add(record.Value); }
        }
        Console.Error.WriteLine($"read {messages.Count} records of {messages.Select(m => m.PerformanceId).Distinct().Count()} performances from {topic.Name} ({partitions} partitions)");
        if (topic == Topics.VideoChunks) { messages = await FeaturiseAsync(messages).ConfigureAwait(false); }
        var performances = new List<ReplayPerformance>();
        foreach (var group in messages.GroupBy(m => m.PerformanceId))
        {
            if (!group.OfType<PerformanceStarted>().Any() || !group.OfType<PerformanceEnded>().Any())
            {
                Console.Error.WriteLine($"skipping {group.Key}: not complete on the topic (start or end missing)");
                continue;
            }
            var clips = group.OfType<ClipFeatures>().GroupBy(c => c.ClipIndex).Select(g => g.First()).OrderBy(c => c.ClipIndex).ToList();
            if (clips.Count == 0 || clips.Any(c => c.Vector.Length != featureDim))
            {
                Console.Error.WriteLine($"skipping {group.Key}: {(clips.Count == 0 ? "no clips" : $"features are not {featureDim} wide")}");
                continue;
            }
            performances.Add(new ReplayPerformance(group.Key, clips.SelectMany(c => c.Vector).ToArray(), clips.Count, null,
                group.OfType<PerformanceStarted>().First().Competition));
        }
        return performances;
    }

    private static async Task<List<PerformanceMessage>> FeaturiseAsync(List<PerformanceMessage> chunks)
    {
        Ffmpeg.EnsureAvailable();
        var extractor = new MotionAppearanceDescriptor();
        using var decoder = new FfmpegChunkDecoder(extractor.InputSize);
        await using var memory = new InMemoryBus(capacity: Math.Max(1024, chunks.Count + 16));
        var ingest = new VideoIngestService(memory, decoder, extractor, new ClipWindowOptions(), Scheduler.Default);
        using var features = memory.Subscribe(Topics.ClipFeatures, "replay");
        var running = ingest.RunAsync();
        var producer = memory.Producer(Topics.VideoChunks);
        foreach (var m in chunks) { await producer.ProduceAsync(m.PerformanceId, m).ConfigureAwait(false); }
        memory.Complete(Topics.VideoChunks);
        var output = new List<PerformanceMessage>();
        var reading = Task.Run(async () => { await foreach (var f in features.ConsumeAsync().ConfigureAwait(false)) { output.Add(f.Value); } });
        await running.ConfigureAwait(false);
        memory.Complete(Topics.ClipFeatures);
        await reading.ConfigureAwait(false);
        Console.Error.WriteLine($"decoded and featurised: {output.OfType<ClipFeatures>().Count()} clips");
        return output;
    }
}
