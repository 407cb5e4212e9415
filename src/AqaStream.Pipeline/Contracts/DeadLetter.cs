namespace AqaStream.Pipeline.Contracts;

/// <summary>A message the pipeline could not use, kept with the reason instead of being lost.</summary>
/// <param name="SourceTopic">Where it came from.</param>
/// <param name="Key">Its bus key (performance id), when known.</param>
/// <param name="Reason">What was wrong, in words a person can act on.</param>
/// <param name="Payload">The message as JSON (or the raw text when it was not valid JSON).</param>
/// <param name="Timestamp">When it was rejected.</param>
public sealed record DeadLetter(string SourceTopic, string? Key, string Reason, string Payload, DateTimeOffset Timestamp);
