using System.Reactive.Concurrency;
using System.Reactive.Linq;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live.Operators;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;

namespace AqaStream.Pipeline.Live;

/// <summary>
/// From clip features to provisional scores (ARCHITECTURE.md's diagram, scorer box): reject malformed messages, track
/// which performances are open (idle timeout on <c>scheduler</c>), group by performance, drop duplicate clips, order
/// them and declare gaps, score each performance incrementally on its lane.
/// </summary>
public static class LivePipeline
{
    /// <summary>Builds the pipeline over <paramref name="messages"/> (the clip-features topic, one message at a time).</summary>
    public static IObservable<ClipScored> Create(IObservable<PerformanceMessage> messages, IReadOnlyDictionary<ScoreTarget, ScoringModel> models,
        LivePipelineOptions options, IScheduler scheduler, DeadLetters deadLetters, PipelineCounters counters)
    {
        ArgumentNullException.ThrowIfNull(options);
        var rules = Rules(models);
        // The lanes' threads (and the batch thread) live as long as the subscription.
        return Observable.Using(
            () => new ScoringLanes(options.Lanes, options.Batch is not null && options.Lanes > 0),
            lanes => Scored(messages, models, options, scheduler, deadLetters, counters, rules, lanes));
    }

    /// <summary>As <see cref="Create(IObservable{PerformanceMessage}, IReadOnlyDictionary{ScoreTarget, ScoringModel}, LivePipelineOptions, IScheduler, DeadLetters, PipelineCounters)"/>,
    /// scoring on lanes the caller owns (several pipelines, one per partition, share them).</summary>
    public static IObservable<ClipScored> Create(IObservable<PerformanceMessage> messages, IReadOnlyDictionary<ScoreTarget, ScoringModel> models,
        LivePipelineOptions options, IScheduler scheduler, DeadLetters deadLetters, PipelineCounters counters, ScoringLanes lanes)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(lanes);
        var rules = Rules(models);
        return Scored(messages, models, options, scheduler, deadLetters, counters, rules, lanes);
    }

    /// <summary>Checks the models agree on their input and derives the message rules from them.</summary>
    private static MessageRules Rules(IReadOnlyDictionary<ScoreTarget, ScoringModel> models)
    {
        ArgumentNullException.ThrowIfNull(models);
        if (models.Count == 0) { throw new ArgumentException("The live pipeline needs at least one model.", nameof(models)); }
        var first = models.Values.First().Scorer;
        if (models.Values.Any(m => m.Scorer.FeatureDim != first.FeatureDim))
        {
            throw new ArgumentException("Every model of one pipeline must read the same clip features (feature width differs).", nameof(models));
        }
        return new MessageRules(first.FeatureDim, models.Values.Min(m => m.Scorer.MaxClips), models.Keys.ToHashSet());
    }

    private static IObservable<ClipScored> Scored(IObservable<PerformanceMessage> messages, IReadOnlyDictionary<ScoreTarget, ScoringModel> models,
        LivePipelineOptions options, IScheduler scheduler, DeadLetters deadLetters, PipelineCounters counters, MessageRules rules, ScoringLanes scoringLanes)
    {
        var lanes = scoringLanes.Schedulers;
        options.Batch?.Validate();
        // One batcher per model that can step performances together; it steps on the batch thread (or, with no
        // lanes, on the pipeline's scheduler: virtual time in tests).
        // Shared by every pipeline on these lanes (one per partition), so one step gathers all their performances.
        var batchers = options.Batch is { } window
            ? models.Where(m => m.Value.Scorer is IBatchedClipScorer)
                .ToDictionary(m => m.Key, m => scoringLanes.BatcherFor((IBatchedClipScorer)m.Value.Scorer, window, scheduler, options.Lanes))
            : [];
        return messages
            .RejectMalformed(rules, deadLetters)
            .TrackLifecycle(options.IdleTimeout, scheduler, deadLetters, options.RecentlyClosedCapacity, counters)
            .GroupByPerformance()
            .SelectMany(performance =>
            {
                var ordered = performance
                    .DropDuplicateClips(counters)
                    .OrderClips(options.MaxClipsAhead, options.GapTimeout, scheduler, deadLetters, counters);
                if (lanes.Length > 0)
                {
                    ordered = ordered.ObserveOn(lanes[Topics.PartitionOf(performance.Key, lanes.Length)]);
                }
                return batchers.Count > 0
                    ? ordered.ScoreClipsBatched(models, batchers, options.TopAttended, scheduler, deadLetters, counters,
                        lanes.Length > 0 ? lanes[Topics.PartitionOf(performance.Key, lanes.Length)] : null)
                    : ordered.ScoreClips(models, options.TopAttended, scheduler, deadLetters, counters);
            });
    }
}

/// <summary>Scoring threads: each performance is scored on one of them (by its key), in order; with batching, one
/// more thread runs the batched steps.</summary>
public sealed class ScoringLanes(int count, bool withBatchThread = false) : IDisposable
{
    private readonly EventLoopScheduler[] _lanes = Enumerable.Range(0, count)
        .Select(i => new EventLoopScheduler(ts => new Thread(ts) { IsBackground = true, Name = $"aqa-lane-{i}" }))
        .ToArray();

    private readonly EventLoopScheduler? _batch = withBatchThread
        ? new EventLoopScheduler(ts => new Thread(ts) { IsBackground = true, Name = "aqa-batch" })
        : null;

    /// <summary>The lanes (empty: score on the caller's thread).</summary>
    public IScheduler[] Schedulers => _lanes;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<IBatchedClipScorer, ClipBatcher> _batchers = new(ReferenceEqualityComparer.Instance);

    /// <summary>The thread batched steps run on, or null (they run on the pipeline's scheduler).</summary>
    public IScheduler? BatchScheduler => _batch;

    /// <summary>The one batcher of <paramref name="scorer"/> on these lanes (steps on the batch thread, else on
    /// <paramref name="fallback"/>), cutting each step into up to <paramref name="parallelism"/> parts run at once.</summary>
    public ClipBatcher BatcherFor(IBatchedClipScorer scorer, BatchWindow window, IScheduler fallback, int parallelism = 1) =>
        _batchers.GetOrAdd(scorer, s => new ClipBatcher(s, window, _batch ?? fallback, parallelism));

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var lane in _lanes) { lane.Dispose(); }
        _batch?.Dispose();
    }
}
