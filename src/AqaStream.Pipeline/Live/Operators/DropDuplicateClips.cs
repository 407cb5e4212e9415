using System.Reactive.Linq;
using AqaStream.Pipeline.Contracts;

namespace AqaStream.Pipeline.Live.Operators;

/// <summary>Within one performance, passes each clip index once (at-least-once delivery repeats messages); repeats are
/// counted and dropped.</summary>
public static class DropDuplicateClipsOperator
{
    /// <summary>Drops repeated clip indices.</summary>
    public static IObservable<PerformanceMessage> DropDuplicateClips(this IObservable<PerformanceMessage> performance, PipelineCounters counters)
    {
        ArgumentNullException.ThrowIfNull(counters);
        return Observable.Defer(() =>
        {
            var seen = new HashSet<int>();
            return performance.Where(m =>
            {
                if (m is not ClipFeatures clip || seen.Add(clip.ClipIndex)) { return true; }
                counters.OnDuplicate();
                return false;
            });
        });
    }
}
