using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Reactive.Subjects;
using AqaStream.Media.Decoding;
using AqaStream.Media.Features;
using AqaStream.Media.Windowing;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;

namespace AqaStream.Media.Ingest;

/// <summary>
/// The ingest box on a bus: consumes <see cref="Topics.VideoChunks"/>, runs the <see cref="VideoIngestPipeline"/>,
/// publishes performance events and <see cref="ClipFeatures"/> on <see cref="Topics.ClipFeatures"/> (where the scorer
/// reads them) and rejected chunks on <see cref="Topics.DeadLetters"/>.
/// </summary>
public sealed class VideoIngestService(IMessageBus bus, IChunkDecoder decoder, IClipFeatureExtractor extractor, ClipWindowOptions window, IScheduler clock)
{
    /// <summary>The consumer group of the ingest on the video-chunks topic.</summary>
    public const string ConsumerGroup = "aqa-ingest";

    /// <summary>What it has done so far.</summary>
    public IngestCounters Counters { get; } = new();

    /// <summary>Called with every message it publishes on the features topic, as it publishes it (benchmarks).</summary>
    public Action<PerformanceMessage>? OnPublished { get; init; }

    /// <summary>Runs until the video-chunks topic completes (every decoded clip published) or
    /// <paramref name="cancellationToken"/> fires.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        using var consumer = bus.Subscribe(Topics.VideoChunks, ConsumerGroup);
        var features = bus.Producer(Topics.ClipFeatures);
        var deadLetterTopic = bus.Producer(Topics.DeadLetters);
        var counters = new PipelineCounters();
        var deadLetters = new DeadLetters(Topics.VideoChunks.Name, d => Wait(deadLetterTopic.ProduceAsync(d.Key ?? "", d, cancellationToken)), counters, clock);

        await BusStage.RunAsync(consumer, input => VideoIngestPipeline.Create(input, decoder, extractor, window, deadLetters, clock, Counters),
            message =>
            {
                Wait(features.ProduceAsync(message.PerformanceId, message, cancellationToken));
                OnPublished?.Invoke(message);
            },
            cancellationToken).ConfigureAwait(false);
    }

    private static void Wait(ValueTask produce) => BusStage.Wait(produce);
}
