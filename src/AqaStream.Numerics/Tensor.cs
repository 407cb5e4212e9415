namespace AqaStream.Numerics;

/// <summary>
/// A dense row-major float32 tensor that can take part in reverse-mode autodiff.
/// Reshape shares <see cref="Data"/> with its source; every other op writes a new buffer.
/// </summary>
public sealed class Tensor
{
    private readonly Tensor[] _parents;
    private readonly Action<Tensor>? _backward;

    private Tensor(float[] data, int[] shape, bool requiresGrad, Tensor[] parents, Action<Tensor>? backward)
    {
        var length = ShapeLength(shape);
        if (data.Length != length)
        {
            throw new ArgumentException($"Data holds {data.Length} values but shape [{string.Join(", ", shape)}] needs {length}.");
        }
        Data = data;
        Shape = shape;
        RequiresGrad = requiresGrad;
        _parents = parents;
        _backward = backward;
    }

    /// <summary>The values, row-major.</summary>
    public float[] Data { get; }

    /// <summary>The dimensions, outermost first.</summary>
    public int[] Shape { get; }

    /// <summary>d(loss)/d(this) after <see cref="Backward"/>, or null when no gradient reached this tensor.</summary>
    public float[]? Grad { get; private set; }

    /// <summary>True for parameters and for every value computed from one while recording.</summary>
    public bool RequiresGrad { get; }

    /// <summary>Number of values.</summary>
    public int Length => Data.Length;

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>The size of the last dimension.</summary>
    public int LastDim => Shape.Length == 0 ? 1 : Shape[^1];

    /// <summary>The value of a one-element tensor.</summary>
    public float Item => Length == 1 ? Data[0] : throw new InvalidOperationException($"Item needs one value, the tensor has {Length}.");

    /// <summary>A constant (no gradient) tensor over existing data.</summary>
    public static Tensor FromData(float[] data, params int[] shape) => new(data, shape, false, [], null);

    /// <summary>A leaf that collects gradients: a model parameter.</summary>
    public static Tensor Parameter(float[] data, params int[] shape) => new(data, shape, true, [], null);

    /// <summary>A constant of zeros.</summary>
    public static Tensor Zeros(params int[] shape) => new(new float[ShapeLength(shape)], shape, false, [], null);

    /// <summary>A scalar constant.</summary>
    public static Tensor Scalar(float value) => new([value], [], false, [], null);

    /// <summary>Creates an op result; records the backward step only when a parent needs gradients.</summary>
    internal static Tensor Result(float[] data, int[] shape, Tensor[] parents, Action<Tensor> backward)
    {
        var record = Autograd.IsRecording && parents.Any(p => p.RequiresGrad);
        return record ? new Tensor(data, shape, true, parents, backward) : new Tensor(data, shape, false, [], null);
    }

    internal static float[] Alloc(int length) => TensorMemory.Rent(length, zeroed: false);

    internal static int ShapeLength(int[] shape)
    {
        var n = 1;
        foreach (var d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Negative dimension in shape [{string.Join(", ", shape)}].");
            }
            n = checked(n * d);
        }
        return n;
    }

    /// <summary>The gradient buffer, created as zeros on first use (ops accumulate into it). Leaves (parameters)
    /// own theirs; intermediate gradients come from <see cref="TensorMemory"/>.</summary>
    internal float[] GradBuffer() => Grad ??= _parents.Length == 0 ? new float[Length] : TensorMemory.Rent(Length, zeroed: true);

    /// <summary>Zeroes the gradient (parameters, between optimiser steps), keeping its buffer.</summary>
    public void ZeroGrad()
    {
        if (Grad is not null) { Array.Clear(Grad); }
    }

    /// <summary>Backpropagates from this scalar: fills <see cref="Grad"/> of every tensor it depends on.</summary>
    public void Backward()
    {
        if (Length != 1)
        {
            throw new InvalidOperationException($"Backward starts from a scalar; this tensor has {Length} values.");
        }
        if (!RequiresGrad)
        {
            throw new InvalidOperationException("This value does not depend on any parameter: nothing to differentiate.");
        }
        var order = TopologicalOrder();
        GradBuffer()[0] += 1f;
        for (var i = order.Count - 1; i >= 0; i--)
        {
            var node = order[i];
            if (node._backward is not null && node.Grad is not null)
            {
                node._backward(node);
            }
        }
        // Intermediate gradients are not needed once used; parameters (leaves) keep theirs.
        foreach (var node in order)
        {
            if (node._parents.Length > 0)
            {
                node.Grad = null;
            }
        }
    }

    private List<Tensor> TopologicalOrder()
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor Node, bool Expanded)>();
        stack.Push((this, false));
        while (stack.Count > 0)
        {
            var (node, expanded) = stack.Pop();
            if (expanded)
            {
                order.Add(node);
                continue;
            }
            if (!visited.Add(node))
            {
                continue;
            }
            stack.Push((node, true));
            foreach (var parent in node._parents)
            {
                if (parent.RequiresGrad && !visited.Contains(parent))
                {
                    stack.Push((parent, false));
                }
            }
        }
        return order;
    }

    /// <summary>A copy of the values detached from the graph.</summary>
    public Tensor Detach() => FromData((float[])Data.Clone(), (int[])Shape.Clone());

    /// <inheritdoc />
    public override string ToString() => $"Tensor[{string.Join(", ", Shape)}]";
}

/// <summary>Controls whether ops record the graph (training) or not (inference).</summary>
public static class Autograd
{
    [ThreadStatic]
    private static int t_noGradDepth;

    /// <summary>True unless inside a <see cref="NoGrad"/> scope on this thread.</summary>
    public static bool IsRecording => t_noGradDepth == 0;

    /// <summary>Inference scope: no graph, no saved activations.</summary>
    public static IDisposable NoGrad()
    {
        t_noGradDepth++;
        return new Scope();
    }

    private sealed class Scope : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                t_noGradDepth--;
            }
        }
    }
}
