using AqaStream.Pipeline.Contracts;

namespace AqaStream.Pipeline.Live;

/// <summary>Inside the pipeline only: the performance's idle timeout fired (nothing arrived for <paramref name="After"/>
/// on the pipeline's clock, or the input ended); it closes like <see cref="PerformanceEnded"/>.</summary>
public sealed record PerformanceIdle(string PerformanceId, TimeSpan After) : PerformanceMessage(PerformanceId);

/// <summary>Inside the pipeline only: clip <paramref name="ClipIndex"/> never arrived in time and is reported missing.</summary>
public sealed record ClipMissing(string PerformanceId, int ClipIndex) : PerformanceMessage(PerformanceId);
