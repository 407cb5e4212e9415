using System.Reactive.Concurrency;
using System.Reactive.Subjects;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Scoring.Data;

namespace AqaStream.Pipeline.Tests;

/// <summary>
/// Virtual time for operator tests, in the style of Rx's TestScheduler (Microsoft.Reactive.Testing is only on the
/// mirror as 3.1.1, built for System.Reactive 3): Rx's own <see cref="HistoricalScheduler"/> drives a hot input at
/// given seconds and records what comes out, with the virtual time it came out at.
/// </summary>
internal sealed class VirtualTimeline
{
    public static readonly DateTimeOffset Origin = new(2026, 2, 1, 10, 0, 0, TimeSpan.Zero);

    public HistoricalScheduler Scheduler { get; } = new(Origin);

    public List<DeadLetter> Rejected { get; } = [];

    public PipelineCounters Counters { get; } = new();

    public DeadLetters DeadLetters => new("aqa.clip-features", Rejected.Add, Counters, Scheduler);

    public double Now => (Scheduler.Now - Origin).TotalSeconds;

    /// <summary>A hot sequence: each value at its second; completes at <paramref name="completeAt"/> when given.</summary>
    public IObservable<T> Hot<T>(IEnumerable<(double Seconds, T Value)> events, double? completeAt = null)
    {
        var subject = new Subject<T>();
        foreach (var (seconds, value) in events)
        {
            Scheduler.ScheduleAbsolute(Origin.AddSeconds(seconds), () => subject.OnNext(value));
        }
        if (completeAt is { } c) { Scheduler.ScheduleAbsolute(Origin.AddSeconds(c), subject.OnCompleted); }
        return subject;
    }

    /// <summary>Subscribes now and records every value with the virtual second it arrived at.</summary>
    public Recording<T> Record<T>(IObservable<T> source)
    {
        var recording = new Recording<T>();
        source.Subscribe(v => recording.Values.Add((Now, v)), e => recording.Error = e, () => recording.CompletedAt = Now);
        return recording;
    }

    /// <summary>Runs virtual time until nothing is scheduled.</summary>
    public void Run() => Scheduler.Start();
}

internal sealed class Recording<T>
{
    public List<(double Seconds, T Value)> Values { get; } = [];

    public Exception? Error { get; set; }

    public double? CompletedAt { get; set; }
}

/// <summary>Test messages.</summary>
internal static class Msg
{
    public const int FeatureDim = 12;

    public static PerformanceStarted Start(string id, ScoreTarget target = ScoreTarget.TES) =>
        new(id, "Athlete " + id, "ladies-singles", "short-program", target, VirtualTimeline.Origin);

    public static ClipFeatures Clip(string id, int index, float[]? vector = null) =>
        new(id, index, index * 1.28, (index + 1) * 1.28, vector ?? Vector(id, index));

    public static PerformanceEnded End(string id, int? clipCount = null) => new(id, VirtualTimeline.Origin, clipCount);

    /// <summary>A deterministic feature vector per (performance, clip).</summary>
    public static float[] Vector(string id, int index)
    {
        var rng = new Random(HashCode.Combine(StringComparer.Ordinal.GetHashCode(id) & 0, id.Length, id[^1], index));
        return Enumerable.Range(0, FeatureDim).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
    }
}
