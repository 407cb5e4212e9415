using System.Text.Json.Serialization;

namespace AqaStream.Pipeline.Contracts;

/// <summary>
/// A message about one performance, keyed by its id on the bus so that one performance's messages stay in order on
/// one partition. The chunk topic carries <see cref="PerformanceStarted"/>, <see cref="VideoChunk"/>s and
/// <see cref="PerformanceEnded"/>; the features topic the same with <see cref="ClipFeatures"/> in place of chunks; the
/// performance-events topic the start, the end and each clip's <see cref="ClipThumbnail"/> (what delivery reads).
/// On the wire the <c>type</c> property names the message (schemas/*.schema.json).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(PerformanceStarted), PerformanceStarted.TypeName)]
[JsonDerivedType(typeof(VideoChunk), VideoChunk.TypeName)]
[JsonDerivedType(typeof(ClipFeatures), ClipFeatures.TypeName)]
[JsonDerivedType(typeof(PerformanceEnded), PerformanceEnded.TypeName)]
[JsonDerivedType(typeof(ClipThumbnail), ClipThumbnail.TypeName)]
public abstract record PerformanceMessage(string PerformanceId);
