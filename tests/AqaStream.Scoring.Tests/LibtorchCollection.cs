using Xunit;

namespace AqaStream.Scoring.Tests;

/// <summary>
/// The test classes that run libtorch share one collection, so xUnit runs them one after another: libtorch's
/// intra-op thread pool splits a reduction by the threads it gets, and two trainings at once in one process get fewer
/// each, which moves the last bits and breaks the same-seed-same-weights checks. (A training process runs one training
/// at a time, so the product is deterministic; only a test process runs several.)
/// </summary>
[CollectionDefinition(Name)]
public sealed class LibtorchCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "libtorch";
}
