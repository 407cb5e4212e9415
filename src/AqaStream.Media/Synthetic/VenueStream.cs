using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Scoring.Data;

namespace AqaStream.Media.Synthetic;

/// <summary>
/// Publishes a synthetic performance on a bus the way a venue does: <see cref="PerformanceStarted"/>, then each chunk
/// as soon as its last frame would have been captured (real time, or faster by <paramref name="speed"/>), then
/// <see cref="PerformanceEnded"/>. Keyed by performance id on <see cref="Topics.VideoChunks"/>.
/// </summary>
public sealed class VenueStream(SyntheticEncoder encoder, TimeProvider clock, double speed = 1.0, string streamId = "cam-1",
    string competition = VenueStream.DefaultCompetition)
{
    /// <summary>The competition synthetic performances belong to unless told otherwise.</summary>
    public const string DefaultCompetition = "synthetic-open";

    /// <summary>Streams <paramref name="program"/>; returns when its end has been published.</summary>
    public async Task PublishAsync(IBusProducer<PerformanceMessage> producer, SyntheticProgram program, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(producer);
        ArgumentNullException.ThrowIfNull(program);
        if (!(speed > 0)) { throw new ArgumentException("The publishing speed must be positive (1 = real time)."); }
        var id = program.PerformanceId;
        var startedAt = clock.GetUtcNow();
        await producer.ProduceAsync(id, new PerformanceStarted(id, program.Athlete, "synthetic", "free-skating", ScoreTarget.TES, startedAt, competition, program.Nation), cancellationToken).ConfigureAwait(false);
        var container = encoder.Options.Container;
        await foreach (var chunk in encoder.EncodeAsync(program, cancellationToken).ConfigureAwait(false))
        {
            var due = startedAt + TimeSpan.FromSeconds((chunk.StartSeconds + chunk.DurationSeconds) / speed);
            var wait = due - clock.GetUtcNow();
            if (wait > TimeSpan.Zero) { await Task.Delay(wait, clock, cancellationToken).ConfigureAwait(false); }
            await producer.ProduceAsync(id, new VideoChunk(streamId, id, chunk.SequenceNumber, startedAt.AddSeconds(chunk.StartSeconds), chunk.DurationSeconds,
                container, "h264", chunk.Bytes, InitSegment: chunk.InitSegment), cancellationToken).ConfigureAwait(false);
        }
        await producer.ProduceAsync(id, new PerformanceEnded(id, startedAt.AddSeconds(program.FrameCount(encoder.Options.FramesPerSecond) / (double)encoder.Options.FramesPerSecond)),
            cancellationToken).ConfigureAwait(false);
    }
}
