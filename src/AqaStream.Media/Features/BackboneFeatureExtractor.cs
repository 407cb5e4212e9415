using System.Collections.Concurrent;
using AqaStream.Media.Decoding;
using AqaStream.Media.Windowing;
using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;

namespace AqaStream.Media.Features;

/// <summary>
/// Features from an external backbone service (a GPU feature extractor, e.g. I3D or VideoMAE, deployed beside the
/// scorer): the service reads the same video chunks and publishes one <see cref="ClipFeatures"/> per clip on
/// <see cref="Topic"/>; this extractor answers each clip of the ingest with the matching message (same performance id
/// and clip index), so windowing, gaps and ordering stay the ingest's. A clip whose features do not come within
/// <see cref="Timeout"/> fails (the ingest dead-letters it and leaves a gap).
/// </summary>
public sealed class BackboneFeatureExtractor : IClipFeatureExtractor, IAsyncDisposable
{
    /// <summary>Where backbone services publish.</summary>
    public static readonly Topic<PerformanceMessage> Topic = new("aqa.backbone-features");

    /// <summary>The consumer group it reads the backbone topic in.</summary>
    public const string ConsumerGroup = "aqa-ingest-backbone";

    private readonly ConcurrentDictionary<(string, int), TaskCompletionSource<float[]>> _pending = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;

    /// <summary>Starts reading <see cref="Topic"/> on <paramref name="bus"/>.</summary>
    public BackboneFeatureExtractor(IMessageBus bus, string name, int dimension, FrameSize inputSize)
    {
        ArgumentNullException.ThrowIfNull(bus);
        Name = name;
        Dimension = dimension;
        InputSize = inputSize;
        var consumer = bus.Subscribe(Topic, ConsumerGroup);
        _reader = Task.Run(async () =>
        {
            using (consumer)
            {
                try
                {
                    await foreach (var record in consumer.ConsumeAsync(_stop.Token).ConfigureAwait(false))
                    {
                        if (record.Value is ClipFeatures f) { Slot(f.PerformanceId, f.ClipIndex).TrySetResult(f.Vector); }
                        consumer.Commit(record);
                    }
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                }
            }
        });
    }

    /// <summary>How long a clip waits for its features.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public int Dimension { get; }

    /// <inheritdoc/>
    public FrameSize InputSize { get; }

    /// <inheritdoc/>
    public async ValueTask<float[]> ExtractAsync(VideoClip clip, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clip);
        var key = (clip.PerformanceId, clip.ClipIndex);
        try
        {
            var vector = await Slot(key.PerformanceId, key.ClipIndex).Task.WaitAsync(Timeout, cancellationToken).ConfigureAwait(false);
            if (vector.Length != Dimension)
            {
                throw new InvalidDataException($"the backbone sent {vector.Length} features for clip {clip.ClipIndex}, expected {Dimension}.");
            }
            return vector;
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"no backbone features for clip {clip.ClipIndex} of {clip.PerformanceId} on {Topic.Name} within {Timeout.TotalSeconds} s.");
        }
        finally
        {
            _pending.TryRemove(key, out _);
        }
    }

    private TaskCompletionSource<float[]> Slot(string performanceId, int clip) =>
        _pending.GetOrAdd((performanceId, clip), _ => new TaskCompletionSource<float[]>(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Stops reading.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try { await _reader.ConfigureAwait(false); } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
