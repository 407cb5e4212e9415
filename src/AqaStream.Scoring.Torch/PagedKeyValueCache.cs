using TorchSharp;
using static TorchSharp.torch;

namespace AqaStream.Scoring.Torch;

/// <summary>
/// The cached key and value rows of every streaming performance of one decoder, in one libtorch pool of fixed-size
/// blocks (the paged layout inference servers use for stateful sequences, vLLM's PagedAttention): a performance holds a
/// list of block ids, and a batched step reads all its performances' rows with one <c>index_select</c> and writes their
/// new rows with one <c>index_put_</c>, whatever the batch size. Per-performance buffers cost a few native calls per
/// performance and cache on every step, and doubling buffers hold up to twice the rows in use; a block wastes fewer
/// than <see cref="BlockRows"/> rows.
/// Steps of disjoint performances may read and write at once (<see cref="Reading"/>). A pool read in place
/// (<see cref="PagedAttention"/>) grows by adding a segment, without copying or waiting for them; a gathering pool grows
/// by copying, waiting for them.
/// </summary>
/// <param name="caches">Cached vectors per position.</param>
/// <param name="heads">Attention heads.</param>
/// <param name="headDim">Values per head.</param>
/// <param name="device">Where the pool lives.</param>
/// <param name="readsWrittenRowsOnly">Every reader reads rows it has written only (<see cref="PagedAttention"/>), so new
/// segments need not be zeroed: allocating one is then nearly free, where zeroing 518 MB took about a second in which
/// every step that needed a block waited (bench live at 2500 streaming performances: one episode, p99 848 ms). A
/// gather reads whole blocks, so it needs finite values everywhere and gets zeros.</param>
internal sealed class PagedKeyValueCache(long caches, long heads, long headDim, Device device, bool readsWrittenRowsOnly = false) : IDisposable
{
    /// <summary>Rows per block: 16 keeps the waste per performance under 16 rows and a gather's index short.</summary>
    public const int BlockRows = 16;

    /// <summary>Blocks of the first segment; each later segment holds half the blocks there are, so the pool grows by half.</summary>
    private const long InitialBlocks = 64;

    private readonly object _gate = new();
    private readonly ReaderWriterLockSlim _pool = new(LockRecursionPolicy.NoRecursion);
    private readonly Stack<long> _free = new();
    // Segments of [caches, heads, blocks, BlockRows, headDim], block ids numbered across them. For in-place readers growing
    // adds a segment and copies nothing: a single tensor grown by copying stalled every step for seconds once the pool
    // held gigabytes (bench live at 2500 streaming performances: p99 2.3 s, one episode). A gathering reader keeps one
    // segment, where a gather of blocks along dim 2 gives each cache and head its performances' rows contiguous. Block 0 (zeros unless readsWrittenRowsOnly) is never
    // handed out.
    private volatile Segment[] _segments = [];
    private long _capacity;
    private long _handedOut = 1;
    private bool _disposed;

    private sealed record Segment(Tensor Blocks, long First, long Count);

    /// <summary>Native bytes of the pool.</summary>
    public long Bytes
    {
        get
        {
            lock (_gate) { return _segments.Sum(g => g.Blocks.numel()) * sizeof(float); }
        }
    }

