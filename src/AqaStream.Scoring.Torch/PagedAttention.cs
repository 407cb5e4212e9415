using System.Buffers;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace AqaStream.Scoring.Torch;

/// <summary>
/// One-query attention that reads a <see cref="PagedKeyValueCache"/>'s blocks where they lie (CPU): for each performance
/// and head, the scores against its cached keys, a softmax, and the probability-weighted sum of its cached values, with
/// <c>TensorPrimitives</c> over each 16-row block. libtorch has no paged-attention operator on the CPU, and a
/// gather into a contiguous copy first moved every cached row three times per step (read, write, read again); this
/// reads each once. On other devices the decoder gathers instead.
/// </summary>
internal static class PagedAttention
{
    /// <summary>The rows of a contiguous float32 CPU tensor as a span over its native memory (no copy).</summary>
    public static Span<float> Floats(Tensor t) => MemoryMarshal.Cast<byte, float>(t.bytes);

    /// <summary>
    /// Each performance b's query (row b of <paramref name="queries"/> [B, H·dh]) attends to rows 0..lengths[b]−1 of
    /// cache <paramref name="keyCache"/> (keys) and cache <paramref name="keyCache"/>+1 (values) in its blocks
    /// (<paramref name="blocks"/>[b], <see cref="PagedKeyValueCache.BlockRows"/> rows each); the attended values go to
    /// <paramref name="output"/> [B, H·dh]. When <paramref name="map"/> is not empty, the head-averaged probabilities are
    /// written to its rows of <paramref name="mapStride"/> values (the rest of each row is left as it is).
    /// </summary>
    public static void Attend(PagedKeyValueCache.View pool, int keyCache, ReadOnlySpan<float> queries, IReadOnlyList<List<long>> blocks,
        long[] lengths, Span<float> output, Span<float> map, int mapStride)
    {
        var (heads, headDim) = (pool.Heads, pool.HeadDim);
        var d = heads * headDim;
        var scale = (float)(1 / Math.Sqrt(headDim));
        var longest = (int)lengths.Max();
        var rented = ArrayPool<float>.Shared.Rent(longest);
        try
        {
            for (var b = 0; b < lengths.Length; b++)
            {
                var n = (int)lengths[b];
                var table = blocks[b];
                var scores = rented.AsSpan(0, n);
                var mapRow = map.IsEmpty ? [] : map.Slice(b * mapStride, n);
                mapRow.Clear();
                for (var h = 0; h < heads; h++)
                {
                    var q = queries.Slice((b * d) + (h * headDim), headDim);
                    var o = output.Slice((b * d) + (h * headDim), headDim);
                    o.Clear();
                    for (var start = 0; start < n; start += PagedKeyValueCache.BlockRows)
                    {
                        var keys = pool.Block(keyCache, h, table[start / PagedKeyValueCache.BlockRows]);
                        for (var r = 0; r < PagedKeyValueCache.BlockRows && start + r < n; r++) { scores[start + r] = TensorPrimitives.Dot(keys.Slice(r * headDim, headDim), q) * scale; }
                    }
                    TensorPrimitives.SoftMax(scores, scores);
                    for (var start = 0; start < n; start += PagedKeyValueCache.BlockRows)
                    {
                        var values = pool.Block(keyCache + 1, h, table[start / PagedKeyValueCache.BlockRows]);
                        for (var r = 0; r < PagedKeyValueCache.BlockRows && start + r < n; r++) { TensorPrimitives.MultiplyAdd(values.Slice(r * headDim, headDim), scores[start + r], o, o); }
                    }
                    if (!mapRow.IsEmpty) { TensorPrimitives.MultiplyAdd(scores, 1f / heads, mapRow, mapRow); }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>Writes row b of <paramref name="rows"/> [B, H·dh] into cache <paramref name="cache"/> at
    /// (<paramref name="blockIds"/>[b], <paramref name="offsets"/>[b]), head by head.</summary>
    public static void Write(PagedKeyValueCache.View pool, int cache, ReadOnlySpan<float> rows, long[] blockIds, long[] offsets)
    {
        var (heads, headDim) = (pool.Heads, pool.HeadDim);
        var d = heads * headDim;
        for (var b = 0; b < blockIds.Length; b++)
        {
            for (var h = 0; h < heads; h++) { rows.Slice((b * d) + (h * headDim), headDim).CopyTo(pool.Block(cache, h, blockIds[b]).Slice((int)offsets[b] * headDim, headDim)); }
        }
    }
}
