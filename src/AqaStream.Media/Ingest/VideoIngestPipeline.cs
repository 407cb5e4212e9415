using System.Globalization;
using System.Reactive.Concurrency;
using System.Reactive.Linq;
using System.Reactive.Threading.Tasks;
using AqaStream.Media.Decoding;
using AqaStream.Media.Features;
using AqaStream.Media.Thumbnails;
using AqaStream.Media.Windowing;
using AqaStream.Pipeline.Contracts;
using AqaStream.Pipeline.Live;
using AqaStream.Pipeline.Live.Operators;

namespace AqaStream.Media.Ingest;

/// <summary>
/// Video chunks to clip features (Rx): per performance, chunks are checked against the performance's clock, decoded
/// (every chunk as soon as it arrives, in parallel), put back in order, windowed into clips and featurised (with a thumbnail of each clip's middle frame).
/// Out come the messages the scorer reads: <see cref="PerformanceStarted"/>, one <see cref="ClipFeatures"/> per clip,
/// <see cref="PerformanceEnded"/> (with the clip count the performance's length implies, so clips lost with a chunk are
/// reported missing at the end). A bad chunk goes to the dead letters with its reason and becomes a gap.
/// </summary>
public static class VideoIngestPipeline
{
    /// <summary>Builds the pipeline over <paramref name="chunks"/> (the video-chunks topic).</summary>
    public static IObservable<PerformanceMessage> Create(IObservable<PerformanceMessage> chunks, IChunkDecoder decoder, IClipFeatureExtractor extractor,
        ClipWindowOptions window, DeadLetters deadLetters, IScheduler clock, IngestCounters? counters = null)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentNullException.ThrowIfNull(extractor);
        ArgumentNullException.ThrowIfNull(window);
        window.Validated();
        if (decoder.FrameSize != extractor.InputSize)
        {
            throw new ArgumentException($"The decoder produces {decoder.FrameSize} frames but the extractor '{extractor.Name}' reads {extractor.InputSize}.");
        }
        counters ??= new IngestCounters();
        return chunks.GroupByPerformance()
            .SelectMany(group => new PerformanceIngest(group.Key, decoder, extractor, window, deadLetters, clock, counters).Run(group));
    }

    /// <summary>One performance's ingest state.</summary>
    private sealed class PerformanceIngest(string performanceId, IChunkDecoder decoder, IClipFeatureExtractor extractor, ClipWindowOptions window,
        DeadLetters deadLetters, IScheduler clock, IngestCounters counters)
    {
        private readonly ClipWindower _windower = new(window);
        private readonly Dictionary<string, byte[]> _initSegments = new(StringComparer.Ordinal);
        private DateTimeOffset? _epoch;
        private long _lastSequence = -1;
        private long _nextFrame;   // first frame after the last accepted chunk

        public IObservable<PerformanceMessage> Run(IObservable<PerformanceMessage> messages) =>
            // Each message becomes a hot task (decoding starts at once); Concat keeps arrival order for windowing.
            messages.Select(m => Step(m).ToObservable()).Concat()
                .Select(step => Emit(step).ToObservable()).Concat()
                .SelectMany(list => list);

        private async Task<Step> Step(PerformanceMessage message)
        {
            switch (message)
            {
                case PerformanceStarted started:
                    if (_epoch is not null) { return Reject(message, "the performance was already started on this topic."); }
                    _epoch = started.StartedAt;
                    return new Step(message, null);
                case PerformanceEnded:
                    return new Step(message, null);
                case VideoChunk chunk:
                    return await Decode(chunk).ConfigureAwait(false);
                default:
                    return Reject(message, $"a {message.GetType().Name} does not belong on the video-chunks topic.");
            }
        }

        private async Task<Step> Decode(VideoChunk chunk)
        {
            var arrived = clock.Now;
            counters.OnChunk();
            if (_epoch is not { } epoch) { return Reject(chunk, "chunk for a performance that has not started (send performance-started first)."); }
            if (chunk.SequenceNumber <= _lastSequence)
            {
                return Reject(chunk, Invariant($"chunk {chunk.SequenceNumber} arrived after chunk {_lastSequence}: duplicate or out of order."));
            }
            var offset = (chunk.StartTime - epoch).TotalSeconds;
            var firstFrame = (long)Math.Round(offset * window.FramesPerSecond);
            if (firstFrame < _nextFrame)
            {
                return Reject(chunk, Invariant($"chunk {chunk.SequenceNumber} starts at {offset:F3} s, before the end of the previous chunk ({window.SecondsAt(_nextFrame):F3} s): its timestamps jump backwards."));
            }
            if (!double.IsFinite(chunk.DurationSeconds) || chunk.DurationSeconds <= 0)
            {
                return Reject(chunk, Invariant($"durationSeconds {chunk.DurationSeconds} is not a positive number."));
            }
            var expectedFrames = (int)Math.Round(chunk.DurationSeconds * window.FramesPerSecond);
            byte[] bytes;
            try
            {
                bytes = ChunkPayloads.Read(chunk);
            }
            catch (InvalidDataException e)
            {
                return Reject(chunk, e.Message);
            }
            if (chunk.InitSegment is { Length: > 0 } init) { _initSegments[chunk.StreamId] = init; }
            if (chunk.Container == "cmaf")
            {
                if (!_initSegments.TryGetValue(chunk.StreamId, out var streamInit))
                {
                    return Reject(chunk, $"CMAF chunk of stream '{chunk.StreamId}' before any init segment for it.");
                }
                bytes = [.. streamInit, .. bytes];
            }
            // Accepted in order: later chunks are checked against this one even while it decodes.
            _lastSequence = chunk.SequenceNumber;
            _nextFrame = firstFrame + expectedFrames;
            IReadOnlyList<byte[]> frames;
            try
            {
                frames = await decoder.DecodeAsync(new EncodedChunk(chunk.Container, chunk.Codec, bytes, expectedFrames)).ConfigureAwait(false);
            }
            catch (ChunkDecodeException e)
            {
                return Reject(chunk, Invariant($"chunk {chunk.SequenceNumber} cannot be decoded: {e.Message}"));
            }
            if (frames.Count != expectedFrames)
            {
                return Reject(chunk, Invariant($"chunk {chunk.SequenceNumber} decoded to {frames.Count} frames, but {chunk.DurationSeconds} s at {window.FramesPerSecond} fps is {expectedFrames}: truncated, or another frame rate."));
            }
            counters.OnDecoded(frames.Count);
            return new Step(chunk, new DecodedChunk(performanceId, chunk.SequenceNumber, firstFrame, frames, arrived));
        }

        private async Task<List<PerformanceMessage>> Emit(Step step)
        {
            var output = new List<PerformanceMessage>();
            switch (step.Message)
            {
                case PerformanceStarted when !step.Rejected:
                    output.Add(step.Message);
                    break;
                case PerformanceEnded ended when _epoch is { } epoch:
                    var frames = (long)Math.Round((ended.EndedAt - epoch).TotalSeconds * window.FramesPerSecond);
                    output.Add(ended with { ClipCount = window.ClipsIn(frames) });
                    break;
                case PerformanceEnded ended:
                    deadLetters.Reject(ended, "performance-ended for a performance that never started.");
                    break;
                default:
                    break;
            }
            if (step.Decoded is { } decoded)
            {
                foreach (var clip in _windower.Add(decoded))
                {
                    float[] vector;
                    try
                    {
                        vector = await extractor.ExtractAsync(clip).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is TimeoutException or InvalidDataException or ArgumentException or IOException)
                    {
                        Reject(step.Message, Invariant($"no features for clip {clip.ClipIndex} ({extractor.Name}): {e.Message}"));
                        continue;
                    }
                    counters.OnClip();
                    var middle = clip.Frames[clip.Frames.Count / 2];
                    output.Add(new ClipFeatures(performanceId, clip.ClipIndex, clip.Start, clip.End, vector, clip.ArrivedAt));
                    output.Add(new ClipThumbnail(performanceId, clip.ClipIndex, GreyPng.Encode(middle, decoder.FrameSize.Width, decoder.FrameSize.Height)));
                }
            }
            return output;
        }

        private Step Reject(PerformanceMessage message, string reason)
        {
            counters.OnRejected();
            deadLetters.Reject(message, reason);
            return new Step(message, null, Rejected: true);
        }

        private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
    }

    private sealed record Step(PerformanceMessage Message, DecodedChunk? Decoded, bool Rejected = false);
}

