using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Reactive.Subjects;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Scoring.Data;

namespace AqaStream.Pipeline.Live;

/// <summary>
/// The scorer box on a bus: consumes <see cref="Topics.ClipFeatures"/>, runs the <see cref="LivePipeline"/>, publishes
/// <see cref="Topics.ClipScores"/>, <see cref="Topics.ProvisionalScores"/> and <see cref="Topics.DeadLetters"/>.
/// Publishing waits for room on the output topics, so slow readers slow the scorer down rather than grow memory.
/// </summary>
public sealed class LiveScoringService(IMessageBus bus, IReadOnlyDictionary<ScoreTarget, ScoringModel> models, LivePipelineOptions options,
    IScheduler scheduler)
{
    /// <summary>The consumer group of the scorer on the features topic.</summary>
    public const string ConsumerGroup = "aqa-scorer";

    /// <summary>What it has done so far.</summary>
    public PipelineCounters Counters { get; } = new();

    /// <summary>Runs until the features topic completes (then every open performance closes) or
    /// <paramref name="cancellationToken"/> fires.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        using var consumer = bus.Subscribe(Topics.ClipFeatures, ConsumerGroup);
        var clipScores = bus.Producer(Topics.ClipScores);
        var provisional = bus.Producer(Topics.ProvisionalScores);
        var deadLetterTopic = bus.Producer(Topics.DeadLetters);
        var deadLetters = new DeadLetters(Topics.ClipFeatures.Name, d => Wait(deadLetterTopic.ProduceAsync(d.Key ?? "", d, cancellationToken)), Counters, scheduler);

        await BusStage.RunAsync(consumer, input => LivePipeline.Create(input, models, options, scheduler, deadLetters, Counters),
            update =>
            {
                if (update.Clip is { } clip) { Wait(clipScores.ProduceAsync(clip.PerformanceId, clip, cancellationToken)); }
                Wait(provisional.ProduceAsync(update.Provisional.PerformanceId, update.Provisional, cancellationToken));
            },
            cancellationToken).ConfigureAwait(false);
    }

    private static void Wait(ValueTask produce) => BusStage.Wait(produce);
}
