using System.Reactive.Concurrency;
using AqaStream.Scoring.Model;

namespace AqaStream.Pipeline.Live;

/// <summary>How clips of different performances are gathered into one batched scorer step.</summary>
/// <param name="MaxBatch">Most clips (performances) in one step; a full batch goes at once.</param>
/// <param name="MaxWait">Longest a clip waits for others to join its batch: the latency a batch may add.</param>
public sealed record BatchWindow(int MaxBatch, TimeSpan MaxWait)
{
    /// <summary>Throws on a window that cannot work.</summary>
    public void Validate()
    {
        if (MaxBatch < 1) { throw new ArgumentException($"The batch size must be at least 1 (got {MaxBatch})."); }
        if (MaxWait < TimeSpan.Zero) { throw new ArgumentException("The batch wait cannot be negative."); }
    }
}

/// <summary>
/// Gathers clips of many performances for one <see cref="IBatchedClipScorer"/> and steps them together on
/// <c>scheduler</c> (a dedicated thread in production, virtual time in tests): when <see cref="BatchWindow.MaxBatch"/>
/// clips wait, or <see cref="BatchWindow.MaxWait"/> after the first one arrived. A performance has at most one clip in
/// a step; its next one waits for the next step. With <c>parallelism</c> above 1 a step is cut into that many parts of
/// disjoint performances, stepped at once on as many threads (the lanes wait for the step meanwhile, so their cores are
/// free). A part the scorer refuses (a bad vector) is retried clip by clip so only the bad clip fails. Each clip's
/// completion runs on the scheduler, after the step, outside every lock.
/// </summary>
public sealed class ClipBatcher(IBatchedClipScorer scorer, BatchWindow window, IScheduler scheduler, int parallelism = 1)
{
    /// <summary>Fewest clips in one part when a step is cut for several threads (below it a part's fixed cost wins).</summary>
    public const int MinClipsPerPart = 8;

    private readonly object _gate = new();
    private readonly List<Pending> _waiting = [];
    private IDisposable? _timer;
    private bool _flushNow;
    private long _steps;
    private long _clips;

    /// <summary>Batched steps run so far.</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Clips stepped so far (clips / steps is the mean batch).</summary>
    public long Clips => Interlocked.Read(ref _clips);

    /// <summary>Queues one clip for <paramref name="state"/>; <paramref name="done"/> gets null, or the scorer's
    /// refusal of this clip, once it has been stepped.</summary>
    public void Submit(IncrementalDecoder state, float[] features, Action<Exception?> done)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(done);
        lock (_gate)
        {
            _waiting.Add(new Pending(state, features, done));
            if (_waiting.Count >= window.MaxBatch)
            {
                if (!_flushNow)
                {
                    _flushNow = true;
                    _timer?.Dispose();
                    _timer = scheduler.Schedule(Flush);
                }
            }
            else
            {
                _timer ??= scheduler.Schedule(window.MaxWait, Flush);
            }
        }
    }

    private void Flush()
    {
        List<Pending> batch;
        lock (_gate)
        {
            _timer = null;
            _flushNow = false;
            var states = new HashSet<IncrementalDecoder>(ReferenceEqualityComparer.Instance);
            batch = [];
            var left = new List<Pending>(Math.Max(0, _waiting.Count - window.MaxBatch));
            foreach (var p in _waiting)
            {
                if (batch.Count < window.MaxBatch && states.Add(p.State)) { batch.Add(p); }
                else { left.Add(p); }
            }
            _waiting.Clear();
            _waiting.AddRange(left);
            if (_waiting.Count > 0)
            {
                // Clips left (the same performance's next clip, or more than a batch): the next step goes at once.
                _flushNow = true;
                _timer = scheduler.Schedule(Flush);
            }
        }
        if (batch.Count == 0) { return; }
        var outcomes = new Exception?[batch.Count];
        var parts = Math.Clamp(batch.Count / MinClipsPerPart, 1, Math.Max(1, parallelism));
        if (parts == 1) { StepPart(batch, 0, batch.Count, outcomes); }
        else
        {
            var size = (batch.Count + parts - 1) / parts;
            Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = parts },
                k => StepPart(batch, k * size, Math.Min(size, batch.Count - (k * size)), outcomes));
        }
        Interlocked.Increment(ref _steps);
        Interlocked.Add(ref _clips, batch.Count);
        for (var i = 0; i < batch.Count; i++) { batch[i].Done(outcomes[i]); }
    }

    private void StepPart(List<Pending> batch, int start, int count, Exception?[] outcomes)
    {
        if (count <= 0) { return; }
        try
        {
            scorer.Step(batch.GetRange(start, count).Select(p => (p.State, p.Features)).ToList());
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // Find the clip that was refused; the others are stepped alone (results are the same as batched).
            for (var i = start; i < start + count; i++)
            {
                try
                {
                    scorer.Step([(batch[i].State, batch[i].Features)]);
                }
                catch (Exception one) when (one is ArgumentException or InvalidOperationException)
                {
                    outcomes[i] = one;
                }
            }
        }
    }

    private sealed record Pending(IncrementalDecoder State, float[] Features, Action<Exception?> Done);
}