/// <summary>What the ingest has done (thread-safe counters).</summary>
public sealed class IngestCounters : Pipeline.Telemetry.ICounterSource
{
    private long _chunks, _frames, _clips, _rejected;

    /// <summary>New counters, exported through <see cref="Pipeline.Telemetry.AqaMetrics"/>.</summary>
    public IngestCounters() => _ = Pipeline.Telemetry.AqaMetrics.Register(this);   // totals: kept for the life of the process

    /// <summary>Chunks received.</summary>
    public long Chunks => Interlocked.Read(ref _chunks);

    /// <summary>Frames decoded from accepted chunks.</summary>
    public long Frames => Interlocked.Read(ref _frames);

    /// <summary>Clips featurised.</summary>
    public long Clips => Interlocked.Read(ref _clips);

    /// <summary>Messages sent to the dead letters.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    internal void OnChunk() => Interlocked.Increment(ref _chunks);

    internal void OnDecoded(int frames) => Interlocked.Add(ref _frames, frames);

    internal void OnClip() => Interlocked.Increment(ref _clips);

    internal void OnRejected() => Interlocked.Increment(ref _rejected);

    /// <inheritdoc/>
    public void Read(ICollection<Pipeline.Telemetry.CounterReading> readings)
    {
        readings.Add(new(Pipeline.Telemetry.AqaCounter.ChunksReceived, Chunks));
        readings.Add(new(Pipeline.Telemetry.AqaCounter.FramesDecoded, Frames));
        readings.Add(new(Pipeline.Telemetry.AqaCounter.ClipsDecoded, Clips));
        if (Rejected > 0) { readings.Add(new(Pipeline.Telemetry.AqaCounter.DeadLetters, Rejected, Pipeline.Bus.Topics.VideoChunks.Name)); }
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"chunks {Chunks}, frames {Frames}, clips {Clips}, rejected {Rejected}");
}
