using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Runtime.CompilerServices;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Scoring.Data;

namespace AqaStream.Pipeline.Live;

/// <summary>
/// The scorer box on a bus: consumes <see cref="Topics.ClipFeatures"/>, runs a <see cref="LivePipeline"/> per owned
/// partition, publishes one <see cref="Contracts.ClipScored"/> per step on <see cref="Topics.ClipScored"/>, and
/// <see cref="Topics.DeadLetters"/>. Publishing waits for room on the output topics, so slow readers slow the scorer down
/// rather than grow memory. A <see cref="ResumableStage{TOut}"/>: a scorer that takes a partition over (after a crash
/// or a rebalance) rebuilds the decoder state of the performances in flight and carries on where its predecessor
/// stopped, publishing each clip's result once.
/// </summary>
public sealed class LiveScoringService(IMessageBus bus, IReadOnlyDictionary<ScoreTarget, ScoringModel> models, LivePipelineOptions options,
    IScheduler scheduler)
{
    /// <summary>The consumer group of the scorer on the features topic.</summary>
    public const string ConsumerGroup = "aqa-scorer";

    /// <summary>What it has done so far.</summary>
    public PipelineCounters Counters { get; } = new();

    /// <summary>Takeovers: partitions, outputs read back, recomputed and not republished.</summary>
    public ResumeCounters Resume { get; private set; } = new();

    /// <summary>The consumer group (several scorer processes in one group share the partitions).</summary>
    public string Group { get; init; } = ConsumerGroup;

    /// <summary>Runs until the features topic completes (then every open performance closes) or
    /// <paramref name="cancellationToken"/> fires.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        using var consumer = bus.Subscribe(Topics.ClipFeatures, Group);
        var outputs = new ScorerOutputs(bus, cancellationToken);
        var deadLetterTopic = bus.Producer(Topics.DeadLetters);
        using var lanes = new ScoringLanes(options.Lanes, withBatchThread: options.Batch is not null && options.Lanes > 0);
        ResumableStage<ClipScored>? stage = null;
        var deadLetters = new DeadLetters(Topics.ClipFeatures.Name, d => BusStage.Wait(deadLetterTopic.ProduceAsync(d.Key ?? "", d, cancellationToken)),
            Counters, scheduler) { OnRejected = m => stage?.OnRejected(m) };
        stage = new ResumableStage<ClipScored>(consumer,
            input => LivePipeline.Create(input, models, options, scheduler, deadLetters, Counters, lanes),
            outputs);
        Resume = stage.Counters;
        await stage.RunAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Dedupe key of a scorer output (also what downstream readers drop duplicates by): a step is
    /// (performance, "step", <see cref="ProvisionalScore.Step"/>); the final is (performance, "final", 0).</summary>
    public static OutputKey KeyOf(ClipScored output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var provisional = output.Provisional;
        return provisional.Final
            ? new OutputKey(provisional.PerformanceId, "final", 0)
            : new OutputKey(provisional.PerformanceId, "step", provisional.Step);
    }

    private sealed class ScorerOutputs(IMessageBus bus, CancellationToken cancellationToken) : IStageOutputs<ClipScored>
    {
        private readonly IBusProducer<ClipScored> _producer = bus.Producer(Topics.ClipScored);

        public OutputKey KeyOf(ClipScored output) => LiveScoringService.KeyOf(output);

        public bool IsFinal(ClipScored output) => output.Final;

        public void Publish(ClipScored output) => BusStage.Wait(_producer.ProduceAsync(output.PerformanceId, output, cancellationToken));

        public async IAsyncEnumerable<(OutputKey Key, bool Final)> ReadBackAsync(int partition, DateTimeOffset since,
            [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var r in bus.ReadBackAsync(Topics.ClipScored, partition, since, cancellationToken).ConfigureAwait(false))
            {
                yield return (LiveScoringService.KeyOf(r.Value), r.Value.Final);
            }
        }
    }
}
