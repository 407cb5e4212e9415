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
/// publishes the performance's start and end and its <see cref="ClipFeatures"/> on <see cref="Topics.ClipFeatures"/>
/// (where the scorer reads them), the start, the end and each clip's <see cref="ClipThumbnail"/> on
/// <see cref="Topics.PerformanceEvents"/> (where delivery reads them), and rejected chunks on <see cref="Topics.DeadLetters"/>.
/// </summary>
public sealed class VideoIngestService(IMessageBus bus, IChunkDecoder decoder, IClipFeatureExtractor extractor, ClipWindowOptions window, IScheduler clock)
{
    /// <summary>The consumer group of the ingest on the video-chunks topic.</summary>
    public const string ConsumerGroup = "aqa-ingest";

    /// <summary>What it has done so far.</summary>
    public IngestCounters Counters { get; } = new();

    /// <summary>Called with every message it publishes on the features topic, as it publishes it (benchmarks).</summary>
    public Action<PerformanceMessage>? OnPublished { get; init; }

    /// <summary>The consumer group (several ingest processes in one group share the partitions).</summary>
    public string Group { get; init; } = ConsumerGroup;

    /// <summary>Takeovers: partitions, outputs read back, recomputed and not republished.</summary>
    public ResumeCounters Resume { get; private set; } = new();

    /// <summary>Runs until the video-chunks topic completes (every decoded clip published) or
    /// <paramref name="cancellationToken"/> fires. Resumable: an ingest that takes a partition over re-decodes the
    /// performances in flight from their start and publishes only the clips its predecessor had not.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        using var consumer = bus.Subscribe(Topics.VideoChunks, Group);
        var deadLetterTopic = bus.Producer(Topics.DeadLetters);
        var counters = new PipelineCounters();
        ResumableStage<PerformanceMessage>? stage = null;
        var deadLetters = new DeadLetters(Topics.VideoChunks.Name, d => BusStage.Wait(deadLetterTopic.ProduceAsync(d.Key ?? "", d, cancellationToken)),
            counters, clock) { OnRejected = m => stage?.OnRejected(m) };
        stage = new ResumableStage<PerformanceMessage>(consumer,
            input => VideoIngestPipeline.Create(input, decoder, extractor, window, deadLetters, clock, Counters),
            new FeatureOutputs(bus, this, cancellationToken));
        Resume = stage.Counters;
        await stage.RunAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Dedupe key of an ingest output: (performance, "started" | "clip" | "ended", clip index or 0).</summary>
    public static OutputKey KeyOf(PerformanceMessage message) => message switch
    {
        ClipFeatures clip => new OutputKey(clip.PerformanceId, "clip", clip.ClipIndex),
        ClipThumbnail thumbnail => new OutputKey(thumbnail.PerformanceId, "thumbnail", thumbnail.ClipIndex),
        PerformanceStarted s => new OutputKey(s.PerformanceId, "started", 0),
        PerformanceEnded e => new OutputKey(e.PerformanceId, "ended", 0),
        _ => new OutputKey(message?.PerformanceId ?? "", message?.GetType().Name ?? "", 0),
    };

    private sealed class FeatureOutputs(IMessageBus bus, VideoIngestService service, CancellationToken cancellationToken) : IStageOutputs<PerformanceMessage>
    {
        private readonly IBusProducer<PerformanceMessage> _features = bus.Producer(Topics.ClipFeatures);
        private readonly IBusProducer<PerformanceMessage> _events = bus.Producer(Topics.PerformanceEvents);

        public OutputKey KeyOf(PerformanceMessage output) => VideoIngestService.KeyOf(output);

        public bool IsFinal(PerformanceMessage output) => output is PerformanceEnded;

        /// <summary>Features to the scorer's topic, thumbnails to delivery's, the start and the end to both. The end goes
        /// to the events first: once it is on the feature topic the stage may commit past the performance.</summary>
        public void Publish(PerformanceMessage output)
        {
            if (output is not ClipFeatures) { BusStage.Wait(_events.ProduceAsync(output.PerformanceId, output, cancellationToken)); }
            if (output is not ClipThumbnail) { BusStage.Wait(_features.ProduceAsync(output.PerformanceId, output, cancellationToken)); }
            service.OnPublished?.Invoke(output);
        }

        public async IAsyncEnumerable<(OutputKey Key, bool Final)> ReadBackAsync(int partition, DateTimeOffset since,
            [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var r in bus.ReadBackAsync(Topics.ClipFeatures, partition, since, cancellationToken).ConfigureAwait(false))
            {
                yield return (VideoIngestService.KeyOf(r.Value), r.Value is PerformanceEnded);
            }
        }
    }
}
