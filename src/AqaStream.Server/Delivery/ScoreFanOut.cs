using System.Collections.Concurrent;

namespace AqaStream.Server.Delivery;

/// <summary>Sends pushes to clients (SignalR in the host; a list in tests).</summary>
public interface IPushSender
{
    /// <summary>Turns a call of <paramref name="method"/> with <paramref name="payload"/> into what
    /// <see cref="SendAsync"/> sends: done once per push and viewer role, shared by every client (serialise once).</summary>
    object Prepare(string method, object payload);

    /// <summary>Sends a prepared push to one client; completes when the transport has taken it (a slow client makes
    /// this slow, for that client only).</summary>
    Task SendAsync(string connectionId, object prepared, CancellationToken cancellationToken);
}

/// <summary>What a client follows: one performance, one competition, or everything.</summary>
/// <param name="PerformanceId">The performance, or null.</param>
/// <param name="Competition">The competition, or null.</param>
public sealed record Subscription(string? PerformanceId, string? Competition)
{
    /// <summary>Everything on this server.</summary>
    public static readonly Subscription All = new(null, null);

    /// <summary>Whether <paramref name="push"/> concerns this subscription.</summary>
    public bool Covers(Push push)
    {
        ArgumentNullException.ThrowIfNull(push);
        return PerformanceId is { } id ? push.PerformanceId == id
            : Competition is not { } c || push.Competition == c;
    }
}

/// <summary>
/// Fans score pushes out to subscribed clients. Every client has its own queue and its own sending loop, so a slow
/// client delays nobody else; when a client's queue reaches <see cref="DeliveryOptions.MaxQueuedPushes"/>, its queued
/// pushes for that performance are dropped and replaced by one snapshot of the latest state, taken when it is sent
/// (coalescing): a client that falls behind costs bounded memory and catches up with the newest state.
/// </summary>
public sealed class ScoreFanOut(PerformanceBoard board, IPushSender sender, DeliveryOptions options) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Subscriber> _subscribers = new(StringComparer.Ordinal);
    private readonly PerformanceBoard _board = board;
    private readonly IPushSender _sender = sender;
    private readonly DeliveryOptions _options = options;

    /// <summary>Counts since start.</summary>
    public DeliveryCounters Counters { get; } = new();

    /// <summary>Connected clients.</summary>
    public int Connections => _subscribers.Count;

    /// <summary>A client connected as <paramref name="role"/>; starts its sending loop.</summary>
    public void Connect(string connectionId, ViewerRole role)
    {
        var subscriber = new Subscriber(connectionId, role, this);
        if (_subscribers.TryAdd(connectionId, subscriber)) { Counters.OnConnected(); }
    }

    /// <summary>The client is gone: its loop stops, its queue is released.</summary>
    public async Task DisconnectAsync(string connectionId)
    {
        if (_subscribers.TryRemove(connectionId, out var subscriber))
        {
            Counters.OnDisconnected();
            await subscriber.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The client follows <paramref name="subscription"/> from now on (call before taking its snapshot, so
    /// nothing falls between the snapshot and the first push).</summary>
    public void Follow(string connectionId, Subscription subscription)
    {
        if (_subscribers.TryGetValue(connectionId, out var s)) { s.Follow(subscription); }
    }

    /// <summary>The client stops following <paramref name="subscription"/>.</summary>
    public void Unfollow(string connectionId, Subscription subscription)
    {
        if (_subscribers.TryGetValue(connectionId, out var s)) { s.Unfollow(subscription); }
    }

    /// <summary>Queues <paramref name="push"/> for every client that follows its performance or competition.</summary>
    public void Publish(Push push)
    {
        ArgumentNullException.ThrowIfNull(push);
        Counters.OnPublished();
        foreach (var s in _subscribers.Values)
        {
            if (s.Follows(push)) { s.Enqueue(push); }
        }
    }

    /// <summary>Pushes queued for a client now (diagnostics and tests), or -1 when not connected.</summary>
    public int Queued(string connectionId) => _subscribers.TryGetValue(connectionId, out var s) ? s.Queued : -1;

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        foreach (var id in _subscribers.Keys.ToArray()) { await DisconnectAsync(id).ConfigureAwait(false); }
    }

    /// <summary>One client: its subscriptions and its queue. Sending runs on the publisher's thread for as long as the
    /// transport takes pushes at once (the usual case: no task switch per client per push), and continues on its own
    /// task only while this client's transport is backed up.</summary>
    private sealed class Subscriber(string connectionId, ViewerRole role, ScoreFanOut owner) : IAsyncDisposable
    {
        private readonly Lock _gate = new();
        private readonly List<Subscription> _follows = [];
        private readonly LinkedList<Push> _queue = new();
        private readonly List<string> _snapshotsDue = [];
        private readonly CancellationTokenSource _stop = new();
        private Task _sending = Task.CompletedTask;
        private bool _draining;

        public int Queued
        {
            get { lock (_gate) { return _queue.Count + _snapshotsDue.Count; } }
        }

        public void Follow(Subscription subscription)
        {
            lock (_gate) { if (!_follows.Contains(subscription)) { _follows.Add(subscription); } }
        }

        public void Unfollow(Subscription subscription)
        {
            lock (_gate) { _follows.Remove(subscription); }
        }

        public bool Follows(Push push)
        {
            lock (_gate) { return _follows.Exists(f => f.Covers(push)); }
        }

        public void Enqueue(Push push)
        {
            bool start;
            lock (_gate)
            {
                if (_stop.IsCancellationRequested) { return; }
                if (_snapshotsDue.Contains(push.PerformanceId))
                {
                    owner.Counters.OnCoalesced(1);   // the snapshot still to be sent will include it
                }
                else if (_queue.Count >= owner._options.MaxQueuedPushes)
                {
                    var dropped = 1;
                    for (var node = _queue.First; node is not null;)
                    {
                        var next = node.Next;
                        if (node.Value.PerformanceId == push.PerformanceId) { _queue.Remove(node); dropped++; }
                        node = next;
                    }
                    _snapshotsDue.Add(push.PerformanceId);
                    owner.Counters.OnCoalesced(dropped);
                }
                else
                {
                    _queue.AddLast(push);
                    owner.Counters.OnQueued(_queue.Count);
                }
                start = !_draining;
                _draining = true;
            }
            if (start) { _sending = DrainAsync(_stop.Token); }
        }

        // Sends until the queue is empty; runs synchronously while every send completes at once.
        private async Task DrainAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                object? next;
                lock (_gate)
                {
                    next = cancellationToken.IsCancellationRequested ? null : Next();
                    if (next is null)
                    {
                        _draining = false;
                        return;
                    }
                }
                try
                {
                    await owner._sender.SendAsync(connectionId, next, cancellationToken).ConfigureAwait(false);
                    owner.Counters.OnSent();
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    lock (_gate) { _draining = false; }
                    return;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    owner.Counters.OnFailed();   // the connection is going away; its disconnect cleans up
                }
            }
        }

        // Snapshots first: they bring a lagging performance up to date; later pushes of it follow in order.
        private object? Next()
        {
            while (_snapshotsDue.Count > 0)
            {
                var id = _snapshotsDue[0];
                _snapshotsDue.RemoveAt(0);
                if (owner._board.Snapshot(id, role) is { } view) { return owner._sender.Prepare(PushMethods.Snapshot, view); }
            }
            if (_queue.First is not { } first) { return null; }
            _queue.RemoveFirst();
            return first.Value.Prepared(role, owner._sender);
        }

        public async ValueTask DisposeAsync()
        {
            Task sending;
            lock (_gate)
            {
                _stop.Cancel();
                _queue.Clear();
                _snapshotsDue.Clear();
                sending = _sending;
            }
            try
            {
                await sending.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // stopped mid-send
            }
            _stop.Dispose();
        }
    }
}

