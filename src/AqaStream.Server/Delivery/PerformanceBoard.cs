using AqaStream.Pipeline.Contracts;

namespace AqaStream.Server.Delivery;

/// <summary>
/// The latest state of every performance the server knows, built from the bus (performance starts and thumbnails from the
/// performance-events topic, the scorer's clip-scored steps). Each change returns the <see cref="Push"/> to send to
/// subscribers; a late or lagging subscriber gets <see cref="Snapshot"/> instead of the history. Memory is bounded:
/// at most <see cref="DeliveryOptions.PerformancesKept"/> performances, the oldest finished ones dropped first.
/// Thread-safe.
/// </summary>
public sealed class PerformanceBoard(DeliveryOptions options, TimeProvider clock)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, PerformanceState> _performances = new(StringComparer.Ordinal);
    private long _order;

    /// <summary>Performances known now.</summary>
    public int Count
    {
        get { lock (_gate) { return _performances.Count; } }
    }

    /// <summary>A performance started.</summary>
    public Push Apply(PerformanceStarted started)
    {
        ArgumentNullException.ThrowIfNull(started);
        lock (_gate)
        {
            var p = GetOrAdd(started.PerformanceId);
            p.Started = started;
            return new Push(started.PerformanceId, p.Competition, PushMethods.PerformanceStarted, role => p.View().For(role));
        }
    }

    /// <summary>
    /// A step of the scorer: a clip with the provisional after it (pushed as one <see cref="PushMethods.ClipScored"/>),
    /// a provisional alone after a gap (<see cref="PushMethods.ProvisionalScore"/>), or the final
    /// (<see cref="PushMethods.PerformanceEnded"/>). Null when it changes nothing: a record read again, or one older than
    /// what the board shows (the screen never goes back to an earlier number). A message whose clip and provisional
    /// disagree is refused with an <see cref="ArgumentException"/> saying why.
    /// </summary>
    public Push? Apply(ClipScored scored)
    {
        ArgumentNullException.ThrowIfNull(scored);
        if (scored.Problem() is { } problem) { throw new ArgumentException($"clip-scored message of '{scored.PerformanceId}' refused: {problem}."); }
        var provisional = scored.Provisional;
        lock (_gate)
        {
            var p = GetOrAdd(provisional.PerformanceId);
            if (p.Provisional is { } shown && (shown.Final || (!provisional.Final && provisional.Step <= shown.Step))) { return null; }
            p.Provisional = provisional;
            if (scored.Clip is { } clip)
            {
                p.Clips[clip.ClipIndex] = new ScoredClip(clip, provisional.Total);
                var view = p.ClipView(clip.ClipIndex);
                var after = ProvisionalView.From(provisional);
                return new Push(clip.PerformanceId, p.Competition, PushMethods.ClipScored,
                    role => new ClipScoredPush(clip.PerformanceId, role >= ViewerRole.Judge ? view : view.Public(), after));
            }
            if (!provisional.Final)
            {
                var pushed = new ProvisionalPush(provisional.PerformanceId, ProvisionalView.From(provisional));
                return new Push(provisional.PerformanceId, p.Competition, PushMethods.ProvisionalScore, _ => pushed);
            }
            p.EndedAt = clock.GetUtcNow();
            p.Order = ++_order;
            if (provisional.Breakdown is { } breakdown) { p.Final = breakdown.ToDictionary(c => c.ClipIndex); }
            return new Push(provisional.PerformanceId, p.Competition, PushMethods.PerformanceEnded, role => p.View().For(role));
        }
    }

    /// <summary>A clip's middle-frame thumbnail (a <see cref="ClipThumbnail"/> from the performance-events topic).</summary>
    public void SetThumbnail(string performanceId, int clipIndex, byte[] png)
    {
        lock (_gate) { GetOrAdd(performanceId).Thumbnails[clipIndex] = png; }
    }

    /// <summary>A clip's thumbnail, or null.</summary>
    public byte[]? Thumbnail(string performanceId, int clipIndex)
    {
        lock (_gate)
        {
            return _performances.TryGetValue(performanceId, out var p) && p.Thumbnails.TryGetValue(clipIndex, out var png) ? png : null;
        }
    }

    /// <summary>The judges' panel score was entered; null when the performance is unknown.</summary>
    public Push? SetPanelScore(string performanceId, double score, string enteredBy)
    {
        lock (_gate)
        {
            if (!_performances.TryGetValue(performanceId, out var p)) { return null; }
            p.Panel = new PanelScoreView(score, enteredBy, clock.GetUtcNow().ToUnixTimeMilliseconds());
            var pushed = new PanelPush(performanceId, p.Panel);
            return new Push(performanceId, p.Competition, PushMethods.PanelScore, _ => pushed);
        }
    }

    /// <summary>One performance as <paramref name="role"/> sees it, or null when unknown.</summary>
    public PerformanceView? Snapshot(string performanceId, ViewerRole role)
    {
        lock (_gate) { return _performances.TryGetValue(performanceId, out var p) ? p.View().For(role) : null; }
    }

    /// <summary>Every performance of <paramref name="competition"/> (all when null), oldest first.</summary>
    public IReadOnlyList<PerformanceView> Snapshots(string? competition, ViewerRole role)
    {
        lock (_gate)
        {
            return [.. _performances.Values.Where(p => competition is null || p.Competition == competition)
                .OrderBy(p => p.Created).Select(p => p.View().For(role))];
        }
    }

    /// <summary>The list of performances, oldest first.</summary>
    public IReadOnlyList<PerformanceSummary> List()
    {
        lock (_gate)
        {
            return [.. _performances.Values.OrderBy(p => p.Created).Select(p => new PerformanceSummary(p.Id, p.Started?.Athlete, p.Competition,
                p.Status, p.Started?.StartedAt.ToUnixTimeMilliseconds(), p.Provisional?.ClipsSeen ?? 0, p.Provisional?.Total,
                p.Provisional?.Final ?? false, p.Panel?.Score))];
        }
    }

    private PerformanceState GetOrAdd(string id)
    {
        if (_performances.TryGetValue(id, out var p)) { return p; }
        p = new PerformanceState(id, ++_order);
        _performances[id] = p;
        while (_performances.Count > options.PerformancesKept)
        {
            // Drop the performance that finished longest ago; if none has finished, the one that started first.
            var victim = _performances.Values.Where(x => x != p).OrderBy(x => x.EndedAt is null).ThenBy(x => x.Order).First();
            _performances.Remove(victim.Id);
        }
        return p;
    }

    private sealed class PerformanceState(string id, long created)
    {
        public string Id { get; } = id;
        public long Created { get; } = created;
        public long Order { get; set; } = created;
        public PerformanceStarted? Started { get; set; }
        public ProvisionalScore? Provisional { get; set; }
        public DateTimeOffset? EndedAt { get; set; }
        public PanelScoreView? Panel { get; set; }
        public SortedDictionary<int, ScoredClip> Clips { get; } = [];
        public Dictionary<int, ClipContribution>? Final { get; set; }
        public Dictionary<int, byte[]> Thumbnails { get; } = [];

        public string? Competition => Started?.Competition;
        public string Status => Provisional?.Final == true ? PerformanceView.Ended : PerformanceView.Live;

        public ClipView ClipView(int clipIndex)
        {
            var (c, after) = Clips[clipIndex];
            var (weight, score, contribution, deduction) = Final is { } f && f.TryGetValue(clipIndex, out var fc)
                ? (fc.Weight, fc.Score, fc.Contribution, fc.Deduction) : (c.Weight, c.Score, c.Contribution, c.Deduction);
            return new ClipView(c.ClipIndex, c.Start, c.End, weight, score, contribution, after, c.TopAttended, Thumbnails.ContainsKey(clipIndex), deduction);
        }

        public PerformanceView View() => new(Id, Started?.Athlete, Competition, Started?.Nation, Started?.Discipline, Started?.Segment,
            (Started?.Target ?? Provisional?.Target)?.ToString(), Status, Started?.StartedAt.ToUnixTimeMilliseconds(), EndedAt?.ToUnixTimeMilliseconds(),
            [.. Clips.Keys.Select(ClipView)], Provisional is null ? null : ProvisionalView.From(Provisional), Panel);
    }

    // A clip as scored, with the provisional total right after it (the running-total curve).
    private readonly record struct ScoredClip(ClipScore Clip, double After);
}

