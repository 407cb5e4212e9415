using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Server.Delivery;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AqaStream.Server.Hosting;

/// <summary>
/// Reads the scorer's outputs from the bus into the <see cref="PerformanceBoard"/> and fans each change out:
/// performance starts and thumbnails from the features topic, clip scores, provisional and final scores. Each topic is
/// read by its own loop in consumer group <see cref="DeliveryOptions.ConsumerGroup"/>; a record is committed once it is on
/// the board. The board keeps clips by index and scores by sequence, so a record read twice changes nothing.
/// </summary>
public sealed class DeliveryBridge(IMessageBus bus, PerformanceBoard board, ScoreFanOut fanOut, DeliveryOptions options, ILogger<DeliveryBridge> logger)
    : BackgroundService
{
    /// <inheritdoc/>
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        Pump(Topics.ClipFeatures, m =>
        {
            switch (m)
            {
                case PerformanceStarted started:
                    fanOut.Publish(board.Apply(started));
                    break;
                case ClipFeatures { Thumbnail: { } png } clip:
                    board.SetThumbnail(clip.PerformanceId, clip.ClipIndex, png);
                    break;
                default:
                    break;
            }
        }, stoppingToken),
        Pump(Topics.ClipScores, c => fanOut.Publish(board.Apply(c)), stoppingToken),
        Pump(Topics.ProvisionalScores, p => fanOut.Publish(board.Apply(p)), stoppingToken));

    // Joins the group at once (before the host reports started), then reads on its own task.
    private Task Pump<T>(Topic<T> topic, Action<T> apply, CancellationToken cancellationToken) where T : class
    {
        var consumer = bus.Subscribe(topic, options.ConsumerGroup);
        return Task.Run(() => ReadAsync(consumer, topic, apply, cancellationToken), cancellationToken);
    }

    private async Task ReadAsync<T>(IBusConsumer<T> consumer, Topic<T> topic, Action<T> apply, CancellationToken cancellationToken) where T : class
    {
        using var owned = consumer;
        try
        {
            await foreach (var record in consumer.ConsumeAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    apply(record.Value);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or KeyNotFoundException)
                {
                    logger.LogWarning(e, "delivery skipped a {Topic} record of {Key}: {Reason}", topic.Name, record.Key, e.Message);
                }
                consumer.Commit(record);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // host stopping
        }
    }
}

/// <summary>Operator actions that go to the venue side of the pipeline: start and end performances on the chunk topic.</summary>
public sealed class PerformanceControl(IMessageBus bus, TimeProvider clock)
{
    private readonly IBusProducer<PerformanceMessage> _producer = bus.Producer(Topics.VideoChunks);

    /// <summary>Publishes a performance start.</summary>
    public async Task<PerformanceStarted> StartAsync(StartPerformanceRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var started = new PerformanceStarted(request.PerformanceId, request.Athlete, request.Discipline ?? "unspecified", request.Segment ?? "unspecified",
            request.Target ?? Scoring.Data.ScoreTarget.TES, clock.GetUtcNow(), request.Competition);
        await _producer.ProduceAsync(started.PerformanceId, started, cancellationToken).ConfigureAwait(false);
        return started;
    }

    /// <summary>Publishes a performance end.</summary>
    public async Task<PerformanceEnded> EndAsync(string performanceId, CancellationToken cancellationToken)
    {
        var ended = new PerformanceEnded(performanceId, clock.GetUtcNow());
        await _producer.ProduceAsync(performanceId, ended, cancellationToken).ConfigureAwait(false);
        return ended;
    }
}

/// <summary>Body of <c>POST /api/performances</c>.</summary>
/// <param name="PerformanceId">Unique id.</param>
/// <param name="Athlete">Athlete's name.</param>
/// <param name="Competition">Competition.</param>
/// <param name="Discipline">Discipline.</param>
/// <param name="Segment">Segment.</param>
/// <param name="Target">TES (default) or PCS.</param>
public sealed record StartPerformanceRequest(string PerformanceId, string Athlete, string? Competition = null, string? Discipline = null,
    string? Segment = null, Scoring.Data.ScoreTarget? Target = null);

/// <summary>Body of <c>POST /api/performances/{id}/panel-score</c>.</summary>
/// <param name="Score">The panel's score, points.</param>
public sealed record PanelScoreRequest(double Score);

/// <summary>Body of <c>PUT /api/model</c>.</summary>
/// <param name="Name">A checkpoint name from <c>GET /api/models</c>.</param>
public sealed record SelectModelRequest(string Name);
