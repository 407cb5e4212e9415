using System.Reactive.Concurrency;
using System.Reactive.Linq;
using AqaStream.Pipeline.Contracts;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Model;

namespace AqaStream.Pipeline.Live.Operators;

/// <summary>
/// Scores one performance clip by clip with its own <see cref="IncrementalDecoder"/> (exact or streaming, as the
/// model says): every clip gives a <see cref="ClipScore"/> and the <see cref="ProvisionalScore"/> after it; a missing
/// clip gives a provisional listing it; the close gives the final score with the whole breakdown, and the decoder
/// state is dropped. A missing clip takes no query position: the decoder sees the clips that arrived, in order.
/// </summary>
public static class ScoreClipsOperator
{
    private static readonly IReadOnlyDictionary<ScoreTarget, ClipBatcher> s_noBatchers = new Dictionary<ScoreTarget, ClipBatcher>();

    /// <summary>Scores an ordered performance (first message: its <see cref="PerformanceStarted"/>), every clip as it
    /// arrives: <see cref="ScoreClipsBatched"/> with no batcher, so there is one implementation of the message handling.</summary>
    public static IObservable<ClipScored> ScoreClips(this IObservable<PerformanceMessage> performance,
        IReadOnlyDictionary<ScoreTarget, ScoringModel> models, int topAttended, IScheduler clock, DeadLetters deadLetters, PipelineCounters counters) =>
        performance.ScoreClipsBatched(models, s_noBatchers, topAttended, clock, deadLetters, counters);