    /// <summary>Gives every performance whose next row (at <paramref name="positions"/>) starts a new block that block.
    /// Call before <see cref="Reading"/>.</summary>
    public void Reserve(IReadOnlyList<List<long>> blockLists, IReadOnlyList<long> positions)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            for (var b = 0; b < blockLists.Count; b++)
            {
                if (positions[b] < blockLists[b].Count * (long)BlockRows) { continue; }
                if (_free.Count == 0) { EnsureCapacity(_handedOut + 1); }
                blockLists[b].Add(_free.Count > 0 ? _free.Pop() : _handedOut++);
            }
        }
    }

    /// <summary>Returns a finished performance's blocks to the pool (their rows are overwritten before they are read again;
    /// until then they hold finite values, so masked reads stay finite).</summary>
    public void Release(List<long> blocks)
    {
        lock (_gate)
        {
            foreach (var b in blocks) { _free.Push(b); }
            blocks.Clear();
        }
    }

    /// <summary>Holds the pool while a step reads and writes it (disposing the pool waits for it); dispose when the step's
    /// pool work ends.</summary>
    public ReadScope Reading()
    {
        _pool.EnterReadLock();
        return new ReadScope(_pool);
    }

    /// <summary>Rows 0..rows-1 of each performance as [caches, heads, B, rows, headDim], where <paramref name="table"/> lists
    /// rows / BlockRows block ids per performance (0 for blocks a shorter performance lacks: zeros). A copy, in the
    /// caller's dispose scope. Inside <see cref="Reading"/>; gathering pools only (one segment).</summary>
    public Tensor Gather(long[] table, long performances, long rows) =>
        Single().index_select(2, tensor(table, device: device)).view(caches, heads, performances, rows, headDim);

    /// <summary>Writes each performance's row ([caches, heads, B, headDim]) at (<paramref name="blocks"/>, <paramref name="offsets"/>).
    /// Inside <see cref="Reading"/>; performances of concurrent steps write disjoint blocks; gathering pools only.</summary>
    public void Write(long[] blocks, long[] offsets, Tensor rows) =>
        Single().index_put_(rows, TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Tensor(tensor(blocks, device: device)), TensorIndex.Tensor(tensor(offsets, device: device)));

    private Tensor Single() => !readsWrittenRowsOnly && _segments is [var only] ? only.Blocks
        : throw new InvalidOperationException("Gather and Write need a gathering pool (readsWrittenRowsOnly: false), which keeps one segment.");

    /// <summary>The pool's native memory (CPU only), valid while the caller holds <see cref="Reading"/>.</summary>
    public unsafe View Memory()
    {
        var segments = _segments;
        var starts = new SegmentMemory[segments.Length];
        for (var k = 0; k < segments.Length; k++)
        {
            var g = segments[k];
            if (g.Blocks.device_type != DeviceType.CPU) { throw new InvalidOperationException("The pool's memory is read in place on the CPU only."); }
            using var first = g.Blocks.select(0, 0).select(0, 0).select(0, 0);   // [BlockRows, headDim] at the segment's start
            starts[k] = new SegmentMemory((float*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(first.bytes)), g.First, g.Count);
        }
        return new View(starts, (int)heads, (int)headDim);
    }

    /// <summary>Where one segment's memory starts, its first block id and its block count.</summary>
    public readonly unsafe struct SegmentMemory(float* start, long first, long count)
    {
        /// <summary>The segment's first float.</summary>
        public float* Start => start;

        /// <summary>Its first block id.</summary>
        public long First => first;

        /// <summary>Its blocks.</summary>
        public long Count => count;
    }

    /// <summary>The pool's memory in place.</summary>
    public readonly unsafe struct View(SegmentMemory[] segments, int heads, int headDim)
    {
        /// <summary>Attention heads.</summary>
        public int Heads => heads;

        /// <summary>Values per head.</summary>
        public int HeadDim => headDim;

        /// <summary>The <see cref="BlockRows"/> rows of one head of block <paramref name="block"/> of cache <paramref name="cache"/>
        /// ([BlockRows · headDim] floats, row-major) in place.</summary>
        public Span<float> Block(int cache, int head, long block)
        {
            var k = segments.Length - 1;
            while (segments[k].First > block) { k--; }
            var g = segments[k];
            return new(g.Start + ((((((long)cache * heads) + head) * g.Count) + (block - g.First)) * BlockRows * headDim), BlockRows * headDim);
        }
    }

    private void EnsureCapacity(long blocksNeeded)
    {
        if (blocksNeeded <= _capacity) { return; }
        var added = Math.Max(Math.Max(InitialBlocks, blocksNeeded - _capacity), _capacity / 2);
        if (readsWrittenRowsOnly || _segments.Length == 0)
        {
            var blocks = readsWrittenRowsOnly
                ? empty([caches, heads, added, BlockRows, headDim], device: device)
                : zeros([caches, heads, added, BlockRows, headDim], device: device);
            _segments = [.. _segments, new Segment(blocks.DetachFromDisposeScope(), _capacity, added)];
            _capacity += added;
            return;
        }
        // A gathering reader: one segment, grown by copying while no step runs (a gather across segments measured 2.3x
        // slower per step, bench incremental --attention gather at batch 64: 1614 against 3304 clips/s), as on a GPU,
        // where the copy is fast.
        _pool.EnterWriteLock();
        try
        {
            var old = _segments[0].Blocks;
            var grown = zeros([caches, heads, _capacity + added, BlockRows, headDim], device: device).DetachFromDisposeScope();
            grown.narrow(2, 0, _capacity).copy_(old);
            old.Dispose();
            _capacity += added;
            _segments = [new Segment(grown, 0, _capacity)];
        }
        finally
        {
            _pool.ExitWriteLock();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) { return; }
            _disposed = true;
            _pool.EnterWriteLock();
            try
            {
                foreach (var g in _segments) { g.Blocks.Dispose(); }
                _segments = [];
            }
            finally
            {
                _pool.ExitWriteLock();
            }
        }
        _pool.Dispose();
    }

    /// <summary>A held read lock on the pool.</summary>
    public readonly struct ReadScope(ReaderWriterLockSlim pool) : IDisposable
    {
        /// <inheritdoc/>
        public void Dispose() => pool.ExitReadLock();
    }
}
