using Xunit;

namespace AqaStream.Numerics.Tests;

/// <summary>The process-wide buffer pool: nothing else may run while these tests look at it, so they have a
/// collection of their own that xunit runs alone (after the parallel ones).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWidePoolCollection
{
    public const string Name = "process-wide TensorMemory pool";
}

[Collection(ProcessWidePoolCollection.Name)]
public class TensorMemoryTests
{
    [Fact]
    public void TensorMemory_Scope_RecyclesBuffersOfRepeatedShapes()
    {
        TensorMemory.Trim();
        var x = Tensor.FromData(new float[4096], 64, 64);
        float[] first;
        using (TensorMemory.Scope())
        {
            first = Ops.Scale(x, 2f).Data;
        }
        Assert.True(TensorMemory.PooledFloats >= 4096);
        using (TensorMemory.Scope())
        {
            Assert.Same(first, Ops.Scale(x, 3f).Data);
        }
        Assert.NotSame(first, Ops.Scale(x, 3f).Data);
    }
}
