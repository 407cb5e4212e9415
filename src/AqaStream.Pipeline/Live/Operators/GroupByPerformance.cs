using System.Reactive.Linq;
using System.Reactive.Subjects;
using AqaStream.Pipeline.Contracts;

namespace AqaStream.Pipeline.Live.Operators;

/// <summary>
/// One inner sequence per open performance: opened by its first message, completed right after the message that
/// closes it (<see cref="PerformanceEnded"/> or <see cref="PerformanceIdle"/>) and forgotten, so memory follows the
/// open performances. (Rx's GroupByUntil completes a group from its duration before that group's own subscribers see
/// the closing element; the end message carries information the scorer needs, hence this operator.)
/// </summary>
public static class GroupByPerformanceOperator
{
    /// <summary>Groups by performance id.</summary>
    public static IObservable<IGroupedObservable<string, PerformanceMessage>> GroupByPerformance(this IObservable<PerformanceMessage> source) =>
        Observable.Create<IGroupedObservable<string, PerformanceMessage>>(observer =>
        {
            var groups = new Dictionary<string, Subject<PerformanceMessage>>(StringComparer.Ordinal);
            return source.Subscribe(
                m =>
                {
                    if (!groups.TryGetValue(m.PerformanceId, out var group))
                    {
                        group = new Subject<PerformanceMessage>();
                        groups.Add(m.PerformanceId, group);
                        observer.OnNext(new PerformanceGroup(m.PerformanceId, group));
                    }
                    group.OnNext(m);
                    if (m is PerformanceEnded or PerformanceIdle)
                    {
                        groups.Remove(m.PerformanceId);
                        group.OnCompleted();
                    }
                },
                e =>
                {
                    foreach (var g in groups.Values) { g.OnError(e); }
                    groups.Clear();
                    observer.OnError(e);
                },
                () =>
                {
                    foreach (var g in groups.Values) { g.OnCompleted(); }
                    groups.Clear();
                    observer.OnCompleted();
                });
        });

    private sealed class PerformanceGroup(string key, IObservable<PerformanceMessage> messages) : IGroupedObservable<string, PerformanceMessage>
    {
        public string Key => key;

        public IDisposable Subscribe(IObserver<PerformanceMessage> observer) => messages.Subscribe(observer);
    }
}
