using System.Reactive.Concurrency;
using System.Reactive.Disposables;
using System.Reactive.Linq;
using AqaStream.Pipeline.Contracts;

namespace AqaStream.Pipeline.Live.Operators;

/// <summary>
/// Puts one performance's clips in clip-index order. A clip that comes early waits for the ones before it; if one of
/// those has not come within the gap timeout (on <c>scheduler</c>), it is declared missing (<see cref="ClipMissing"/>)
/// and the waiting clips go on: a gap is reported, never silently skipped. When the performance closes, the clips still
/// waiting go out behind missing markers for the holes, and when <see cref="PerformanceEnded.ClipCount"/> says more
/// clips were sent than arrived, the tail is declared missing too. A clip far ahead of the next expected one, or one
/// arriving after it was declared missing, is a dead letter.
/// </summary>
public static class OrderClipsOperator
{
    /// <summary>Orders clips and declares gaps.</summary>
    public static IObservable<PerformanceMessage> OrderClips(this IObservable<PerformanceMessage> performance, int maxClipsAhead,
        TimeSpan gapTimeout, IScheduler scheduler, DeadLetters deadLetters, PipelineCounters counters)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(deadLetters);
        ArgumentNullException.ThrowIfNull(counters);
        return Observable.Create<PerformanceMessage>(observer =>
        {
            var gate = new object();
            var next = 0;
            var waiting = new SortedDictionary<int, ClipFeatures>();
            var gapTimer = new SerialDisposable();
            long generation = 0;
            var closed = false;

            void Emit(PerformanceMessage m) => observer.OnNext(m);

            void DeclareMissingUpTo(string id, int end)
            {
                for (; next < end; next++)
                {
                    counters.OnMissing();
                    Emit(new ClipMissing(id, next));
                }
            }

            void Drain()
            {
                while (waiting.Remove(next, out var clip))
                {
                    Emit(clip);
                    next++;
                }
            }

            void ArmGapTimerIfWaiting(string id)
            {
                if (waiting.Count == 0)
                {
                    gapTimer.Disposable = null;
                    return;
                }
                var mine = ++generation;
                gapTimer.Disposable = scheduler.Schedule(gapTimeout, () =>
                {
                    lock (gate)
                    {
                        if (closed || mine != generation || waiting.Count == 0) { return; }
                        DeclareMissingUpTo(id, waiting.Keys.First());
                        Drain();
                        ArmGapTimerIfWaiting(id);
                    }
                });
            }

            var subscription = performance.Subscribe(
                m =>
                {
                    lock (gate)
                    {
                        switch (m)
                        {
                            case ClipFeatures clip when clip.ClipIndex == next:
                                Emit(clip);
                                next++;
                                Drain();
                                ArmGapTimerIfWaiting(clip.PerformanceId);
                                break;
                            case ClipFeatures clip when clip.ClipIndex < next:
                                deadLetters.Reject(clip, $"clip {clip.ClipIndex} arrived after it was declared missing (gap timeout {gapTimeout.TotalSeconds:0.#} s)");
                                break;
                            case ClipFeatures clip when clip.ClipIndex - next > maxClipsAhead:
                                deadLetters.Reject(clip, $"clip {clip.ClipIndex} is {clip.ClipIndex - next} positions ahead of the next expected clip {next} (at most {maxClipsAhead})");
                                break;
                            case ClipFeatures clip:
                                var wasWaiting = waiting.Count > 0;
                                waiting[clip.ClipIndex] = clip;
                                if (!wasWaiting) { ArmGapTimerIfWaiting(clip.PerformanceId); }
                                break;
                            case PerformanceEnded or PerformanceIdle:
                                closed = true;
                                gapTimer.Dispose();
                                while (waiting.Count > 0)
                                {
                                    DeclareMissingUpTo(m.PerformanceId, waiting.Keys.First());
                                    Drain();
                                }
                                if (m is PerformanceEnded { ClipCount: { } count }) { DeclareMissingUpTo(m.PerformanceId, count); }
                                Emit(m);
                                break;
                            default:
                                Emit(m);
                                break;
                        }
                    }
                },
                e =>
                {
                    lock (gate) { observer.OnError(e); }
                },
                () =>
                {
                    lock (gate)
                    {
                        closed = true;
                        gapTimer.Dispose();
                        observer.OnCompleted();
                    }
                });
            return new CompositeDisposable(subscription, gapTimer);
        });
    }
}