/// <summary>Names of the methods the hub calls on clients.</summary>
public static class PushMethods
{
    /// <summary>Payload: <see cref="PerformanceView"/>.</summary>
    public const string PerformanceStarted = "performanceStarted";

    /// <summary>Payload: <see cref="ClipScoredPush"/>.</summary>
    public const string ClipScored = "clipScored";

    /// <summary>Payload: <see cref="ProvisionalPush"/> (a provisional without a new clip: a clip was declared missing).</summary>
    public const string ProvisionalScore = "provisionalScore";

    /// <summary>Payload: the final <see cref="PerformanceView"/>.</summary>
    public const string PerformanceEnded = "performanceEnded";

    /// <summary>Payload: <see cref="PanelPush"/>.</summary>
    public const string PanelScore = "panelScore";

    /// <summary>Payload: <see cref="PerformanceView"/>, sent in place of updates a lagging client missed.</summary>
    public const string Snapshot = "snapshot";
}

/// <summary>A change to send to the subscribers of a performance (and of its competition).</summary>
/// <param name="PerformanceId">The performance.</param>
/// <param name="Competition">Its competition, when known.</param>
/// <param name="Method">The client method (<see cref="PushMethods"/>).</param>
/// <param name="Payload">The payload for a viewer role (judges see more).</param>
public sealed record Push(string PerformanceId, string? Competition, string Method, Func<ViewerRole, object> Payload)
{
    private readonly object?[] _prepared = new object?[Enum.GetValues<ViewerRole>().Length];

