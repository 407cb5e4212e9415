using System.Reactive.Linq;
using AqaStream.Pipeline.Contracts;
using AqaStream.Scoring.Data;

namespace AqaStream.Pipeline.Live.Operators;

/// <summary>What a well-formed message on the features topic looks like for the loaded models.</summary>
/// <param name="FeatureDim">Values per clip vector.</param>
/// <param name="MaxClips">Clip positions the models have (clip indices at or above are out of range).</param>
/// <param name="Targets">Score types a model is loaded for.</param>
public sealed record MessageRules(int FeatureDim, int MaxClips, IReadOnlySet<ScoreTarget> Targets)
{
    /// <summary>Why <paramref name="message"/> is malformed, or null when it is fine.</summary>
    public string? Check(PerformanceMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (string.IsNullOrWhiteSpace(message.PerformanceId)) { return "performance id is empty"; }
        switch (message)
        {
            case PerformanceStarted s when !Targets.Contains(s.Target):
                return $"no model is loaded for target {s.Target} (loaded: {string.Join(", ", Targets)})";
            case ClipFeatures c:
                return CheckClip(c);
            case VideoChunk:
                return "a video chunk on the clip-features topic (chunks go to aqa.video-chunks)";
            default:
                return null;
        }
    }

    private string? CheckClip(ClipFeatures c)
    {
        if (c.ClipIndex < 0 || c.ClipIndex >= MaxClips)
        {
            return $"clip index {c.ClipIndex} is out of range (0..{MaxClips - 1})";
        }
        if (c.Vector is null || c.Vector.Length != FeatureDim)
        {
            return $"clip {c.ClipIndex}: feature vector has {c.Vector?.Length ?? 0} values, the model expects {FeatureDim}";
        }
        for (var i = 0; i < c.Vector.Length; i++)
        {
            if (!float.IsFinite(c.Vector[i]))
            {
                return $"clip {c.ClipIndex}: feature value {i} is {c.Vector[i]} (NaN or infinite)";
            }
        }
        if (!double.IsFinite(c.Start) || !double.IsFinite(c.End) || c.End < c.Start)
        {
            return $"clip {c.ClipIndex}: time range {c.Start}..{c.End} s is not a range";
        }
        return null;
    }
}

/// <summary>Drops malformed messages to the dead-letter channel with the reason; passes the rest unchanged.</summary>
public static class RejectMalformedOperator
{
    /// <summary>Applies <paramref name="rules"/>.</summary>
    public static IObservable<PerformanceMessage> RejectMalformed(this IObservable<PerformanceMessage> source, MessageRules rules, DeadLetters deadLetters)
    {
        ArgumentNullException.ThrowIfNull(rules);
        ArgumentNullException.ThrowIfNull(deadLetters);
        return source.Where(m =>
        {
            var reason = rules.Check(m);
            if (reason is null) { return true; }
            deadLetters.Reject(m, reason);
            return false;
        });
    }
}
