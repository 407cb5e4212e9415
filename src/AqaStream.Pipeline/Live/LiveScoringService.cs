using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Runtime.CompilerServices;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Scoring.Data;

namespace AqaStream.Pipeline.Live;

/// <summary>
/// The scorer box on a bus: consumes <see cref="Topics.ClipFeatures"/>, runs a <see cref="LivePipeline"/> per owned
/// partition, publishes <see cref="Topics.ClipScores"/>, <see cref="Topics.ProvisionalScores"/> and
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
        ResumableStage<ScorerOutput>? stage = null;
        var deadLetters = new DeadLetters(Topics.ClipFeatures.Name, d => BusStage.Wait(deadLetterTopic.ProduceAsync(d.Key ?? "", d, cancellationToken)),
            Counters, scheduler) { OnRejected = m => stage?.OnRejected(m) };
        stage = new ResumableStage<ScorerOutput>(consumer,
            input => LivePipeline.Create(input, models, options, scheduler, deadLetters, Counters, lanes).SelectMany(ScorerOutput.Split),
            outputs);
        Resume = stage.Counters;
        await stage.RunAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One record the scorer publishes: a clip's explanation or a provisional (or final) score.</summary>
    public sealed record ScorerOutput(ClipScore? Clip, ProvisionalScore? Provisional)
    {
        /// <summary>An update's records in publishing order.</summary>
        public static IEnumerable<ScorerOutput> Split(ScoreUpdate update)
        {
            ArgumentNullException.ThrowIfNull(update);
            if (update.Clip is { } clip) { yield return new ScorerOutput(clip, null); }
            yield return new ScorerOutput(null, update.Provisional);
        }
    }

    /// <summary>Dedupe keys of the scorer's outputs (also what downstream readers drop duplicates by):
    /// a clip score is (performance, "clip", clip index); a provisional is (performance, "provisional",
    /// clips seen + clips missing), each update adds one of those; the final is (performance, "final", 0).</summary>
    public static OutputKey KeyOf(ClipScore clip)
    {
        ArgumentNullException.ThrowIfNull(clip);
        return new OutputKey(clip.PerformanceId, "clip", clip.ClipIndex);
    }

    /// <inheritdoc cref="KeyOf(ClipScore)"/>
    public static OutputKey KeyOf(ProvisionalScore provisional)
    {
        ArgumentNullException.ThrowIfNull(provisional);
        return provisional.Final
            ? new OutputKey(provisional.PerformanceId, "final", 0)
            : new OutputKey(provisional.PerformanceId, "provisional", provisional.ClipsSeen + provisional.MissingClips.Count);
    }

    private sealed class ScorerOutputs(IMessageBus bus, CancellationToken cancellationToken) : IStageOutputs<ScorerOutput>
    {
        private readonly IBusProducer<ClipScore> _clips = bus.Producer(Topics.ClipScores);
        private readonly IBusProducer<ProvisionalScore> _provisional = bus.Producer(Topics.ProvisionalScores);

        public OutputKey KeyOf(ScorerOutput output) => output.Clip is { } c ? LiveScoringService.KeyOf(c) : LiveScoringService.KeyOf(output.Provisional!);

        public bool IsFinal(ScorerOutput output) => output.Provisional?.Final == true;

        public void Publish(ScorerOutput output)
        {
            if (output.Clip is { } clip) { BusStage.Wait(_clips.ProduceAsync(clip.PerformanceId, clip, cancellationToken)); }
            else if (output.Provisional is { } p) { BusStage.Wait(_provisional.ProduceAsync(p.PerformanceId, p, cancellationToken)); }
        }

        public async IAsyncEnumerable<(OutputKey Key, bool Final)> ReadBackAsync(int partition, DateTimeOffset since,
            [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (var r in bus.ReadBackAsync(Topics.ClipScores, partition, since, cancellationToken).ConfigureAwait(false))
            {
                yield return (LiveScoringService.KeyOf(r.Value), false);
            }
            await foreach (var r in bus.ReadBackAsync(Topics.ProvisionalScores, partition, since, cancellationToken).ConfigureAwait(false))
            {
                yield return (LiveScoringService.KeyOf(r.Value), r.Value.Final);
            }
        }
    }
}