    /// <summary>The push prepared for <paramref name="role"/> by <paramref name="sender"/>, made once and shared by every
    /// client of that role (two clients racing may both prepare it; either result is the same).</summary>
    public object Prepared(ViewerRole role, IPushSender sender)
    {
        ArgumentNullException.ThrowIfNull(sender);
        return Volatile.Read(ref _prepared[(int)role]) ?? Interlocked.CompareExchange(ref _prepared[(int)role], sender.Prepare(Method, Payload(role)), null)
            ?? _prepared[(int)role]!;
    }
}

/// <summary>Payload of <see cref="PushMethods.ClipScored"/>: the clip and the provisional right after it, together.</summary>
public sealed record ClipScoredPush(string PerformanceId, ClipView Clip, ProvisionalView Provisional);

/// <summary>Payload of <see cref="PushMethods.ProvisionalScore"/>.</summary>
public sealed record ProvisionalPush(string PerformanceId, ProvisionalView Provisional);

/// <summary>Payload of <see cref="PushMethods.PanelScore"/>.</summary>
public sealed record PanelPush(string PerformanceId, PanelScoreView Panel);

/// <summary>Delivery settings (configuration section <c>Delivery</c>).</summary>
public sealed record DeliveryOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Delivery";

    /// <summary>Performances kept in memory; the oldest finished go first.</summary>
    public int PerformancesKept { get; init; } = 200;

    /// <summary>The delivery's consumer group on the result topics. Every web host must see every result, so each
    /// should have its own (<c>aqa serve</c> makes one per process); a new group reads the retained topics from the
    /// start, which rebuilds the board after a restart.</summary>
    public string ConsumerGroup { get; init; } = "aqa-delivery";

    /// <summary>Pushes queued for one client before it counts as lagging: its queued updates of a performance are
    /// then replaced by one snapshot of the latest state, so a slow client costs bounded memory.</summary>
    public int MaxQueuedPushes { get; init; } = 64;

    /// <summary>Largest message a client may send to the hub (bytes).</summary>
    public long MaxClientMessageBytes { get; init; } = 8 * 1024;

    /// <summary>Largest REST request body (bytes); larger ones are refused with 413.</summary>
    public long MaxRequestBodyBytes { get; init; } = 1024 * 1024;
}
