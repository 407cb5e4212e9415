using System.Reactive.Concurrency;
using System.Reactive.Disposables;
using System.Reactive.Linq;
using AqaStream.Pipeline.Contracts;

namespace AqaStream.Pipeline.Live.Operators;

/// <summary>
/// Admits messages of open performances only. <see cref="PerformanceStarted"/> opens one; <see cref="PerformanceEnded"/>
/// closes it; so does silence for the idle timeout on <c>scheduler</c> (the pipeline's clock, not stream time: a
/// pause between athletes still closes it), emitted as <see cref="PerformanceIdle"/>. When the input ends, every open
/// performance closes as idle. Clips of unknown or closed performances, a second start, an end of nothing: dead
/// letters with the reason. Output is serialised (timers and messages never overlap).
/// </summary>
public static class TrackLifecycleOperator
{
    /// <summary>Tracks open performances.</summary>
    public static IObservable<PerformanceMessage> TrackLifecycle(this IObservable<PerformanceMessage> source, TimeSpan idleTimeout,
        IScheduler scheduler, DeadLetters deadLetters, int recentlyClosedCapacity, PipelineCounters counters)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        ArgumentNullException.ThrowIfNull(deadLetters);
        ArgumentNullException.ThrowIfNull(counters);
        return Observable.Create<PerformanceMessage>(observer =>
        {
            var gate = new object();
            var open = new Dictionary<string, IdleTimer>(StringComparer.Ordinal);
            var closed = new RecentIds(recentlyClosedCapacity);
            var done = false;

            void Arm(string id)
            {
                var timer = open[id];
                timer.Pending.Disposable = null;
                var generation = ++timer.Generation;
                timer.Pending.Disposable = scheduler.Schedule(idleTimeout, () =>
                {
                    lock (gate)
                    {
                        if (done || !open.TryGetValue(id, out var current) || current.Generation != generation) { return; }
                        Close(id);
                        observer.OnNext(new PerformanceIdle(id, idleTimeout));
                    }
                });
            }

            void Close(string id)
            {
                open.Remove(id, out var timer);
                timer?.Pending.Dispose();
                closed.Add(id);
            }

            var subscription = source.Subscribe(
                m =>
                {
                    lock (gate)
                    {
                        if (done) { return; }
                        counters.OnReceived();
                        var id = m.PerformanceId;
                        var isOpen = open.ContainsKey(id);
                        switch (m)
                        {
                            case PerformanceStarted when isOpen:
                                deadLetters.Reject(m, $"performance '{id}' is already open (a second PerformanceStarted)");
                                return;
                            case PerformanceStarted when closed.Contains(id):
                                deadLetters.Reject(m, $"performance '{id}' has already ended; a new performance needs a new id");
                                return;
                            case PerformanceStarted:
                                open[id] = new IdleTimer();
                                Arm(id);
                                observer.OnNext(m);
                                return;
                            case PerformanceEnded when isOpen:
                                Close(id);
                                observer.OnNext(m);
                                return;
                            case PerformanceEnded:
                                deadLetters.Reject(m, closed.Contains(id)
                                    ? $"performance '{id}' has already closed (duplicate PerformanceEnded or idle timeout before it)"
                                    : $"unknown performance id '{id}': PerformanceEnded without PerformanceStarted");
                                return;
                            case var _ when isOpen:
                                Arm(id);
                                observer.OnNext(m);
                                return;
                            default:
                                deadLetters.Reject(m, closed.Contains(id)
                                    ? $"performance '{id}' has closed: {Describe(m)} arrived after its PerformanceEnded or idle timeout"
                                    : $"unknown performance id '{id}': {Describe(m)} before any PerformanceStarted");
                                return;
                        }
                    }
                },
                e =>
                {
                    lock (gate)
                    {
                        done = true;
                        observer.OnError(e);
                    }
                },
                () =>
                {
                    lock (gate)
                    {
                        foreach (var id in open.Keys.ToArray())
                        {
                            Close(id);
                            observer.OnNext(new PerformanceIdle(id, TimeSpan.Zero));
                        }
                        done = true;
                        observer.OnCompleted();
                    }
                });

            return Disposable.Create(() =>
            {
                subscription.Dispose();
                lock (gate)
                {
                    done = true;
                    foreach (var t in open.Values) { t.Pending.Dispose(); }
                    open.Clear();
                }
            });
        });
    }

    private static string Describe(PerformanceMessage m) => m switch
    {
        ClipFeatures c => $"clip {c.ClipIndex}",
        VideoChunk v => $"chunk {v.SequenceNumber}",
        _ => m.GetType().Name,
    };

    private sealed class IdleTimer
    {
        public SerialDisposable Pending { get; } = new();

        public long Generation { get; set; }
    }

    /// <summary>A bounded set of the most recently added ids (oldest forgotten first).</summary>
    private sealed class RecentIds(int capacity)
    {
        private readonly HashSet<string> _set = new(StringComparer.Ordinal);
        private readonly Queue<string> _order = new();

        public bool Contains(string id) => _set.Contains(id);

        public void Add(string id)
        {
            if (!_set.Add(id)) { return; }
            _order.Enqueue(id);
            while (_order.Count > Math.Max(1, capacity)) { _set.Remove(_order.Dequeue()); }
        }
    }
}
