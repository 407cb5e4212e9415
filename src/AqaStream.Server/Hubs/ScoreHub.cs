using AqaStream.Server.Auth;
using AqaStream.Server.Delivery;
using Microsoft.AspNetCore.Authorization;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Logging;

namespace AqaStream.Server.Hubs;

/// <summary>
/// The live scores hub (<c>/hub</c>). A client subscribes to a performance, a competition, or everything, and gets a
/// snapshot back at once; then the server pushes <c>performanceStarted</c>, <c>clipScored</c>,
/// <c>provisionalScore</c>, <c>performanceEnded</c>, <c>panelScore</c>, and <c>snapshot</c> when the client lagged and
/// its missed updates were coalesced. Judges get each clip's attention details; overlays the public results.
/// </summary>
[Authorize(Policy = AqaRoles.ResultsPolicy)]
public sealed class ScoreHub(PerformanceBoard board, ScoreFanOut fanOut) : Hub
{
    /// <summary>Longest id or competition name accepted.</summary>
    public const int MaxNameLength = 200;

    private ViewerRole Viewer => AqaAuthentication.ViewerOf(Context.User!);

    /// <inheritdoc/>
    public override Task OnConnectedAsync()
    {
        fanOut.Connect(Context.ConnectionId, Viewer);
        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public override Task OnDisconnectedAsync(Exception? exception) => fanOut.DisconnectAsync(Context.ConnectionId);

    /// <summary>Follows one performance; returns its snapshot. An unknown id is an error (the list is at
    /// <c>GET /api/performances</c>).</summary>
    public PerformanceView Subscribe(string performanceId)
    {
        Check(performanceId, "performanceId");
        // Follow first, then snapshot: nothing falls between the two (a push may repeat what the snapshot holds).
        var subscription = new Subscription(performanceId, null);
        fanOut.Follow(Context.ConnectionId, subscription);
        if (board.Snapshot(performanceId, Viewer) is { } view) { return view; }
        fanOut.Unfollow(Context.ConnectionId, subscription);
        throw new HubException($"unknown performance '{performanceId}': GET /api/performances lists the performances this server has.");
    }

    /// <summary>Follows a competition (every performance in it, including those that start later); returns the
    /// snapshots of those known now.</summary>
    public IReadOnlyList<PerformanceView> SubscribeCompetition(string competition)
    {
        Check(competition, "competition");
        fanOut.Follow(Context.ConnectionId, new Subscription(null, competition));
        return board.Snapshots(competition, Viewer);
    }

    /// <summary>Follows every performance on this server (the overlay's default); returns the snapshots known now.</summary>
    public IReadOnlyList<PerformanceView> SubscribeAll()
    {
        fanOut.Follow(Context.ConnectionId, Subscription.All);
        return board.Snapshots(null, Viewer);
    }

    /// <summary>Stops following a performance.</summary>
    public void Unsubscribe(string performanceId)
    {
        Check(performanceId, "performanceId");
        fanOut.Unfollow(Context.ConnectionId, new Subscription(performanceId, null));
    }

    private static void Check(string value, string what)
    {
        if (string.IsNullOrWhiteSpace(value) || value.Length > MaxNameLength)
        {
            throw new HubException($"{what} must be a non-empty string of at most {MaxNameLength} characters.");
        }
    }
}

/// <summary>Sends pushes through SignalR: each push is serialised once (<see cref="SerializedHubMessage"/>, as SignalR's
/// own group sends do) and written to each connection's transport.</summary>
public sealed class SignalRPushSender(ScoreHubLifetimeManager connections) : IPushSender
{
    /// <inheritdoc/>
    public object Prepare(string method, object payload) => new SerializedHubMessage(new InvocationMessage(method, [payload]));

    /// <inheritdoc/>
    public Task SendAsync(string connectionId, object prepared, CancellationToken cancellationToken) =>
        connections.Connection(connectionId) is { } connection
            ? connection.WriteAsync((SerializedHubMessage)prepared, cancellationToken).AsTask()
            : Task.CompletedTask;
}

/// <summary>SignalR's default lifetime manager, also keeping each connection's context so that pushes can be written to
/// one connection pre-serialised.</summary>
public sealed class ScoreHubLifetimeManager(ILogger<DefaultHubLifetimeManager<ScoreHub>> logger) : DefaultHubLifetimeManager<ScoreHub>(logger)
{
    private readonly ConcurrentDictionary<string, HubConnectionContext> _connections = new(StringComparer.Ordinal);

    /// <summary>The connection, while it is open.</summary>
    public HubConnectionContext? Connection(string connectionId) => _connections.TryGetValue(connectionId, out var c) ? c : null;

    /// <inheritdoc/>
    public override Task OnConnectedAsync(HubConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connections[connection.ConnectionId] = connection;
        return base.OnConnectedAsync(connection);
    }

    /// <inheritdoc/>
    public override Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _connections.TryRemove(connection.ConnectionId, out _);
        return base.OnDisconnectedAsync(connection);
    }
}
