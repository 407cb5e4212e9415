namespace AqaStream.Pipeline.Contracts;

/// <summary>The explanation of one clip as it is scored: its weight (difficulty), score (execution) and contribution
/// to the provisional total, with the moments the model attended to when scoring it.</summary>
/// <param name="PerformanceId">The performance.</param>
/// <param name="ClipIndex">0-based clip position.</param>
/// <param name="Start">Clip start, seconds from the performance start.</param>
/// <param name="End">Clip end, seconds.</param>
/// <param name="Weight">w_q = softmax of the weight logits over the clips seen so far.</param>
/// <param name="Score">s_q on the competition's score scale (points).</param>
/// <param name="Contribution">w_q·s_q + <paramref name="Deduction"/> in points: the provisional total is the sum of these.</param>
/// <param name="TopAttended">The clips this clip's query attended to most (last layer, head-averaged).</param>
/// <param name="ReceivedAt">When the clip's video reached the ingest (from <see cref="ClipFeatures.ReceivedAt"/>).</param>
/// <param name="Deduction">The clip's expected deduction in points (≤ 0; 0 for a model without a deduction term): a fall
/// is its own penalty, apart from the clip's execution score.</param>
public sealed record ClipScore(
    string PerformanceId,
    int ClipIndex,
    double Start,
    double End,
    double Weight,
    double Score,
    double Contribution,
    IReadOnlyList<AttendedClip> TopAttended,
    DateTimeOffset? ReceivedAt = null,
    double Deduction = 0)
{
    /// <summary>A clip whose expected deduction is at or below this (points, about half a fall) is a likely fall: the
    /// overlay, the tablet (through <c>ClipView.LikelyFall</c>) and the replay report mark it; smaller expected
    /// deductions are part of its contribution only.</summary>
    public const double LikelyFallPoints = -0.5;

    /// <summary>Whether a clip with this expected deduction is a likely fall.</summary>
    public static bool IsLikelyFall(double deduction) => deduction <= LikelyFallPoints;
}

/// <summary>One attended clip and its attention probability.</summary>
public sealed record AttendedClip(int ClipIndex, double Attention);
