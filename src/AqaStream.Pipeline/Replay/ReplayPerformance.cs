namespace AqaStream.Pipeline.Replay;

/// <summary>One archived performance to replay: its clip features (clips × feature width, row-major) and, when known,
/// the judges' score to compare with and the competition it belongs to (the report ranks within each competition).</summary>
public sealed record ReplayPerformance(string Id, float[] Features, int Clips, double? Label, string? Competition = null);

/// <summary>How fast to replay: <see cref="Factor"/> times real time (one clip every 1.28 s at 1), or as fast as the
/// pipeline goes when null.</summary>
public sealed record ReplaySpeed(double? Factor)
{
    /// <summary>Real time.</summary>
    public static readonly ReplaySpeed Realtime = new(1.0);

    /// <summary>As fast as back-pressure allows.</summary>
    public static readonly ReplaySpeed Max = new((double?)null);

    /// <summary>"realtime", "max" or a positive factor such as "10".</summary>
    public static ReplaySpeed Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Equals("realtime", StringComparison.OrdinalIgnoreCase)) { return Realtime; }
        if (text.Equals("max", StringComparison.OrdinalIgnoreCase)) { return Max; }
        if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var f) && f > 0 && double.IsFinite(f))
        {
            return new ReplaySpeed(f);
        }
        throw new ArgumentException($"--speed must be 'realtime', 'max' or a positive number (times real time), not '{text}'.");
    }

    /// <inheritdoc />
    public override string ToString() => Factor is { } f ? (f == 1 ? "realtime" : $"{f:g}x") : "max";
}

/// <summary>What a replay saw of one performance.</summary>
public sealed class PerformanceTimeline(ReplayPerformance performance)
{
    /// <summary>The replayed performance.</summary>
    public ReplayPerformance Performance { get; } = performance;

    /// <summary>Provisional total after 1, 2, … clips (index = clips seen − 1), as published live.</summary>
    public List<double> Provisional { get; } = [];

    /// <summary>Per-clip explanations as published when each clip was scored.</summary>
    public List<Contracts.ClipScore> Clips { get; } = [];

    /// <summary>The final message (with the whole breakdown).</summary>
    public Contracts.ProvisionalScore? Final { get; set; }
}
