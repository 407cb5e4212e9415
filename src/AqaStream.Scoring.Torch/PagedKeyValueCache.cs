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
/// Steps of disjoint performances may read and write at once (<see cref="Reading"/>); growing the pool waits for them.
/// </summary>
internal sealed class PagedKeyValueCache(long caches, long heads, long headDim, Device device) : IDisposable
{
    /// <summary>Rows per block: 16 keeps the waste per performance under 16 rows and a gather's index short.</summary>
    public const int BlockRows = 16;

    /// <summary>Blocks of the first pool; it grows by half (not doubling: the old and new pools coexist while copying).</summary>
    private const long InitialBlocks = 64;

    private readonly object _gate = new();
    private readonly ReaderWriterLockSlim _pool = new(LockRecursionPolicy.NoRecursion);
    private readonly Stack<long> _free = new();
    // [caches, heads, capacity, BlockRows, headDim]: a gather of blocks along dim 2 gives each cache and head its rows of
    // every performance contiguous ([B, rows, headDim]), which the attention reads as batched matrix-vector products.
    // Block 0 stays zeros and is never handed out.
    private Tensor? _blocks;
    private long _handedOut = 1;
    private bool _disposed;

    /// <summary>Native bytes of the pool.</summary>
    public long Bytes
    {
        get
        {
            lock (_gate) { return _blocks is null ? 0 : _blocks.numel() * sizeof(float); }
        }
    }

    /// <summary>Gives every performance whose next row (at <paramref name="positions"/>) starts a new block that block.
    /// Call before <see cref="Reading"/>: growing the pool waits for every step in progress.</summary>
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

    /// <summary>Holds the pool in place while a step reads and writes it; dispose when the step's pool work ends.</summary>
    public ReadScope Reading()
    {
        _pool.EnterReadLock();
        return new ReadScope(_pool);
    }

    /// <summary>Rows 0..rows-1 of each performance as [caches, heads, B, rows, headDim], where <paramref name="table"/> lists
    /// rows / BlockRows block ids per performance (0 for blocks a shorter performance lacks: zeros). A copy, in the
    /// caller's dispose scope. Inside <see cref="Reading"/>.</summary>
    public Tensor Gather(long[] table, long performances, long rows) =>
        _blocks!.index_select(2, tensor(table, device: device)).view(caches, heads, performances, rows, headDim);

    /// <summary>Writes each performance's row ([caches, heads, B, headDim]) at (<paramref name="blocks"/>, <paramref name="offsets"/>).
    /// Inside <see cref="Reading"/>; performances of concurrent steps write disjoint blocks.</summary>
    public void Write(long[] blocks, long[] offsets, Tensor rows) =>
        _blocks!.index_put_(rows, TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Tensor(tensor(blocks, device: device)), TensorIndex.Tensor(tensor(offsets, device: device)));

    private void EnsureCapacity(long blocksNeeded)
    {
        var capacity = _blocks?.shape[2] ?? 0;
        if (blocksNeeded <= capacity) { return; }
        var grown = Math.Max(Math.Max(InitialBlocks, blocksNeeded), capacity + (capacity / 2));
        _pool.EnterWriteLock();
        try
        {
            var next = zeros([caches, heads, grown, BlockRows, headDim], device: device).DetachFromDisposeScope();
            if (_blocks is not null)
            {
                next.narrow(2, 0, capacity).copy_(_blocks);
                _blocks.Dispose();
            }
            _blocks = next;
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
                _blocks?.Dispose();
                _blocks = null;
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
