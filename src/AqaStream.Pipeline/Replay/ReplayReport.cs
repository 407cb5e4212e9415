using System.Text.Json;
using System.Text.Json.Serialization;
using AqaStream.Scoring.Metrics;

namespace AqaStream.Pipeline.Replay;

/// <summary>
/// The evaluation of a replay (written as <c>report.json</c>, snake_case): final metrics against the judges, the
/// early-prediction curve (how good the provisional score is after 10 %, 20 %, … of each performance's clips) and
/// every performance's timeline.
/// </summary>
public sealed record ReplayReport(
    ReportModel Model,
    string Speed,
    int Performances,
    int Labelled,
    double ReplaySeconds,
    long ClipsScored,
    long ClipsMissing,
    long DeadLetters,
    double? Spearman,
    double? Mse,
    double? Rl2,
    IReadOnlyList<EarlyPredictionPoint> EarlyPrediction,
    IReadOnlyList<TimelineReport> Timelines)
{
    /// <summary>Bias, interval, worst cases, impossible values and baselines (null without labels).</summary>
    public ReplayAnalysis? Analysis { get; init; }

    /// <summary>Fractions of a performance's clips at which the early-prediction curve is read.</summary>
    public static readonly double[] Fractions = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

    /// <summary>snake_case, indented.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Builds the report of a replay.</summary>
    public static ReplayReport Build(ReplayResult result, ReportModel model, ReplaySpeed speed)
    {
        ArgumentNullException.ThrowIfNull(result);
        var timelines = result.Timelines.Select(TimelineReport.From).ToList();
        var labelled = result.Timelines.Where(t => t.Performance.Label is not null && t.Final is not null && t.Provisional.Count > 0).ToList();
        double? spearman = null, mse = null, rl2 = null;
        var curve = new List<EarlyPredictionPoint>();
        if (labelled.Count >= 2)
        {
            var actual = labelled.Select(t => t.Performance.Label!.Value).ToList();
            var final = RegressionMetrics.Evaluate(labelled.Select(t => t.Final!.Total).ToList(), actual);
            (spearman, mse, rl2) = (final.Spearman, final.Mse, final.RelativeL2);
            foreach (var f in Fractions)
            {
                var early = labelled.Select(t => t.Provisional[ClipsAt(f, t.Provisional.Count) - 1]).ToList();
                curve.Add(new EarlyPredictionPoint(f, RegressionMetrics.Spearman(early, actual), RegressionMetrics.Mse(early, actual)));
            }
        }
        return new ReplayReport(model, speed.ToString(), result.Timelines.Count, labelled.Count, Math.Round(result.Elapsed.TotalSeconds, 3),
            result.Counters.ClipsScored, result.Counters.Missing, result.Counters.DeadLetters, spearman, mse, rl2, curve, timelines);
    }

    /// <summary>Clips seen after fraction <paramref name="fraction"/> of <paramref name="clips"/> (at least one).</summary>
    public static int ClipsAt(double fraction, int clips) => Math.Clamp((int)Math.Ceiling(fraction * clips - 1e-9), 1, clips);

    /// <summary>The JSON text.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json) + "\n";
}

/// <summary>Which model was replayed.</summary>
public sealed record ReportModel(string Id, string Version, string Target, string Mode, double ScoreScale, string Checkpoint);

/// <summary>One point of the early-prediction curve.</summary>
public sealed record EarlyPredictionPoint(double Fraction, double Spearman, double Mse);

/// <summary>One performance in the report.</summary>
public sealed record TimelineReport(string PerformanceId, double? Label, double? Final, IReadOnlyList<int> MissingClips, IReadOnlyList<TimelineClip> Clips,
    string? Competition = null)
{
    /// <summary>From what the replay saw: per clip, the final weight, score and contribution, and the provisional total
    /// published when that clip was scored.</summary>
    public static TimelineReport From(PerformanceTimeline t)
    {
        ArgumentNullException.ThrowIfNull(t);
        var breakdown = t.Final?.Breakdown ?? [];
        var clips = breakdown.Select((c, q) => new TimelineClip(c.ClipIndex,
            Math.Round(c.Weight, 6), Math.Round(c.Score, 4), Math.Round(c.Contribution, 5),
            q < t.Provisional.Count ? Math.Round(t.Provisional[q], 4) : null, Math.Round(c.Deduction, 5))).ToList();
        return new TimelineReport(t.Performance.Id, t.Performance.Label, t.Final?.Total, t.Final?.MissingClips ?? [], clips, t.Performance.Competition);
    }
}

/// <summary>One clip of a timeline: final weight w_q, clip score s_q (points), contribution w_q·s_q + deduction, the running
/// provisional total when it was scored, and the clip's expected deduction (points, ≤ 0; 0 for a model without a
/// deduction term).</summary>
public sealed record TimelineClip(int ClipIndex, double Weight, double Score, double Contribution, double? Provisional, double Deduction = 0);