/// <summary>Fan-out counters (thread-safe).</summary>
public sealed class DeliveryCounters : Pipeline.Telemetry.ICounterSource
{
    private long _published, _sent, _coalesced, _failed, _maxQueued, _connected;

    /// <summary>New counters, exported through <see cref="Pipeline.Telemetry.AqaMetrics"/>.</summary>
    public DeliveryCounters() => _ = Pipeline.Telemetry.AqaMetrics.Register(this);   // totals: kept for the life of the process

    /// <summary>Clients connected now.</summary>
    public long Connected => Interlocked.Read(ref _connected);

    /// <summary>Pushes published (before fan-out).</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Pushes delivered to clients (one per client).</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Pushes replaced by a snapshot because their client lagged.</summary>
    public long Coalesced => Interlocked.Read(ref _coalesced);

    /// <summary>Sends that failed (connection closing).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>The longest any client's queue has been.</summary>
    public long MaxQueued => Interlocked.Read(ref _maxQueued);

    internal void OnPublished() => Interlocked.Increment(ref _published);

    internal void OnSent() => Interlocked.Increment(ref _sent);

    internal void OnCoalesced(int n) => Interlocked.Add(ref _coalesced, n);

    internal void OnConnected() => Interlocked.Increment(ref _connected);

    internal void OnDisconnected() => Interlocked.Decrement(ref _connected);

    /// <inheritdoc/>
    public void Read(ICollection<Pipeline.Telemetry.CounterReading> readings)
    {
        readings.Add(new(Pipeline.Telemetry.AqaCounter.ConnectedClients, Connected));
        readings.Add(new(Pipeline.Telemetry.AqaCounter.PushesSent, Sent));
        readings.Add(new(Pipeline.Telemetry.AqaCounter.PushesCoalesced, Coalesced));
    }

    internal void OnFailed() => Interlocked.Increment(ref _failed);

    internal void OnQueued(int length)
    {
        long seen;
        while (length > (seen = Interlocked.Read(ref _maxQueued)) && Interlocked.CompareExchange(ref _maxQueued, length, seen) != seen) { }
    }
}
