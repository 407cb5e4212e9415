using AqaStream.Pipeline.Bus;
using AqaStream.Pipeline.Contracts;
using AqaStream.Server.Delivery;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AqaStream.Server.Hosting;

/// <summary>
/// Reads the scorer's outputs from the bus into the <see cref="PerformanceBoard"/> and fans each change out:
/// performance starts and clip thumbnails from <see cref="Topics.PerformanceEvents"/> (never the features topic, the
/// scorer's input), and the scorer's <see cref="Topics.ClipScored"/> (each clip with the provisional after it, gaps and
/// finals). Each topic is read by its own loop in consumer group <see cref="DeliveryOptions.ConsumerGroup"/>; a record is
/// committed once it is on the board. The board keeps clips by index and scores by progress, so a record read twice
/// changes nothing. A record the board refuses (a clip of another performance, a positive deduction, ...) goes to
/// <see cref="Topics.DeadLetters"/> with the reason, is committed, and the loop goes on: nothing is lost, nothing wrong shown.
/// </summary>
public sealed class DeliveryBridge(IMessageBus bus, PerformanceBoard board, ScoreFanOut fanOut, DeliveryOptions options, TimeProvider clock,
    ILogger<DeliveryBridge> logger) : BackgroundService
{
    /// <inheritdoc/>
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.WhenAll(
        Pump(Topics.PerformanceEvents, m =>
        {
            switch (m)
            {
                case PerformanceStarted started:
                    fanOut.Publish(board.Apply(started));
                    break;
                case ClipThumbnail thumbnail:
                    board.SetThumbnail(thumbnail.PerformanceId, thumbnail.ClipIndex, thumbnail.Png);
                    break;
                default:
                    break;
            }
        }, stoppingToken),
        Pump(Topics.ClipScored, s =>
        {
            if (board.Apply(s) is { } push) { fanOut.Publish(push); }
        }, stoppingToken));

    // Joins the group at once (before the host reports started), then reads on its own task.
    private Task Pump<T>(Topic<T> topic, Action<T> apply, CancellationToken cancellationToken) where T : class
    {
        var consumer = bus.Subscribe(topic, options.ConsumerGroup);
        return Task.Run(() => ReadAsync(consumer, topic, apply, cancellationToken), cancellationToken);
    }

    private async Task ReadAsync<T>(IBusConsumer<T> consumer, Topic<T> topic, Action<T> apply, CancellationToken cancellationToken) where T : class
    {
        using var owned = consumer;
        var deadLetters = bus.Producer(Topics.DeadLetters);
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
                    logger.LogWarning(e, "delivery refused a {Topic} record of {Key}: {Reason}", topic.Name, record.Key, e.Message);
                    var payload = record.Value is PerformanceMessage message ? MessageJson.Serialize(message) : MessageJson.Serialize(record.Value);
                    await deadLetters.ProduceAsync(record.Key, new DeadLetter(topic.Name, record.Key, "delivery refused it: " + e.Message, payload, clock.GetUtcNow()),
                        cancellationToken).ConfigureAwait(false);
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
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _started = new(StringComparer.Ordinal);

    /// <summary>Publishes a performance start; null when this host already started that id (its start may not have
    /// reached the board yet).</summary>
    public async Task<PerformanceStarted?> StartAsync(StartPerformanceRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!_started.TryAdd(request.PerformanceId, 0)) { return null; }
        var started = new PerformanceStarted(request.PerformanceId, request.Athlete, request.Discipline ?? "unspecified", request.Segment ?? "unspecified",
            request.Target ?? Scoring.Data.ScoreTarget.TES, clock.GetUtcNow(), request.Competition, request.Nation);
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
/// <param name="Nation">Whom the athlete represents (country code or club), shown on air.</param>
public sealed record StartPerformanceRequest(string PerformanceId, string Athlete, string? Competition = null, string? Discipline = null,
    string? Segment = null, Scoring.Data.ScoreTarget? Target = null, string? Nation = null) : Api.IValidatedRequest
{
    /// <summary>What a valid body looks like (error messages show it).</summary>
    public const string Example = "{\"performanceId\": ID, \"athlete\": NAME} (optional competition, nation, discipline, segment, target TES|PCS)";

    /// <inheritdoc/>
    public string? Problem() =>
        Text(PerformanceId, "performanceId") ?? Text(Athlete, "athlete") ?? Optional(Competition, "competition") ?? Optional(Discipline, "discipline")
        ?? Optional(Segment, "segment") ?? Optional(Nation, "nation") ?? (Target is null || Enum.IsDefined(Target.Value) ? null : "target must be TES or PCS.");

    private static string? Text(string value, string field) =>
        string.IsNullOrWhiteSpace(value) ? $"{field} must be a non-empty string."
        : value.Length > Hubs.ScoreHub.MaxNameLength ? $"{field} is {value.Length} characters long; at most {Hubs.ScoreHub.MaxNameLength} are allowed."
        : value.Any(char.IsControl) ? $"{field} contains control characters."
        : null;

    private static string? Optional(string? value, string field) => value is null ? null : Text(value, field);
}

/// <summary>Body of <c>POST /api/performances/{id}/panel-score</c>.</summary>
/// <param name="Score">The panel's score, points.</param>
public sealed record PanelScoreRequest(double Score) : Api.IValidatedRequest
{
    /// <summary>Highest panel score accepted (points; figure-skating segment scores stay far below it).</summary>
    public const double MaxScore = 1000;

    /// <summary>What a valid body looks like.</summary>
    public const string Example = "{\"score\": POINTS} with a number from 0 to 1000";

    /// <inheritdoc/>
    public string? Problem() => double.IsFinite(Score) && Score >= 0 && Score <= MaxScore
        ? null
        : $"score must be a number from 0 to {MaxScore} (got {Score.ToString(System.Globalization.CultureInfo.InvariantCulture)}).";
}

/// <summary>Body of <c>PUT /api/model</c>.</summary>
/// <param name="Name">A checkpoint name from <c>GET /api/models</c>.</param>
public sealed record SelectModelRequest(string Name) : Api.IValidatedRequest
{
    /// <summary>What a valid body looks like.</summary>
    public const string Example = "{\"name\": CHECKPOINT} (see GET /api/models)";

    /// <inheritdoc/>
    public string? Problem() => string.IsNullOrWhiteSpace(Name) ? "name must be a non-empty checkpoint name (see GET /api/models)." : null;
}
