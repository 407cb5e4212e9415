using System.Runtime.CompilerServices;

namespace AqaStream.Cli.Tests;

internal static class TestSetup
{
    /// <summary>As <c>aqa</c> does at start: the libtorch checkpoint formats load in this process too (tests read the
    /// checkpoints the child processes write).</summary>
    [ModuleInitializer]
    internal static void RegisterTorchFormats() => Scoring.Torch.TorchFormats.Register();
}
