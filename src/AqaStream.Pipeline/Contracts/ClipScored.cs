using System.Text.Json.Serialization;

namespace AqaStream.Pipeline.Contracts;

/// <summary>
/// What the scorer publishes, one message per step of a performance (topic <c>aqa.clip-scored</c>, keyed by performance
/// id): a scored clip's explanation together with the provisional score right after it, so a reader never has to join
/// two streams. The same message without a clip carries a provisional alone: a clip was declared missing, or the
/// performance closed (then <see cref="ProvisionalScore.Final"/>, with the final breakdown).
/// </summary>
/// <param name="Clip">The clip just scored; null on a missing-clip or final message.</param>
/// <param name="Provisional">The provisional (or final) score after this step.</param>
public sealed record ClipScored(ClipScore? Clip, ProvisionalScore Provisional)
{
    /// <summary>The JSON form's constructor: <c>clip</c> may be left out (nulls are not written), <c>provisional</c> is
    /// required.</summary>
    [JsonConstructor]
    public ClipScored(ProvisionalScore provisional, ClipScore? clip = null) : this(clip, provisional) { }

    /// <summary>The performance (the bus key).</summary>
    [JsonIgnore]
    public string PerformanceId => Provisional.PerformanceId;

    /// <summary>Whether this closes the performance.</summary>
    [JsonIgnore]
    public bool Final => Provisional.Final;

    /// <summary>What is wrong with it (the clip and the provisional name different performances, a final carries a
    /// clip, or a clip's deduction is positive or not a number), or null: delivery refuses such a message rather than
    /// show a number that belongs elsewhere or cannot be a deduction.</summary>
    public string? Problem()
    {
        if (Clip is not { } clip) { return null; }
        if (clip.PerformanceId != Provisional.PerformanceId)
        {
            return $"clip of performance '{clip.PerformanceId}' with the provisional of '{Provisional.PerformanceId}'";
        }
        if (!(clip.Deduction <= 0))
        {
            return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"clip {clip.ClipIndex} has deduction {clip.Deduction}; a deduction is 0 or less");
        }
        return Provisional.Final ? "a final message carries no clip" : null;
    }
}