    /// <summary>
    /// Scores an ordered performance; a clip of a target with a <see cref="ClipBatcher"/> is stepped by the batcher
    /// together with other performances' clips: this performance's later messages wait until that clip is scored, so
    /// its updates keep their order (clip, provisional, gaps, final) and equal the one-at-a-time ones. With a
    /// <paramref name="lane"/>, what follows a step runs there.
    /// </summary>
    public static IObservable<ClipScored> ScoreClipsBatched(this IObservable<PerformanceMessage> performance,
        IReadOnlyDictionary<ScoreTarget, ScoringModel> models, IReadOnlyDictionary<ScoreTarget, ClipBatcher> batchers, int topAttended,
        IScheduler clock, DeadLetters deadLetters, PipelineCounters counters, IScheduler? lane = null)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(batchers);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(deadLetters);
        ArgumentNullException.ThrowIfNull(counters);
        return Observable.Create<ClipScored>(observer =>
        {
            var gate = new object();
            var queue = new Queue<PerformanceMessage>();
            var busy = false;
            var completed = false;
            var terminated = false;
            LivePerformance? live = null;
            ClipBatcher? batcher = null;

            void Scored(ClipFeatures clip, ClipScored update)
            {
                Counted(clip, clock, counters);
                observer.OnNext(update);
            }

            void Drain()
            {
                while (!busy && !terminated && queue.Count > 0)
                {
                    var m = queue.Dequeue();
                    switch (m)
                    {
                        case PerformanceStarted started:
                            live = new LivePerformance(started, models[started.Target], topAttended);
                            batcher = batchers.GetValueOrDefault(started.Target);
                            counters.OnOpened();
                            break;
                        case ClipFeatures clip when live is not null && batcher is not null:
                            busy = true;
                            var performanceState = live;
                            void Completed(Exception? error)
                            {
                                lock (gate)
                                {
                                    busy = false;
                                    if (error is null) { Scored(clip, performanceState.Appended(clip, clock.Now)); }
                                    else { deadLetters.Reject(clip, $"clip {clip.ClipIndex} could not be scored: {error.Message}"); }
                                    Drain();
                                }
                            }
                            // The rest of the clip's work (its explanation, the updates downstream) goes back to the
                            // performance's lane, so the batch thread only steps.
                            batcher.Submit(performanceState.Decoder, clip.Vector,
                                lane is null ? Completed : error => lane.Schedule(() => Completed(error)));
                            break;
                        case ClipFeatures clip when live is not null:
                            try
                            {
                                Scored(clip, live.Add(clip, clock.Now));
                            }
                            catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                            {
                                deadLetters.Reject(clip, $"clip {clip.ClipIndex} could not be scored: {e.Message}");
                            }
                            break;
                        case ClipMissing missing when live is not null:
                            observer.OnNext(live.Missing(missing.ClipIndex, clock.Now));
                            break;
                        case PerformanceEnded or PerformanceIdle when live is not null:
                            var final = live.Close(m is PerformanceEnded ? CloseReason.Ended : CloseReason.IdleTimeout, clock.Now);
                            live = null;
                            counters.OnClosed();
                            observer.OnNext(final);
                            break;
                    }
                }
                if (!busy && !terminated && completed && queue.Count == 0)
                {
                    terminated = true;
                    observer.OnCompleted();
                }
            }

            return performance.Subscribe(
                m =>
                {
                    lock (gate)
                    {
                        queue.Enqueue(m);
                        Drain();
                    }
                },
                e =>
                {
                    lock (gate)
                    {
                        terminated = true;
                        observer.OnError(e);
                    }
                },
                () =>
                {
                    lock (gate)
                    {
                        completed = true;
                        Drain();
                    }
                });
        });
    }

    /// <summary>A clip was scored: the counter, and its time from the ingest to this provisional.</summary>
    private static void Counted(ClipFeatures clip, IScheduler clock, PipelineCounters counters)
    {
        counters.OnClipScored();
        var now = clock.Now;
        if (clip.ReceivedAt is { } received && now >= received)
        {
            Telemetry.AqaMetrics.ClipToProvisional.Record((now - received).TotalMilliseconds);
        }
    }

    /// <summary>One open performance's scoring state.</summary>
    private sealed class LivePerformance(PerformanceStarted started, ScoringModel model, int topAttended)
    {
        private readonly IncrementalDecoder _decoder = model.Scorer.StartPerformance(model.Mode);
        private readonly List<int> _clipIndices = [];
        private readonly List<int> _missing = [];
        private readonly float _scale = model.Card.ScoreScale;

        public IncrementalDecoder Decoder => _decoder;

        public ClipScored Add(ClipFeatures clip, DateTimeOffset now)
        {
            _decoder.Append(clip.Vector);
            return Appended(clip, now);
        }

        /// <summary>The update after <paramref name="clip"/> was appended to the decoder (here or by a batched step).</summary>
        public ClipScored Appended(ClipFeatures clip, DateTimeOffset now)
        {
            _clipIndices.Add(clip.ClipIndex);
            var q = _decoder.Clips - 1;
            var weights = _decoder.Weights();
            var score = (double)_decoder.ClipScores[q] * _scale;
            var deduction = DeductionOf(q);
            var clipScore = new ClipScore(started.PerformanceId, clip.ClipIndex, clip.Start, clip.End,
                weights[q], score, (weights[q] * score) + deduction, TopAttended(_decoder.LatestCrossAttention), clip.ReceivedAt, deduction);
            return new ClipScored(clipScore, Provisional(now) with { ReceivedAt = clip.ReceivedAt });
        }

        // Clip q's expected deduction in points (0 for a model without a deduction term).
        private double DeductionOf(int q)
        {
            var deductions = _decoder.ClipDeductions;
            return q < deductions.Length ? (double)deductions[q] * _scale : 0;
        }

        public ClipScored Missing(int clipIndex, DateTimeOffset now)
        {
            _missing.Add(clipIndex);
            return new ClipScored(null, Provisional(now));
        }

        public ClipScored Close(CloseReason reason, DateTimeOffset now)
        {
            var weights = _decoder.Weights();
            var breakdown = new ClipContribution[weights.Length];
            for (var q = 0; q < weights.Length; q++)
            {
                var s = (double)_decoder.ClipScores[q] * _scale;
                var d = DeductionOf(q);
                breakdown[q] = new ClipContribution(_clipIndices[q], weights[q], s, (weights[q] * s) + d, d);
            }
            return new ClipScored(null, Provisional(now) with { Final = true, CloseReason = reason, Breakdown = breakdown });
        }

        private ProvisionalScore Provisional(DateTimeOffset now) => new(
            started.PerformanceId, _decoder.Clips, (double)_decoder.Score * _scale, started.Target,
            model.Card.ModelId, model.Version, now, _missing.ToArray());

        private AttendedClip[] TopAttended(ReadOnlySpan<float> attention)
        {
            var k = Math.Min(topAttended, attention.Length);
            var order = new int[attention.Length];
            for (var i = 0; i < order.Length; i++) { order[i] = i; }
            var values = attention.ToArray();
            Array.Sort(order, (a, b) => values[b].CompareTo(values[a]) is var c && c != 0 ? c : a.CompareTo(b));
            var top = new AttendedClip[k];
            for (var i = 0; i < k; i++) { top[i] = new AttendedClip(_clipIndices[order[i]], values[order[i]]); }
            return top;
        }
    }
}
