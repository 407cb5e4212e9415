using System.Diagnostics;
using System.Reactive.Concurrency;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Data;

namespace AqaStream.Pipeline.Replay;

/// <summary>Progress of a replay: performances finished of the total, clips scored so far.</summary>
public sealed record ReplayProgress(int Finished, int Total, long ClipsScored);

/// <summary>What a replay produced.</summary>
public sealed record ReplayResult(IReadOnlyList<PerformanceTimeline> Timelines, PipelineCounters Counters, IReadOnlyList<DeadLetter> DeadLetters, TimeSpan Elapsed);

/// <summary>
/// Streams archived performances through the live pipeline as if live: an encoder-side producer publishes
/// start / clips / end on the features topic of an in-memory bus (one performance after another, one clip every
/// 1.28 s divided by the speed factor, or as fast as back-pressure allows), the <see cref="LiveScoringService"/>
/// scores them, and a reader collects the published clip scores and provisional scores per performance.
/// </summary>
public sealed class ReplayRunner(ScoringModel model, LivePipelineOptions options, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    /// <summary>Replays <paramref name="performances"/> in order.</summary>
    public async Task<ReplayResult> RunAsync(IReadOnlyList<ReplayPerformance> performances, ReplaySpeed speed,
        IProgress<ReplayProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(performances);
        ArgumentNullException.ThrowIfNull(speed);
        var featureDim = model.Scorer.FeatureDim;
        foreach (var p in performances)
        {
            if (p.Features.Length != p.Clips * featureDim)
            {
                throw new ArgumentException($"Performance '{p.Id}': {p.Features.Length} feature values are not {p.Clips} clips × {featureDim}.");
            }
        }
        var stopwatch = Stopwatch.StartNew();
        await using var bus = new InMemoryBus(clock: _clock);
        var service = new LiveScoringService(bus, new Dictionary<ScoreTarget, ScoringModel> { [model.Card.Target] = model }, options, DefaultScheduler.Instance);
        var timelines = performances.ToDictionary(p => p.Id, p => new PerformanceTimeline(p), StringComparer.Ordinal);
        if (timelines.Count != performances.Count) { throw new ArgumentException("Each performance id may be replayed once."); }
        using var scored = bus.Subscribe(Topics.ClipScored, "replay");
        using var deadLetterReader = bus.Subscribe(Topics.DeadLetters, "replay");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        var scoring = service.RunAsync(stop.Token);
        var deadLetters = new List<DeadLetter>();
        var readDead = Task.Run(async () =>
        {
            await foreach (var r in deadLetterReader.ConsumeAsync(stop.Token).ConfigureAwait(false)) { deadLetters.Add(r.Value); }
        }, stop.Token);
        var readScored = Task.Run(async () =>
        {
            var finished = 0;
            await foreach (var r in scored.ConsumeAsync(stop.Token).ConfigureAwait(false))
            {
                if (!timelines.TryGetValue(r.Key, out var t)) { continue; }
                if (r.Value.Clip is { } clip) { t.Clips.Add(clip); }
                var s = r.Value.Provisional;
                if (s.Final)
                {
                    t.Final = s;
                    finished++;
                    progress?.Report(new ReplayProgress(finished, performances.Count, service.Counters.ClipsScored));
                    if (finished == performances.Count) { return; }
                }
                else if (s.ClipsSeen > t.Provisional.Count)
                {
                    t.Provisional.Add(s.Total);
                }
            }
        }, stop.Token);

        await Publish(bus.Producer(Topics.ClipFeatures), performances, speed, featureDim, stop.Token).ConfigureAwait(false);
        bus.Complete(Topics.ClipFeatures);
        await scoring.ConfigureAwait(false);
        await readScored.ConfigureAwait(false);
        bus.Complete(Topics.DeadLetters);
        await readDead.ConfigureAwait(false);
        return new ReplayResult(performances.Select(p => timelines[p.Id]).ToList(), service.Counters, deadLetters, stopwatch.Elapsed);
    }

    private async Task Publish(IBusProducer<PerformanceMessage> producer, IReadOnlyList<ReplayPerformance> performances, ReplaySpeed speed,
        int featureDim, CancellationToken cancellationToken)
    {
        var start = _clock.GetUtcNow();
        var offset = TimeSpan.Zero;
        var clipInterval = TimeSpan.FromSeconds(LivePipelineOptions.ClipSeconds);
        foreach (var p in performances)
        {
            var startedAt = start + offset;
            await producer.ProduceAsync(p.Id, new PerformanceStarted(p.Id, p.Id, "replay", "replay", model.Card.Target, startedAt, p.Competition), cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < p.Clips; i++)
            {
                // Clip i is complete (and its features ready) at the end of its 1.28 s.
                await WaitUntil(start, offset + (clipInterval * (i + 1)), speed, cancellationToken).ConfigureAwait(false);
                var clip = new ClipFeatures(p.Id, i, i * LivePipelineOptions.ClipSeconds, (i + 1) * LivePipelineOptions.ClipSeconds,
                    p.Features.AsSpan(i * featureDim, featureDim).ToArray());
                await producer.ProduceAsync(p.Id, clip, cancellationToken).ConfigureAwait(false);
            }
            offset += clipInterval * p.Clips;
            await producer.ProduceAsync(p.Id, new PerformanceEnded(p.Id, start + offset, p.Clips), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WaitUntil(DateTimeOffset start, TimeSpan streamTime, ReplaySpeed speed, CancellationToken cancellationToken)
    {
        if (speed.Factor is not { } factor) { return; }
        var due = start + (streamTime / factor);
        var wait = due - _clock.GetUtcNow();
        if (wait > TimeSpan.Zero) { await Task.Delay(wait, _clock, cancellationToken).ConfigureAwait(false); }
    }
}
