namespace AqaStream.Pipeline.Contracts;

/// <summary>The performance is over: the pipeline emits the final score and releases its state.</summary>
/// <param name="PerformanceId">The performance.</param>
/// <param name="EndedAt">Wall-clock end.</param>
/// <param name="ClipCount">Clips the sender produced, when it knows: lets clips missing at the end be reported as
/// missing rather than never noticed.</param>
public sealed record PerformanceEnded(string PerformanceId, DateTimeOffset EndedAt, int? ClipCount = null)
    : PerformanceMessage(PerformanceId)
{
    /// <summary>The <c>type</c> on the wire.</summary>
    public const string TypeName = "performance-ended";
}
