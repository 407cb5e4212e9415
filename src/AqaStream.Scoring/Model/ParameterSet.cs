using AqaStream.Numerics;

namespace AqaStream.Scoring.Model;

/// <summary>A model's parameters by name, in registration order; names mirror a PyTorch <c>state_dict</c>.</summary>
public sealed class ParameterSet
{
    private readonly List<KeyValuePair<string, Tensor>> _ordered = [];
    private readonly Dictionary<string, Tensor> _byName = new(StringComparer.Ordinal);

    /// <summary>The parameters in registration order.</summary>
    public IReadOnlyList<KeyValuePair<string, Tensor>> All => _ordered;

    /// <summary>The parameter with this name.</summary>
    public Tensor this[string name] => _byName.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"No parameter named '{name}'.");

    /// <summary>Bumped whenever values change (optimiser step, checkpoint load): caches derived from weights check it.</summary>
    public long Version { get; private set; }

    /// <summary>Records that parameter values changed. Code that writes parameter data directly must call it.</summary>
    public void MarkChanged() => Version++;

    /// <summary>Number of scalar values over all parameters.</summary>
    public long Count => _ordered.Sum(p => (long)p.Value.Length);

    /// <summary>Adds a parameter.</summary>
    public Tensor Add(string name, float[] data, params int[] shape)
    {
        var t = Tensor.Parameter(data, shape);
        _ordered.Add(new(name, t));
        _byName.Add(name, t);
        return t;
    }

    /// <summary>Whether a parameter has this name.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Clears every gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, t) in _ordered) { t.ZeroGrad(); }
    }
}
