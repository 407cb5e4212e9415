using System.Runtime.CompilerServices;

namespace AqaStream.Scoring.Tests;

internal static class TestSetup
{
    /// <summary>As the program does at start: the libtorch checkpoint formats (the decoder, the sequence methods) load.</summary>
    [ModuleInitializer]
    internal static void RegisterTorchFormats() => Torch.TorchFormats.Register();
}
